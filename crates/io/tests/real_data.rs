//! Tests against the real files in `shared/data`, read by path through `shared_data_dir`.

use std::path::PathBuf;
use xisuan_catalog::{Catalog, Provider, SeriesKind};
use xisuan_io::{add_cost_matrix, add_series, load_catalog, shared_data_dir};
use xisuan_model::Severity;

fn data(rel: &str) -> PathBuf {
    let dir = shared_data_dir().expect("shared/data not found; set XISUAN_DATA_DIR");
    dir.join(rel)
}

#[test]
fn green_dcc_wide_lca_file_gives_8760_hours_for_all_16_zones() {
    let path = data("green_dcc/wide_2023_hourly_ci_lca_gco2_per_kwh.csv");
    let cat = load_catalog(None, &[path], &[]).unwrap();
    assert_eq!(cat.series.carbon.len(), 16);
    for (zone, s) in &cat.series.carbon {
        // 365 days × 24 h = 8,760 hours, all present, starting 2023-01-01T00:00Z
        // (unix 1,672,531,200 s / 3,600 = hour 464,592).
        assert_eq!(s.values.len(), 8760, "{zone}");
        assert_eq!(s.present(), 8760, "{zone}");
        assert_eq!(s.start, 464_592, "{zone}");
    }
    // The first row of the file: DE-LU 185.8, SG 495.76 at 2023-01-01 00:00.
    assert_eq!(cat.series.carbon["DE-LU"].values[0], Some(185.8));
    assert_eq!(cat.series.carbon["SG"].values[0], Some(495.76));
    // Every green-dcc zone but New York reaches a site.
    let eu = cat.site("aws-eu-central-1").unwrap();
    assert!(cat.series_for_site(eu).0.is_some());
    let zw = cat.site("edwc-zhongwei").unwrap();
    let (none, diag) = cat.series_for_site(zw);
    assert!(none.is_none());
    assert!(diag.unwrap().message.contains("China publishes annual provincial factors only"));
}

#[test]
fn zone_table_matches_site_grid_zones() {
    let mut cat = Catalog::builtin();
    add_series(&mut cat, &data("green_dcc/wide_2023_hourly_ci_lca_gco2_per_kwh.csv"), SeriesKind::Carbon).unwrap();
    for (zone, sites) in xisuan_catalog::builtin::zones::GREEN_DCC_ZONES {
        assert!(cat.series.carbon.contains_key(*zone), "{zone}");
        for id in *sites {
            let site = cat.site(id).unwrap_or_else(|| panic!("{id}"));
            let (s, _) = cat.series_for_site(site);
            assert_eq!(s.map(|s| s.zone.as_str()), Some(*zone), "{id}");
        }
    }
}

