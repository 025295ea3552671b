//! Bad input, tried as a user would: every case ends with exit code 2 and one line that names
//! the file, line and key (or the flag), never a panic, an internal error or silent output.
//! Named after the classes of issue #8; each input was a panic, an internal error or wrong
//! output with exit code 0 before.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs xisuan in a scratch folder holding `files`; returns exit code and first stderr line.
fn run(files: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("xisuan-bad-{}-{}", std::process::id(), args.join("-").replace('/', "_").len()));
    let dir = dir.with_file_name(format!("{}-{:x}", dir.file_name().unwrap().to_string_lossy(), fxhash(args)));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_xisuan")).current_dir(&dir).args(args).output().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let err = String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("").to_string();
    (out.status.code().unwrap_or(-1), err)
}

fn fxhash(args: &[&str]) -> u64 {
    args.iter().flat_map(|a| a.bytes()).fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

fn scenario(objective: &str, job: &str, batch_slack: &str, peak: &str) -> String {
    let overlay = root().join("examples/edwc/sites.toml");
    format!(
        r#"[scenario]
name = "bad"
start = "2023-07-03T00:00:00Z"
hours = 48
[catalog]
overlay = "{}"
sites = ["edwc-yrd", "edwc-zhongwei"]
[objective]
{objective}
[[jobs]]
id = "a"
accelerators = ["h800"]
gpus = 64
data_site = "edwc-yrd"
{job}
[[job_batches]]
count = 2
seed = 1
id_prefix = "b"
accelerators = ["h800"]
gpus = [8]
hours = [2.0, 4.0]
data_sites = ["edwc-yrd"]
data_tb = [0.1, 0.2]
earliest_hour = [0, 4]
slack = [1.5, {batch_slack}]
[[services]]
id = "chat"
accelerator = "h20"
gpus_per_replica = 8
replica_rps = 6.0
slo_ms = 30
demand = [{{ city = "Shanghai", peak_rps = {peak} }}]
"#,
        overlay.display()
    )
}

fn plan(text: &str) -> (i32, String) {
    run(&[("s.toml", text)], &["plan", "s.toml", "--solver", "heuristic"])
}

#[test]
fn non_finite_and_out_of_range_scenario_values_name_their_line_and_key() {
    let ok_job = "hours = 6";
    let cases = [
        (scenario("cost_weight = -1", ok_job, "2.0", "60"), "s.toml:9: objective.cost_weight: must be a finite number"),
        (scenario("carbon_usd_per_t = nan", ok_job, "2.0", "60"), "s.toml:9: objective.carbon_usd_per_t"),
        (scenario("", "hours = inf", "2.0", "60"), "s.toml:15: jobs[0].hours: must be a finite number in (0, 8784], got inf"),
        (scenario("", "hours = 6\ndata_tb = inf", "2.0", "60"), "s.toml:16: jobs[0].data_tb"),
        (scenario("", ok_job, "2.0", "nan"), "services[0].demand"),
        (scenario("", ok_job, "2.0", "-5"), "services[0].demand"),
        (scenario("", ok_job, "1e12", "60"), "job_batches[0].slack: must be a finite number in [1, 1e6]"),
        (scenario("", "hours = 6\nearliest_hour = 48", "2.0", "60"), "s.toml:16: jobs[0].earliest_hour"),
    ];
    for (text, want) in cases {
        let (code, line) = plan(&text);
        assert_eq!(code, 2, "{line}");
        assert!(line.contains(want), "{line}\nwanted: {want}");
    }
}

#[test]
fn duplicates_are_refused() {
    let base = scenario("", "hours = 6", "2.0", "60");
    let dup_site = base.replace(r#"sites = ["edwc-yrd", "edwc-zhongwei"]"#, r#"sites = ["edwc-yrd", "edwc-yrd"]"#);
    let (code, line) = plan(&dup_site);
    assert_eq!((code, line.contains("catalog.sites[1]: site edwc-yrd is listed twice")), (2, true), "{line}");
    let service = &base[base.find("[[services]]").unwrap()..];
    let (code, line) = plan(&format!("{base}{service}"));
    assert_eq!((code, line.contains("services[1].id")), (2, true), "{line}");
}

#[test]
fn traces_with_duplicates_typos_or_ragged_rows_are_refused() {
    let sim = |trace: &str| {
        run(
            &[("t.csv", trace)],
            &[
                "simulate",
                "--trace",
                "t.csv",
                "--sites",
                "aws-us-east-1,aws-us-west-2",
                "--start",
                "2023-06-01",
                "--policy",
                "run-now",
                "--capacity",
                "8",
            ],
        )
    };
    for (trace, want) in [
        ("id,arrival_h,duration_h,gpus\na,0,1,1\na,1,2,1\n", "t.csv:3: field `id`: `a` was already used on line 2"),
        ("id,arrival_h,duration_h,gpus,deadlne_h\na,0,1,1,5\n", "t.csv:1: field `deadlne_h`: unknown column"),
        ("id,arrival_h,duration_h,gpus\na,0,1,1,9,9\n", "t.csv:2: field ``: the row has 6 fields, the header 4"),
        ("id,arrival_h,duration_h,gpus\na,0,1e9,1\n", "t.csv:2: field `duration_h`: 1000000000 h is more than xisuan accepts"),
    ] {
        let (code, line) = sim(trace);
        assert_eq!(code, 2, "{line}");
        assert!(line.contains(want), "{line}\nwanted: {want}");
    }
}

#[test]
fn flags_out_of_range_are_refused_before_any_work() {
    let text = scenario("", "hours = 6", "2.0", "60");
    let trace = "id,arrival_h,duration_h,gpus\na,0,1,1\n";
    // (files, arguments, what the error names)
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>, &'a str);
    let cases: Vec<Case> = vec![
        (vec![("s.toml", &text)], vec!["plan", "s.toml", "--solver", "milp", "--time-limit=-1"], "--time-limit/--mip-gap: time limit (s)"),
        (vec![("s.toml", &text)], vec!["plan", "s.toml", "--solver", "milp", "--mip-gap=-1"], "MIP gap"),
        (vec![("s.toml", &text)], vec!["plan", "s.toml", "--time-budget=0"], "--time-budget"),
        (vec![], vec!["estimate", "serve", "--params", "7e9", "--gpu", "h100", "--rps", "1e30"], "--rps: peak demand"),
        (
            vec![("t.csv", trace)],
            vec!["simulate", "--trace", "t.csv", "--sites", "aws-us-east-1", "--start", "2023-06-01", "--hours", "100000000"],
            "--hours: must be a whole number in [1, 8784]",
        ),
        (
            vec![("t.csv", trace)],
            vec!["simulate", "--trace", "t.csv", "--sites", "aws-us-east-1", "--start", "2023-06-01", "--capacity", "0"],
            "--capacity",
        ),
        (
            vec![("t.csv", trace)],
            vec!["simulate", "--trace", "t.csv", "--sites", "aws-us-east-1", "--start", "2023-06-01", "--accelerator", "x100"],
            "--accelerator: unknown accelerator `x100`",
        ),
        (
            vec![("t.csv", trace)],
            vec!["simulate", "--trace", "t.csv", "--sites", "edwc-zhangjiakou,edwc-yrd", "--start", "2023-06-01", "--accelerator", "h100"],
            "no simulated site has h100 accelerators",
        ),
    ];
    for (files, args, want) in cases {
        let (code, line) = run(&files, &args);
        assert_eq!(code, 2, "{args:?}: {line}");
        assert!(line.contains(want), "{line}\nwanted: {want}");
    }
}

#[test]
fn a_closed_pipe_is_a_normal_end() {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_xisuan"))
        .args(["estimate", "train", "--params", "7e9", "--tokens", "1e12", "--gpu", "h100", "--gpus", "64"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close our end of the pipe before xisuan writes.
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "{status:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}
