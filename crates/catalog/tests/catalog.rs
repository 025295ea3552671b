//! Behaviour of the pure catalog: built-in contents, name resolution, the TOML overlay and
//! its errors, and the transfer arithmetic (each expected number worked out in a comment).

use xisuan_catalog::{Catalog, CatalogError, PricingBasis, PricingChoice, Provider, Role, TransferOptions};
use xisuan_model::{Bytes, Confidence, Gbps};

#[test]
fn builtin_has_ten_edwc_clusters_and_over_a_hundred_cloud_regions() {
    let cat = Catalog::builtin();
    let edwc: Vec<_> = cat.sites.iter().filter(|s| s.provider == Provider::Edwc).collect();
    assert_eq!(edwc.len(), 10);
    assert_eq!(edwc.iter().filter(|s| s.role == Role::WestComputeHub).count(), 4);
    assert_eq!(edwc.iter().filter(|s| s.role == Role::EastDemandHub).count(), 6);
    let cloud = cat.sites.iter().filter(|s| s.role == Role::CloudRegion).count();
    assert!(cloud >= 100, "{cloud}");
    for p in [Provider::Aws, Provider::Azure, Provider::Gcp, Provider::Alibaba] {
        assert!(cat.sites.iter().filter(|s| s.provider == p).count() >= 20, "{p}");
    }
    // Ids are unique, every value has a non-empty source, capacities are illustrative.
    let mut ids: Vec<_> = cat.sites.iter().map(|s| s.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), cat.sites.len());
    for s in &cat.sites {
        assert!(!s.carbon_annual.source.is_empty() && !s.price_annual.source.is_empty() && !s.pue.source.is_empty(), "{}", s.id);
        assert!((1.0..=3.0).contains(&s.pue.value), "{}", s.id);
        assert!(s.capacity.values().all(|c| c.confidence == Confidence::Illustrative), "{}", s.id);
    }
    // Every Chinese site carries the note that only annual factors exist.
    let cn = cat.sites.iter().filter(|s| s.country == "CN").count();
    let notes = cat.diagnostics.iter().filter(|d| d.message.starts_with("China publishes annual provincial factors only")).count();
    assert_eq!(cn, notes);
    assert!(cat.user_regions.len() >= 40);
}

#[test]
fn zhongwei_facts_are_the_typed_in_ones() {
    let cat = Catalog::builtin();
    let z = cat.site("edwc-zhongwei").unwrap();
    // MEE/NBS Ningxia 2022: 0.6423 tCO2/MWh = 0.6423 kg/kWh; west-hub PUE ceiling 1.2.
    assert_eq!(z.carbon_annual.value.0, 0.6423);
    assert_eq!(z.pue.value, 1.2);
    assert_eq!((z.lat, z.lon), (37.51, 105.19));
    // GCP factors come from the 2023 file: europe-west1 (Belgium) 122 g/kWh, CFE 0.82.
    let b = cat.site("gcp-europe-west1").unwrap();
    assert!((b.carbon_annual.value.g_per_kwh() - 122.0).abs() < 1e-9);
    assert_eq!(b.low_carbon_share.as_ref().unwrap().value, 0.82);
}