#[test]
fn malformed_row_in_a_copy_is_reported_with_its_line() {
    let text = std::fs::read_to_string(data("green_dcc/wide_2023_hourly_ci_lca_gco2_per_kwh.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().take(6).map(str::to_string).collect();
    // Line 4 of the file (the third data row) gets a bad DE-LU value (7th column).
    let mut cells: Vec<String> = lines[3].split(',').map(str::to_string).collect();
    cells[6] = "123x".to_string();
    lines[3] = cells.join(",");
    let dir = std::env::temp_dir().join(format!("xisuan-io-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad_wide.csv");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let cat = load_catalog(None, std::slice::from_ref(&path), &[]).unwrap();
    let d = cat
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Error && d.location.ends_with("bad_wide.csv:4"))
        .unwrap_or_else(|| panic!("{:#?}", cat.diagnostics));
    assert!(d.message.contains("field `DE-LU`") && d.message.contains("123x"), "{d}");
    // Five data rows, one skipped: hour 2 is missing for every zone and reported.
    assert_eq!(cat.series.carbon["DE-LU"].values.len(), 5);
    assert_eq!(cat.series.carbon["DE-LU"].values[2], None);
    assert!(cat.diagnostics.iter().any(|d| d.message.contains("1 of 5 hours missing (first 2023-01-01T02:00Z)")));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn lets_wait_awhile_files_average_to_hours() {
    let cat = load_catalog(None, &[data("lets_wait_awhile/ger_ci.csv"), data("lets_wait_awhile/fr_ci.csv")], &[]).unwrap();
    let de = &cat.series.carbon["DE"];
    // 2019-12-20 00:00 to 2021-01-09 23:00 UTC is 387 days = 9,288 hours.
    assert_eq!(de.values.len(), 9288);
    // First hour: mean of the four 15-minute samples of 2019-12-20 00:00..00:45.
    let first4 = [218.29003068829462, 217.8834341330206, 217.49442613204167];
    let text = std::fs::read_to_string(data("lets_wait_awhile/ger_ci.csv")).unwrap();
    let fourth: f64 = text.lines().nth(4).unwrap().split(',').nth(1).unwrap().parse().unwrap();
    let mean = (first4.iter().sum::<f64>() + fourth) / 4.0;
    assert!((de.values[0].unwrap() - mean).abs() < 1e-9);
    // The German file feeds DE-LU sites through the zone alias.
    let site = cat.site("gcp-europe-west3").unwrap();
    assert_eq!(cat.series_for_site(site).0.unwrap().zone, "DE");
    assert!(cat.series.carbon.contains_key("FR"));
}

#[test]
fn price_series_load_for_22_zones() {
    let cat = load_catalog(None, &[], &[data("green_dcc/wide_2023_hourly_price_usd_per_mwh.csv")]).unwrap();
    assert_eq!(cat.series.price.len(), 22);
    let s = cat.site("gcp-europe-west9").unwrap();
    assert!(cat.series.price_series_for_site(s).0.is_some());
}

#[test]
fn typed_in_egress_rules_agree_with_the_green_dcc_matrices() {
    let base = Catalog::builtin();
    for (file, provider) in [
        ("green_dcc/network_cost/aws_transmission_cost_matrix.csv", Provider::Aws),
        ("green_dcc/network_cost/gcp_transmission_cost_matrix.csv", Provider::Gcp),
        ("green_dcc/network_cost/azure_transmission_cost_matrix.csv", Provider::Azure),
    ] {
        let mut cat = base.clone();
        let n = add_cost_matrix(&mut cat, &data(file), provider).unwrap();
        assert!(n > 100, "{file}: {n}");
        for link in &cat.network.links {
            let (a, b) = (base.site(link.a.as_str()).unwrap(), base.site(link.b.as_str()).unwrap());
            let rule = base.network.price_per_gb(a, b).value;
            let matrix = link.usd_per_gb.as_ref().unwrap().value;
            assert!((rule - matrix).abs() < 1e-12, "{file}: {} -> {}: rule {rule}, matrix {matrix}", a.id, b.id);
        }
    }
}

/// One price model: a site's hourly prices and carbon are the same whether the world comes
/// from a scenario file (`xisuan plan`, `simulate --scenario`) or from flags (`simulate
/// --sites`), for the same window of the real 2023 series.
#[test]
fn plan_and_simulate_price_a_site_the_same_way() {
    let carbon = data("green_dcc/wide_2023_hourly_ci_lca_gco2_per_kwh.csv");
    let price = data("green_dcc/wide_2023_hourly_price_usd_per_mwh.csv");
    let sites = ["aws-eu-central-1", "aws-us-east-1", "azure-canadacentral"];
    let text = format!(
        "[scenario]\nname = \"p\"\nstart = \"2023-06-01T00:00:00Z\"\nhours = 48\n[catalog]\nsites = {sites:?}\ncarbon_series = [{:?}]\nprice_series = [{:?}]\n",
        carbon.display().to_string(),
        price.display().to_string()
    );
    let sc = xisuan_io::scenario::from_text(&text, "p.toml", std::path::Path::new(".")).unwrap();
    let dir = std::env::temp_dir().join(format!("xisuan-price-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("t.csv");
    std::fs::write(&trace, "id,arrival_h,duration_h,gpus\na,0,1,1\n").unwrap();
    let spec = xisuan_io::simulation::SimSpec {
        trace: Some(trace),
        time_unit: "auto".into(),
        sites: sites.iter().map(|s| s.to_string()).collect(),
        carbon_series: vec![carbon],
        price_series: vec![price],
        start: Some("2023-06-01".into()),
        hours: Some(24),
        max_wait: "6x24".into(),
        tokens_per_gpu_s: 5000.0,
        ..Default::default()
    };
    let built = xisuan_io::simulation::build(&spec).unwrap();
    for (i, s) in sc.problem.sites.iter().enumerate() {
        let w = &built.world.sites[i];
        assert_eq!(w.id, s.id);
        // The simulator's series start at the same hour; compare the hours both cover.
        let n = s.usd_per_kwh.len().min(w.usd_per_kwh.len());
        for t in 0..n {
            assert!((s.usd_per_kwh[t] - w.usd_per_kwh[t]).abs() < 1e-12, "{} price hour {t}: {} vs {}", s.id, s.usd_per_kwh[t], w.usd_per_kwh[t]);
            assert!((s.kg_per_kwh[t] - w.kg_per_kwh[t]).abs() < 1e-12, "{} carbon hour {t}", s.id);
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
