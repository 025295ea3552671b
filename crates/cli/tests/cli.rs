//! End-to-end tests of the `xisuan` binary: `sites` and `transfer`, their JSON, and the
//! exit code 2 with a one-line message for bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

fn xisuan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xisuan")).args(args).output().expect("run xisuan")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn data(rel: &str) -> PathBuf {
    xisuan_io::shared_data_dir().expect("shared/data").join(rel)
}

fn tmp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xisuan-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn sites_json_lists_all_edwc_clusters_and_100_cloud_regions_with_sources() {
    let o = xisuan(&["sites", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let sites = v["sites"].as_array().unwrap();
    let edwc: Vec<&str> = sites.iter().filter(|s| s["provider"] == "edwc").map(|s| s["id"].as_str().unwrap()).collect();
    for id in [
        "edwc-zhangjiakou",
        "edwc-yrd",
        "edwc-wuhu",
        "edwc-shaoguan",
        "edwc-tianfu",
        "edwc-chongqing",
        "edwc-horinger",
        "edwc-guian",
        "edwc-qingyang",
        "edwc-zhongwei",
    ] {
        assert!(edwc.contains(&id), "{id}");
    }
    let cloud = sites.iter().filter(|s| s["role"] == "cloud_region").count();
    assert!(cloud >= 100, "{cloud}");
    // Every data value is an object with value, source and confidence.
    for s in sites {
        for field in ["carbon_annual", "price_annual", "pue"] {
            let f = &s[field];
            assert!(f["value"].is_number(), "{} {field}", s["id"]);
            assert!(!f["source"].as_str().unwrap().is_empty(), "{} {field}", s["id"]);
            assert!(f["confidence"].is_string(), "{} {field}", s["id"]);
        }
        for (_, c) in s["capacity"].as_object().unwrap() {
            assert_eq!(c["confidence"], "illustrative");
        }
        for (_, p) in s["gpu_hour_price"].as_object().unwrap() {
            assert!(p["source"].is_string() && p["confidence"].is_string());
        }
        assert!(s["location_source"].is_string() && s["location_confidence"].is_string());
        assert!(s["pue_kind"].is_string());
    }
    let zw = sites.iter().find(|s| s["id"] == "edwc-zhongwei").unwrap();
    assert!(zw["hourly_carbon"].is_null());
    assert!(zw["notes"][0].as_str().unwrap().contains("China publishes annual provincial factors only"));
}

#[test]
fn sites_table_filters_by_role_and_shows_hourly_series() {
    let lca = data("green_dcc/wide_2023_hourly_ci_lca_gco2_per_kwh.csv");
    let o = xisuan(&["sites", "--provider", "aws", "--carbon-series", lca.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let line = out.lines().find(|l| l.starts_with("aws-eu-central-1 ")).unwrap();
    assert!(line.contains("yes DE-LU"), "{line}");
    assert!(!out.contains("gcp-"));
    let o = xisuan(&["sites", "--role", "west"]);
    let out = stdout(&o);
    assert_eq!(out.lines().filter(|l| l.starts_with("edwc-")).count(), 4);
    assert!(out.contains("China publishes annual provincial factors only"));
}

#[test]
fn transfer_prints_time_cost_and_assumptions() {
    // 45 TB at 10 Gbit/s × 0.8 = 45,000 s = 12.50 h; 45,000 GB × 0.26 CNY / 7.08 = 1,653 USD.
    let o = xisuan(&["transfer", "--from", "edwc-yrd", "--to", "zhongwei", "--size", "45TB"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("time:        12.50 h"), "{out}");
    assert!(out.contains("cost:        1,653 USD  (per GB)"), "{out}");
    assert!(out.contains("leased line"), "{out}");
    // A city resolves to its nearest site, and the output says so.
    let o = xisuan(&["transfer", "--from", "Shanghai", "--to", "edwc-guian", "--size", "570GB", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["from_resolved"].as_str().unwrap().starts_with("Shanghai → nearest site"));
    // 570 GB at 10 Gbit/s × 0.8 = 4.56e12 bit / 8e9 = 570 s = 0.1583 h.
    assert!((v["time"].as_f64().unwrap() - 570.0 / 3600.0).abs() < 1e-9);
    assert!(v["pricing"]["source"].is_string() && v["bandwidth"]["confidence"] == "illustrative");
    // User bandwidth: 1 TB at 100 Gbit/s × 1.0 = 8e12 / 1e11 = 80 s.
    let o = xisuan(&[
        "transfer",
        "--from",
        "aws-us-east-1",
        "--to",
        "aws-eu-central-1",
        "--size",
        "1TB",
        "--bandwidth-gbps",
        "100",
        "--efficiency",
        "1",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!((v["time"].as_f64().unwrap() * 3600.0 - 80.0).abs() < 1e-9);
    // 1,000 GB × 0.02 USD/GB = 20 USD.
    assert!((v["cost"].as_f64().unwrap() - 20.0).abs() < 1e-9);
}

#[test]
fn bad_input_exits_2_with_one_line_naming_file_line_field() {
    let toml = tmp("sites.toml", "[[sites]]\nid = \"edwc-yrd\"\n\n[[sites]]\nid = \"edwc-guian\"\npue = 0.8\n");
    let o = xisuan(&["sites", "--catalog", toml.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("sites.toml:6: sites[1].pue: must be between 1.0 and 3.0, got 0.8"), "{err}");

    let o = xisuan(&["transfer", "--from", "atlantis", "--to", "edwc-yrd", "--size", "1TB"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown site or city `atlantis`"));
    let o = xisuan(&["transfer", "--from", "edwc-yrd", "--to", "edwc-guian", "--size", "5 parsecs"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--size"));
    let o = xisuan(&["sites", "--role", "north"]);
    assert_eq!(o.status.code(), Some(2));
    let o = xisuan(&["sites", "--carbon-series", "/nonexistent/file.csv"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/file.csv"));
}

#[test]
fn malformed_series_row_shows_in_the_output_with_its_line() {
    let csv = tmp("DE-LU_bad.csv", "datetime_utc,DE-LU\n2023-01-01 00:00:00,100\n2023-01-01 01:00:00,oops\n2023-01-01 02:00:00,120\n");
    let o = xisuan(&["sites", "--provider", "gcp", "--carbon-series", csv.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("DE-LU_bad.csv:3: field `DE-LU`: `oops` is not a number; row skipped"), "{out}");
    assert!(out.contains("1 of 3 hours missing (first 2023-01-01T01:00Z)"), "{out}");
}

#[test]
fn help_teaches_with_examples() {
    let o = xisuan(&["transfer", "--help"]);
    let out = stdout(&o);
    assert!(out.contains("Examples:") && out.contains("--from edwc-yrd --to edwc-zhongwei"));
    let o = xisuan(&["sites", "--help"]);
    assert!(stdout(&o).contains("China publishes annual provincial"));
}