#[test]
fn names_resolve_to_sites_or_nearest_site_of_a_city() {
    let cat = Catalog::builtin();
    assert_eq!(cat.resolve("edwc-zhongwei").unwrap().site.id.as_str(), "edwc-zhongwei");
    assert_eq!(cat.resolve("Zhongwei").unwrap().site.id.as_str(), "edwc-zhongwei");
    assert_eq!(cat.resolve("guian").unwrap().site.id.as_str(), "edwc-guian");
    let r = cat.resolve("Frankfurt").unwrap();
    // Several regions sit at Frankfurt's centre; whichever is first, it is 0 km away.
    assert_eq!(r.site.country, "DE");
    let (city, km) = r.via_city.clone().unwrap();
    assert_eq!(city, "Frankfurt");
    assert!(km < 1.0);
    assert!(r.describe().contains("Frankfurt → nearest site"));
    match cat.resolve("atlantis") {
        Err(CatalogError::UnknownSite { name, .. }) => assert_eq!(name, "atlantis"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn overlay_overrides_and_adds_sites_links_and_regions() {
    let mut cat = Catalog::builtin();
    let text = r#"
[[sites]]
id = "edwc-zhongwei"
pue = 1.15
pue_kind = "measured"
pue_source = "operator report"
capacity = { h20 = 2048 }

[[sites]]
id = "my-dc"
lat = 30.5
lon = 114.3
carbon_g_per_kwh = 527.1
price_cny_per_kwh = 0.708
pue = 1.3

[[links]]
from = "edwc-yrd"
to = "zhongwei"
bandwidth_gbps = 100
cny_per_gbps_month = 7080
source = "carrier quote"

[[user_regions]]
name = "Wuxi"
lat = 31.49
lon = 120.31
weight = 7.5
"#;
    cat.merge_toml(text, "sites.toml").unwrap();
    let z = cat.site("edwc-zhongwei").unwrap();
    assert_eq!(z.pue.value, 1.15);
    assert_eq!(z.pue.confidence, Confidence::User);
    assert!(z.pue.source.contains("operator report (sites.toml:4)"), "{}", z.pue.source);
    assert_eq!(z.capacity["h20"].value, 2048);
    assert_eq!(z.capacity["ascend-910b"].value, 8192); // untouched built-in entry
    let mine = cat.site("my-dc").unwrap();
    // 0.708 CNY/kWh / 7.08 CNY/USD = 0.1 USD/kWh.
    assert!((mine.price_annual.value.0 - 0.1).abs() < 1e-12);
    assert_eq!(mine.role, Role::UserDefined);
    // The link's 100 Gbit/s and 7,080 CNY = 1,000 USD per Gbps-month now apply.
    let (a, b) = (cat.site("edwc-yrd").unwrap(), cat.site("edwc-zhongwei").unwrap());
    assert_eq!(cat.network.bandwidth(a, b).value, Gbps(100.0));
    assert!((cat.network.leased_line(a, b).unwrap().value - 1000.0).abs() < 1e-9);
    assert!(cat.city("wuxi").is_some());
}

fn err(text: &str) -> String {
    let mut cat = Catalog::builtin();
    let before = cat.clone();
    let e = cat.merge_toml(text, "sites.toml").unwrap_err().to_string();
    assert_eq!(cat, before, "a failed merge changes nothing");
    e
}

#[test]
fn overlay_errors_name_file_line_and_field() {
    let four = "[[sites]]\nid = \"edwc-yrd\"\n\n[[sites]]\nid = \"edwc-wuhu\"\n\n[[sites]]\nid = \"edwc-zhongwei\"\n\n[[sites]]\nid = \"edwc-guian\"\npue = 0.8\n";
    // The fourth entry (index 3) is on lines 10-12; `pue = 0.8` is line 12.
    assert_eq!(err(four), "sites.toml:12: sites[3].pue: must be between 1.0 and 3.0, got 0.8");
    let unknown = "[[sites]]\nid = \"edwc-yrd\"\npue_x = 1.2\n";
    let e = err(unknown);
    assert!(e.starts_with("sites.toml:3: sites[0].pue_x: unknown field `pue_x`"), "{e}");
    let wrong_type = "[[sites]]\nid = \"edwc-yrd\"\nlat = \"north\"\n";
    let e = err(wrong_type);
    assert!(e.starts_with("sites.toml:3: sites[0].lat:"), "{e}");
    let new_site = "[[sites]]\nid = \"new-site\"\nlat = 1.0\n";
    assert_eq!(err(new_site), "sites.toml:2: sites[0].lon: required for a new site `new-site` (it is not in the built-in catalog)");
    let bad_link = "[[links]]\nfrom = \"edwc-yrd\"\nto = \"nowhere\"\n";
    let e = err(bad_link);
    assert!(e.starts_with("sites.toml:3: links[0].to: unknown site or city `nowhere`"), "{e}");
    let bad_id = "[[sites]]\nid = \"Bad Id\"\n";
    assert!(err(bad_id).starts_with("sites.toml:2: sites[0].id:"));
    let syntax = "[[sites]\nid = 1\n";
    assert!(err(syntax).starts_with("sites.toml:1:"));
}

#[test]
fn transfer_arithmetic_per_gb_and_leased_line() {
    let cat = Catalog::builtin();
    let opts = TransferOptions::default();
    // 45 TB from the YRD zone to Zhongwei at the default 10 Gbit/s × 0.8:
    // 45e12 B × 8 = 3.6e14 bit; / 8e9 bit/s = 45,000 s = 12.5 h.
    let (t, _, _) = cat.transfer(Bytes(45e12), "edwc-yrd", "edwc-zhongwei", &opts).unwrap();
    assert!((t.time.0 - 12.5).abs() < 1e-9);
    // Public network: 45,000 GB × 0.26 CNY/GB / 7.08 CNY/USD = 1,652.54 USD.
    // Leased line: 10,000 CNY / 7.08 = 1,412.43 USD per Gbps-month × 10 Gbit/s × 1 month
    // = 14,124.29 USD. Auto picks the cheaper, the per-GB price.
    assert!(matches!(t.pricing.basis, PricingBasis::PerGb { .. }));
    assert!((t.cost.0 - 45_000.0 * 0.26 / 7.08).abs() < 1e-6);
    let line = &t.alternatives[0];
    assert!((line.cost.0 - 10_000.0 / 7.08 * 10.0).abs() < 1e-6);
    // Latency: 1,621.8 km × 2 × 1.5 / 200,000 km/s ≈ 24.33 ms (the policy-cap column of
    // shared/data/edwc/edwc_estimated_latency_matrix.csv says 24.33).
    assert!((t.latency.value.0 - 24.33).abs() < 0.05, "{}", t.latency.value.0);

    // 450 TB at 10 Gbit/s × 0.8 = 450,000 s = 125 h: still one month of line (125 < 730),
    // so the line costs the same 14,124.29 USD while per GB costs 16,525.42 USD; auto picks
    // the line.
    let (t, _, _) = cat.transfer(Bytes(450e12), "edwc-yrd", "edwc-zhongwei", &opts).unwrap();
    assert!((t.time.0 - 125.0).abs() < 1e-9);
    assert!(matches!(t.pricing.basis, PricingBasis::LeasedLine { months_billed, .. } if months_billed == 1.0));
    assert!((t.cost.0 - 14_124.293_785).abs() < 1e-3);

    // A user bandwidth and efficiency: 1 TB at 1 Gbit/s × 0.5 = 8e12 / 5e8 = 16,000 s.
    let opts = TransferOptions { bandwidth: Some(Gbps(1.0)), efficiency: Some(0.5), pricing: PricingChoice::PerGb };
    let (t, _, _) = cat.transfer(Bytes(1e12), "aws-us-east-1", "aws-eu-central-1", &opts).unwrap();
    assert!((t.time.seconds() - 16_000.0).abs() < 1e-6);
    // AWS us-east-1 → eu-central-1: 0.02 USD/GB × 1,000 GB = 20 USD.
    assert!((t.cost.0 - 20.0).abs() < 1e-9);
    assert_eq!(t.bandwidth.confidence, Confidence::User);
}

#[test]
fn a_one_way_price_does_not_price_the_way_back() {
    let mut cat = Catalog::builtin();
    let both = cat.clone();
    cat.merge_toml("[[links]]\nfrom = \"edwc-yrd\"\nto = \"edwc-zhongwei\"\nusd_per_gb = 0.5\nboth_directions = false\n", "links.toml").unwrap();
    let (a, b) = (cat.site("edwc-yrd").unwrap(), cat.site("edwc-zhongwei").unwrap());
    assert_eq!(cat.network.price_per_gb(a, b).value, 0.5);
    // The way back keeps the built-in egress rule, as if no link had been given.
    let (a0, b0) = (both.site("edwc-yrd").unwrap(), both.site("edwc-zhongwei").unwrap());
    assert_eq!(cat.network.price_per_gb(b, a).value, both.network.price_per_gb(b0, a0).value);
    assert_ne!(cat.network.price_per_gb(b, a).value, 0.5);
}

/// A site may name the cluster that runs its work; each kind takes what it needs, and a
/// mistake is one error naming the file, line and field.
#[test]
fn sites_name_their_clusters_and_mistakes_say_where() {
    let mut cat = Catalog::builtin();
    let text = "[[sites]]\nid = \"edwc-yrd\"\ndispatch = { kind = \"slurm\", conf = \"alpha/slurm.conf\", partition = \"gpu\" }\n\n[[sites]]\nid = \"edwc-guian\"\ndispatch = { kind = \"slurmrest\", url = \"http://127.0.0.1:6820/\", token = \"/run/jwt\" }\n";
    cat.merge_toml(text, "conf/sites.toml").unwrap();
    assert_eq!(
        cat.site("edwc-yrd").unwrap().dispatch,
        Some(xisuan_catalog::Dispatch::Slurm { conf: "alpha/slurm.conf".into(), partition: Some("gpu".into()), origin: "conf/sites.toml".into() })
    );
    assert_eq!(
        cat.site("edwc-guian").unwrap().dispatch,
        Some(xisuan_catalog::Dispatch::Slurmrest {
            url: "http://127.0.0.1:6820".into(),
            token: "/run/jwt".into(),
            partition: None,
            version: None,
            origin: "conf/sites.toml".into()
        })
    );
    assert_eq!(cat.site("edwc-wuhu").unwrap().dispatch, None);
    cat.merge_toml(
        "[[sites]]\nid = \"edwc-wuhu\"\ndispatch = { kind = \"kubernetes\", url = \"http://127.0.0.1:8001\", namespace = \"train\", queue = \"\" }\n",
        "k.toml",
    )
    .unwrap();
    assert_eq!(
        cat.site("edwc-wuhu").unwrap().dispatch,
        Some(xisuan_catalog::Dispatch::Kubernetes {
            url: "http://127.0.0.1:8001".into(),
            namespace: Some("train".into()),
            queue: Some(String::new()),
            image: None,
            origin: "k.toml".into()
        })
    );
    let site = |d: &str| format!("[[sites]]\nid = \"edwc-yrd\"\ndispatch = {d}\n");
    for (d, want) in [
        ("{ kind = \"k8s\" }", "sites.toml:3: sites[0].dispatch.kind: unknown kind `k8s` (known: slurm, slurmrest, kubernetes)"),
        ("{ kind = \"slurm\" }", "sites.toml:3: sites[0].dispatch.conf: required for kind = \"slurm\" (the cluster's slurm.conf)"),
        ("{ kind = \"slurm\", conf = \"a.conf\", token = \"t\" }", "sites.toml:3: sites[0].dispatch.token: not used by kind = \"slurm\""),
        (
            "{ kind = \"slurmrest\", url = \"ftp://x\", token = \"t\" }",
            "sites.toml:3: sites[0].dispatch.url: `ftp://x` is not an http:// or https:// address",
        ),
        (
            "{ kind = \"slurmrest\", url = \"http://x\" }",
            "sites.toml:3: sites[0].dispatch.token: required for kind = \"slurmrest\" (a file holding the JWT from `scontrol token`)",
        ),
        ("{ kind = \"slurm\", conf = \" \" }", "sites.toml:3: sites[0].dispatch.conf: must not be empty"),
        (
            "{ kind = \"kubernetes\", url = \"http://x\", partition = \"p\" }",
            "sites.toml:3: sites[0].dispatch.partition: not used by kind = \"kubernetes\"",
        ),
        ("{ kind = \"slurm\", conf = \"a\", queue = \"q\" }", "sites.toml:3: sites[0].dispatch.queue: not used by kind = \"slurm\""),
    ] {
        assert_eq!(err(&site(d)), want);
    }
    assert!(err(&site("{ kind = \"slurm\", conf = \"a\", nodes = 3 }")).contains("unknown field `nodes`"));
}
