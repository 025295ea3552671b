//! A user's own training program run through `xisuan server` on the real Slurm testbed
//! (`scripts/slurm-testbed`, three clusters standing for three sites), with its data really
//! moved (rclone, each site with its own storage root, copies into each shaped to 20 MiB/s by
//! rclone's `--bwlimit`), a whole cluster killed mid-run, and the job resumed at a third site
//! from the checkpoint xisuan carried there. Checked against Slurm's own records, the bytes on
//! each site's storage, and an uninterrupted run of the same program.
//!
//! Runs where `XISUAN_TEST_SLURM` names a started testbed (`.ci/run` starts one); where
//! `XISUAN_REQUIRE_SERVICES` is set (as `.ci/run` sets it) a missing testbed fails the test.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use xisuan_server::client::Client;

mod testbed;
use testbed::{completions, slurm_time, testbed, unix_now, Kill, TESTBED};

const ADMIN: &str = "real-work-admin";
/// Wall seconds per planning hour.
const HOUR_S: f64 = 4.0;
/// The copy rate into each site's storage: rclone's `--bwlimit` 20M, 20 MiB/s.
const BWLIMIT: &str = "20M";
const BW_BYTES_PER_S: f64 = 20.0 * 1024.0 * 1024.0;
/// The network model's share of line rate a bulk transfer achieves (80%).
const EFFICIENCY: f64 = xisuan_catalog::network::DEFAULT_EFFICIENCY;
/// The line rate the world's links say, Gbps, so that at the network model's efficiency a
/// transfer runs at the shaped rate.
const LINK_GBPS: f64 = BW_BYTES_PER_S * 8.0 / 1e9 / EFFICIENCY;

/// The network model's time for `bytes` over the test's links, seconds.
fn model_seconds(bytes: f64) -> f64 {
    bytes * 8.0 / (LINK_GBPS * 1e9 * EFFICIENCY)
}
/// A shaped copy's measured time against the network model's: never faster than the shaped
/// rate allows (rclone's token bucket lets a burst through, so 10% under), and not slower than
/// twice the model's time. The upper side is loose on purpose: the copy shares two cores with the
/// rest of CI's tests, and this is a test of the shaping and of the model's order, not a timing.
/// The agreement on an idle machine (+8% to +12%) is printed by these tests and stated in the
/// README with the runs it comes from.
fn assert_shaped(measured_s: f64, model_s: f64) {
    assert!(
        measured_s >= 0.9 * model_s && measured_s <= 2.0 * model_s,
        "measured {measured_s:.2} s against the network model's {model_s:.2} s (allowed: 0.9x to 2x)"
    );
}
const STEPS: u64 = 3000;
const EVERY: u64 = 150;

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn python() -> &'static str {
    // Debian's python3 with numpy (a pyenv shim earlier on PATH may lack it).
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

fn records(testbed: &str, cluster: &str, id: &str) -> Vec<BTreeMap<String, String>> {
    completions(testbed, cluster)
        .into_iter()
        .filter(|r| r.get("Name").is_some_and(|n| n.starts_with("xisuan-") && n.contains(&format!("-{id}-a"))))
        .collect()
}

/// A world of three EDWC hubs on the testbed's clusters, each with its own storage under
/// `root`: the data's hub (alpha) dear, beta cheapest, gamma between; flat prices (no hour
/// is cheaper than another, so nothing waits); links at the shaped rate, free.
fn world(testbed: &str, root: &Path, beta_storage: &str) -> PathBuf {
    let dir = root.join("world");
    std::fs::create_dir_all(&dir).unwrap();
    let site = |id: &str, cluster: &str, usd: f64, storage: &str| {
        format!(
            "[[sites]]\nid = \"{id}\"\ncapacity = {{ h800 = 8, h20 = 0, \"ascend-910b\" = 0 }}\nprice_usd_per_kwh = {usd}\ncarbon_g_per_kwh = 500\ndispatch = {{ kind = \"slurm\", conf = \"{testbed}/{cluster}/slurm.conf\" }}\nstorage = {storage}\nsource = \"scripts/slurm-testbed: cluster {cluster}\"\n\n"
        )
    };
    let local = |c: &str| format!("{{ kind = \"local\", root = \"{}\", bwlimit = \"{BWLIMIT}\" }}", root.join("storage").join(c).display());
    let mut sites = String::new();
    sites += &site("edwc-yrd", "alpha", 0.5, &local("alpha"));
    sites += &site("edwc-guian", "beta", 0.05, beta_storage);
    sites += &site("edwc-qingyang", "gamma", 0.15, &local("gamma"));
    for (a, b) in [("edwc-yrd", "edwc-guian"), ("edwc-yrd", "edwc-qingyang"), ("edwc-guian", "edwc-qingyang")] {
        sites += &format!("[[links]]\nfrom = \"{a}\"\nto = \"{b}\"\nbandwidth_gbps = {LINK_GBPS}\nusd_per_gb = 0.0\nsource = \"the test's rclone --bwlimit {BWLIMIT} at the network model's efficiency\"\n\n");
    }
    std::fs::write(dir.join("sites.toml"), sites).unwrap();
    std::fs::write(
        dir.join("world.toml"),
        "[scenario]\nname = \"real work on the Slurm testbed\"\nstart = \"2023-07-03T00:00:00+08:00\"\nhours = 168\n\n[catalog]\noverlay = \"sites.toml\"\nsites = [\"edwc-yrd\", \"edwc-guian\", \"edwc-qingyang\"]\n\n[objective]\ncost_weight = 1.0\ncarbon_usd_per_t = 10.0\ndelay_usd_per_hour = 1.0\n",
    )
    .unwrap();
    dir.join("world.toml")
}

fn start(root: &Path, world: &Path) -> (Kill, Client, Client, Client) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let args: Vec<String> = vec![
        "server".into(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--db".into(),
        "sqlite:s.db".into(),
        "--world".into(),
        world.display().to_string(),
        "--hour-seconds".into(),
        HOUR_S.to_string(),
    ];
    let log = std::fs::File::create(root.join("server.log")).unwrap();
    let server = Kill(
        Command::new(env!("CARGO_BIN_EXE_xisuan"))
            .args(&args)
            .env("XISUAN_ADMIN_TOKEN", ADMIN)
            .current_dir(root)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    let t0 = Instant::now();
    while Client::new(&url, None).get("/readyz").is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "server did not come up: {}",
            std::fs::read_to_string(root.join("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let admin = Client::new(&url, Some(ADMIN.into()));
    let token = |name: &str| admin.post("/v1/tenants", &json!({ "name": name }), None).unwrap().1["token"].as_str().unwrap().to_string();
    let (me, other) = (Client::new(&url, Some(token("trainer"))), Client::new(&url, Some(token("someone-else"))));
    (server, me, other, admin)
}

fn wait_for(c: &Client, id: &str, secs: u64, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let t0 = Instant::now();
    loop {
        let j = c.get(&format!("/v1/jobs/{id}")).unwrap();
        if ok(&j) {
            return j;
        }
        assert!(t0.elapsed() < Duration::from_secs(secs), "{what}: {j:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn sha256_lines(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("sha256.txt")).unwrap_or_else(|e| panic!("{}: {e}", dir.join("sha256.txt").display()))
}

/// The example training program, its 200 MB dataset at the eastern hub, planned west (beta);
/// beta's whole cluster is killed mid-run; an operator says so; xisuan carries the newest
/// checkpoint to gamma and the program resumes there. Its final weights equal an
/// uninterrupted run's byte for byte; Slurm's records show both attempts; the transfers have
/// their bytes and are held to the shaped rate (`assert_shaped`); the logs show each attempt.
#[test]
fn a_training_job_moves_its_data_survives_a_dead_cluster_and_resumes_elsewhere() {
    let Some((testbed, _turn)) = testbed() else {
        return;
    };
    let root = std::env::temp_dir().join(format!("xisuan-real-work-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for c in ["alpha", "beta", "gamma"] {
        std::fs::create_dir_all(root.join("storage").join(c)).unwrap();
    }
    // The program and its dataset at the data's site (alpha's storage).
    let alpha = root.join("storage/alpha");
    std::fs::create_dir_all(alpha.join("code")).unwrap();
    std::fs::copy(repo().join("examples/train/train.py"), alpha.join("code/train.py")).unwrap();
    let gen = Command::new(python())
        .args(["examples/train/train.py", "gen", "--out"])
        .arg(alpha.join("datasets"))
        .args(["--mb", "200"])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(gen.status.success(), "{}", String::from_utf8_lossy(&gen.stderr));
    let dataset_bytes = std::fs::metadata(alpha.join("datasets/dataset.npy")).unwrap().len() as f64;
    assert!(dataset_bytes >= 2e8 - 100.0, "{dataset_bytes}");

    let beta_storage = format!("{{ kind = \"local\", root = \"{}\", bwlimit = \"{BWLIMIT}\" }}", root.join("storage/beta").display());
    let world = world(&testbed, &root, &beta_storage);
    let (_server, me, other, admin) = start(&root, &world);
    // About 45 s of work on this machine, at 4 s per planning hour: 12 h; data to move 200 MB.
    let body = json!({
        "id": "mlp", "accelerators": ["h800"], "gpus": 4, "hours": 12.0, "data_site": "edwc-yrd", "deadline_hour": 60,
        "checkpoint_every_h": 0.5,
        "command": ["python3", "inputs/train.py", "train", "--steps", STEPS.to_string(), "--checkpoint-every", EVERY.to_string()],
        "inputs": ["edwc-yrd:code/train.py", "edwc-yrd:datasets/dataset.npy"],
        "env": {"OMP_NUM_THREADS": "1"}
    });
    let (status, v) = me.post("/v1/jobs", &body, Some("mlp-1")).unwrap();
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_string();

    // Planned west (beta), its inputs copied there first, then it runs and checkpoints.
    let j = wait_for(&me, &id, 120, "never saved a checkpoint at beta", |j| {
        j["state"] == "running" && j["checkpoint"].as_str().is_some_and(|c| c.contains("at edwc-guian"))
    });
    assert_eq!(j["attempt_sites"]["1"], "edwc-guian", "{j:#}");
    // Let it save a few more, then the whole cluster dies (controller, daemons, the job).
    wait_for(&me, &id, 120, "no third checkpoint", |j| j["done_hours"].as_f64().unwrap_or(0.0) >= 3.0 * 12.0 * EVERY as f64 / STEPS as f64);
    testbed_script(&["kill", &testbed, "beta"]);
    let killed_at = unix_now();
    // Whatever happens below, the testbed gets beta back for the tests after this one.
    let mut revive = Revive(Some(testbed.clone()));
    // xisuan sees a silent controller: the work is fenced, not started elsewhere.
    wait_for(&me, &id, 60, "not fenced", |j| {
        j["history"].as_array().unwrap().iter().any(|h| h["what"].as_str().unwrap_or("").contains("may still be running at edwc-guian"))
    });
    std::thread::sleep(Duration::from_secs(3));
    let j = me.get(&format!("/v1/jobs/{id}")).unwrap();
    assert_eq!(j["attempts"], 1, "started elsewhere while fenced: {j:#}");
    assert_eq!((j["fence"]["site"].as_str(), j["fence"]["attempt"].as_u64()), (Some("edwc-guian"), Some(1)), "{j:#}");
    // The operator, who knows the cluster is gone, says so.
    let (status, r) =
        admin.post("/v1/sites/edwc-guian/release", &json!({"reason": "test: cluster beta killed (slurmctld, slurmd and the job)"}), None).unwrap();
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["jobs"], json!([id]));

    // Re-placed at gamma (cheaper than the data's hub), the checkpoint carried there.
    let done = wait_for(&me, &id, 300, "did not complete at gamma", |j| j["state"] == "completed");
    assert_eq!(done["attempt_sites"], json!({"1": "edwc-guian", "2": "edwc-qingyang"}), "{done:#}");

    // Slurm's record: attempt 2 completed at gamma, after the kill.
    let g = records(&testbed, "gamma", &id);
    assert_eq!(g.len(), 1, "{g:?}");
    assert!(g[0]["Name"].ends_with("-a2") && g[0]["JobState"] == "COMPLETED", "{g:?}");
    assert!(slurm_time(&g[0]["StartTime"]) >= killed_at - 1.0, "attempt 2 started before the kill: {g:?}");

    // The transfers, with their bytes, and their times against the network model.
    let transfers = me.get("/v1/transfers").unwrap()["transfers"].as_array().unwrap().clone();
    let find = |attempt: u64, kind: &str, to: &str| {
        transfers
            .iter()
            .find(|t| {
                t["attempt"] == attempt
                    && t["kind"] == kind
                    && t["to_site"] == to
                    && t["state"] == "done"
                    && (kind != "input" || t["from_path"] == "datasets/dataset.npy")
            })
            .unwrap_or_else(|| panic!("no {kind} transfer to {to}: {transfers:#?}"))
            .clone()
    };
    let d1 = find(1, "input", "edwc-guian");
    let d2 = find(2, "input", "edwc-qingyang");
    let ck = find(2, "checkpoint", "edwc-qingyang");
    let model_s = model_seconds(dataset_bytes);
    for d in [&d1, &d2] {
        let (moved, secs) = (d["bytes_moved"].as_f64().unwrap(), d["seconds"].as_f64().unwrap());
        assert_eq!(moved, dataset_bytes, "{d:#}");
        println!(
            "dataset to {}: {:.0} bytes in {secs:.2} s measured ({:.1} MB/s), {model_s:.2} s by the network model ({:+.1}%)",
            d["to_site"],
            moved,
            moved / secs / 1e6,
            (secs / model_s - 1.0) * 100.0
        );
        assert_shaped(secs, model_s);
    }
    let ck_bytes = ck["bytes_moved"].as_f64().unwrap();
    let ck_model = model_seconds(ck_bytes);
    println!(
        "checkpoint from {} to {}: {ck_bytes:.0} bytes in {:.2} s measured, {ck_model:.2} s by the network model ({})",
        ck["from_site"],
        ck["to_site"],
        ck["seconds"].as_f64().unwrap(),
        ck["note"]
    );
    assert!(ck_bytes > 0.0 && ck["from_site"] == "edwc-guian", "{ck:#}");

    // The outputs came back to the data's site; the same bytes as an uninterrupted run.
    let t0 = Instant::now();
    let back = loop {
        let all = me.get("/v1/transfers").unwrap()["transfers"].as_array().unwrap().clone();
        if let Some(t) = all.iter().find(|t| t["kind"] == "output" && t["to_site"] == "edwc-yrd" && t["state"] == "done") {
            break t.clone();
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "outputs never came back: {all:#?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    println!(
        "outputs from {} back to {}: {:.0} bytes in {:.2} s",
        back["from_site"],
        back["to_site"],
        back["bytes_moved"].as_f64().unwrap(),
        back["seconds"].as_f64().unwrap()
    );
    let returned = alpha.join(format!("xisuan/jobs/{id}/outputs"));
    let reference = root.join("reference");
    let run = Command::new(python())
        .args(["examples/train/train.py", "train", "--steps", &STEPS.to_string(), "--checkpoint-every", &EVERY.to_string(), "--input-dir"])
        .arg(alpha.join("datasets"))
        .arg("--checkpoint-dir")
        .arg(reference.join("checkpoints"))
        .arg("--output-dir")
        .arg(reference.join("outputs"))
        .env("OMP_NUM_THREADS", "1")
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(sha256_lines(&returned), sha256_lines(&reference.join("outputs")), "the weights differ from an uninterrupted run");
    for f in ["W1.npy", "b1.npy", "W2.npy", "b2.npy"] {
        assert_eq!(std::fs::read(returned.join(f)).unwrap(), std::fs::read(reference.join("outputs").join(f)).unwrap(), "{f}");
    }

    // The logs of each attempt; the work redone is at most one checkpoint interval.
    let log1 = me.get(&format!("/v1/jobs/{id}/logs?attempt=1")).unwrap();
    let log2 = me.get(&format!("/v1/jobs/{id}/logs?attempt=2")).unwrap();
    let (t1, t2) = (log1["text"].as_str().unwrap(), log2["text"].as_str().unwrap());
    assert!(t1.contains("starting fresh") && log1["site"] == "edwc-guian", "{log1:#}");
    let last1: u64 = t1.lines().filter_map(|l| l.strip_prefix("step ")).filter_map(|l| l.split('/').next()?.parse().ok()).max().unwrap();
    let resumed: u64 = t2
        .lines()
        .find_map(|l| l.strip_prefix("resumed from step "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{t2}"));
    println!("attempt 1 printed its last checkpoint at step {last1}; attempt 2 resumed from step {resumed} (interval {EVERY} steps)");
    assert!(resumed + EVERY >= last1 && resumed <= last1, "redone more than one checkpoint interval: {resumed} vs {last1}");
    assert!(t2.contains("final sha256"), "{t2}");
    let cli = Command::new(env!("CARGO_BIN_EXE_xisuan"))
        .args(["logs", &id, "--attempt", "2", "--url", &admin_url(&admin), "--token", ADMIN])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&cli.stdout).contains("resumed from step"), "{}", String::from_utf8_lossy(&cli.stderr));
    let e = other.get(&format!("/v1/jobs/{id}/logs")).unwrap_err().to_string();
    assert!(e.contains("404"), "another tenant read the logs: {e}");

    // Bring beta back: Slurm's own record of attempt 1 (it ended with its node), and xisuan
    // marks the site up again.
    revive.now();
    let t0 = Instant::now();
    loop {
        let b = records(&testbed, "beta", &id);
        if let Some(r) = b.iter().find(|r| r["Name"].ends_with("-a1")) {
            println!(
                "Slurm's record of attempt 1 at beta: {} ({} to {}); of attempt 2 at gamma: {} ({} to {})",
                r["JobState"], r["StartTime"], r["EndTime"], g[0]["JobState"], g[0]["StartTime"], g[0]["EndTime"]
            );
            assert_ne!(r["JobState"], "COMPLETED", "{r:?}");
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "beta never recorded attempt 1: {:?}", completions(&testbed, "beta"));
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// Runs `scripts/slurm-testbed` with these arguments; it must succeed.
fn testbed_script(args: &[&str]) {
    let out = Command::new(repo().join("scripts/slurm-testbed")).args(args).output().unwrap();
    assert!(out.status.success(), "slurm-testbed {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Brings a killed cluster (beta) back, once: when asked, or when the test ends.
struct Revive(Option<String>);
impl Revive {
    fn now(&mut self) {
        if let Some(testbed) = self.0.take() {
            testbed_script(&["revive", &testbed, "beta"]);
        }
    }
}
impl Drop for Revive {
    fn drop(&mut self) {
        if let Some(testbed) = self.0.take() {
            let _ = Command::new(repo().join("scripts/slurm-testbed")).args(["revive", &testbed, "beta"]).status();
        }
    }
}

fn admin_url(c: &Client) -> String {
    c.base().to_string()
}

/// Bad runs get one clear 400 naming the field; a transfer that cannot reach its storage is
/// a `transfer_failed` with rclone's words, retried, then the job goes elsewhere and never
/// starts where its data did not arrive.
#[test]
fn bad_runs_are_refused_and_a_failed_transfer_replans_the_job() {
    let Some((testbed, _turn)) = testbed() else {
        return;
    };
    let root = std::env::temp_dir().join(format!("xisuan-real-work-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for c in ["alpha", "gamma"] {
        std::fs::create_dir_all(root.join("storage").join(c).join("data")).unwrap();
    }
    std::fs::write(root.join("storage/alpha/data/small.bin"), vec![7u8; 4_000_000]).unwrap();
    // Beta's storage is an SFTP server that is not there (nothing listens on port 9).
    let key = root.join("id_xisuan");
    assert!(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status().unwrap().success());
    let beta =
        format!("{{ kind = \"sftp\", host = \"127.0.0.1\", port = 9, user = \"xisuan\", key_file = \"{}\", root = \"/srv/xisuan\" }}", key.display());
    let world = world(&testbed, &root, &beta);
    let (_server, me, _other, admin) = start(&root, &world);
    let base = json!({"accelerators": ["h800"], "gpus": 2, "hours": 2.0, "data_site": "edwc-yrd", "deadline_hour": 60,
                      "command": ["/bin/sh", "-c", "cat \"$XISUAN_INPUT_DIR/small.bin\" | wc -c > \"$XISUAN_OUTPUT_DIR/count\""],
                      "inputs": ["edwc-yrd:data/small.bin"]});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("inputs", json!(["edwc-yrd:data/none.bin"])), "inputs[0]"),
        (with("inputs", json!(["edwc-yrd:../../etc/passwd"])), "inputs[0]"),
        (with("command", json!([])), "command"),
        (with("env", json!({"XISUAN_JOB_ID": "x"})), "env.XISUAN_JOB_ID"),
        // Every site it may use runs Slurm without containers: an image cannot run anywhere.
        (with("image", json!("docker.io/library/python:3.12")), "image"),
    ] {
        let e = me.post("/v1/jobs", &body, None).unwrap_err().to_string();
        assert!(e.contains("HTTP 400") && e.ends_with(&format!("(field `{field}`)")), "{e}");
        println!("{e}");
    }
    // Planned at beta (cheapest); its input cannot get there: transfer_failed in rclone's
    // words, three tries, then refused there and run at gamma.
    let (status, v) = me.post("/v1/jobs", &base, None).unwrap();
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let done = wait_for(&me, &id, 240, "never completed elsewhere", |j| j["state"] == "completed");
    assert_eq!(done["attempt_sites"]["1"], "edwc-guian", "{done:#}");
    assert_ne!(done["attempt_sites"]["2"], "edwc-guian", "{done:#}");
    assert!(done["refused"]["edwc-guian"].as_str().unwrap().contains("could not be staged"), "{done:#}");
    let events = admin.get("/v1/events?limit=1000").unwrap()["events"].as_array().unwrap().clone();
    let failed: Vec<&Value> = events.iter().filter(|e| e["kind"] == "transfer_failed").collect();
    assert_eq!(failed.len(), 3, "{failed:#?}");
    println!("transfer_failed: {}", failed[0]);
    assert!(failed[0].to_string().contains("rclone") && failed[0].to_string().contains("connection refused"), "{failed:#?}");
    // Beta's cluster never saw it: it was never submitted without its data.
    assert!(records(&testbed, "beta", &id).is_empty());
    let _ = std::fs::remove_dir_all(&root);
}

/// A site's storage over SFTP, through a real OpenSSH server on loopback: rclone copies an
/// input there and reads it back by checksum, xisuan reads its size and a checkpoint manifest
/// over SFTP, and a checkpoint comes back from it; a storage that is not there fails in
/// rclone's words.
#[test]
fn sftp_storage_moves_data_through_a_real_ssh_server() {
    use xisuan_catalog::Storage;
    use xisuan_control::{TransferKind, TransferSpec};
    use xisuan_server::storage::Stores;
    let sshd = Path::new("/usr/sbin/sshd");
    if !sshd.exists() {
        assert!(std::env::var("XISUAN_REQUIRE_SERVICES").is_err(), "XISUAN_REQUIRE_SERVICES is set but OpenSSH's sshd is not installed");
        eprintln!("sshd not installed: SFTP storage not tested here (.ci/run installs openssh-server)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("xisuan-sftp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for d in ["local/data", "remote", "ssh"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let keygen =
        |file: &Path| assert!(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(file).status().unwrap().success());
    keygen(&dir.join("ssh/host"));
    keygen(&dir.join("ssh/user"));
    std::fs::copy(dir.join("ssh/user.pub"), dir.join("ssh/authorized_keys")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap().trim().to_string();
    std::fs::write(
        dir.join("ssh/sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPasswordAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile {}\nSubsystem sftp internal-sftp\n",
            dir.join("ssh/host").display(),
            dir.join("ssh/authorized_keys").display(),
            dir.join("ssh/sshd.pid").display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all("/run/sshd").ok();
    let _server = Kill(
        Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(dir.join("ssh/sshd_config"))
            .stderr(std::fs::File::create(dir.join("ssh/log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(10), "sshd did not start: {}", std::fs::read_to_string(dir.join("ssh/log")).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(50));
    }
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.join("local/data/set.bin"), &data).unwrap();
    let mut stores = Stores::default();
    stores.add("here", &Storage::Local { root: dir.join("local").display().to_string(), bwlimit: None, pvc: None, origin: "test".into() });
    let sftp = |port: u16| Storage::Sftp {
        host: "127.0.0.1".into(),
        port: Some(port),
        user: user.clone(),
        key_file: dir.join("ssh/user").display().to_string(),
        root: dir.join("remote").display().to_string(),
        bwlimit: Some("50M".into()),
        pvc: None,
        origin: "test".into(),
    };
    stores.add("there", &sftp(port));
    let input = TransferSpec {
        id: "j/a1/input/0".into(),
        job: "j".into(),
        attempt: 1,
        kind: TransferKind::Input,
        from_site: "here".into(),
        from_path: "data/set.bin".into(),
        to_site: "there".into(),
        to_path: "xisuan/jobs/j/inputs/set.bin".into(),
        bytes: 5e6,
    };
    let moved = stores.transfer(&input, &mut |_| {}).unwrap();
    println!("over SFTP: {moved:?}");
    assert_eq!(moved.bytes, 5e6);
    assert_eq!(std::fs::read(dir.join("remote/xisuan/jobs/j/inputs/set.bin")).unwrap(), data);
    assert_eq!(stores.size("there", "xisuan/jobs/j/inputs/set.bin"), Ok(5_000_000));
    assert!(stores.size("there", "xisuan/jobs/j/inputs/none.bin").is_err());
    assert!(stores.transfer(&input, &mut |_| {}).unwrap().note.contains("already"), "not checked first");
    // A checkpoint saved at the SFTP site, carried back.
    let ck = dir.join("remote/xisuan/jobs/j/checkpoints");
    std::fs::create_dir_all(ck.join("step-7")).unwrap();
    std::fs::write(ck.join("step-7/w.npy"), b"weights").unwrap();
    std::fs::write(ck.join("xisuan-checkpoint.json"), r#"{"step": 7, "total_steps": 10, "progress": 0.7, "path": "step-7"}"#).unwrap();
    assert_eq!(stores.manifest("there", "j").unwrap().map(|m| m.step), Some(7));
    let back = TransferSpec {
        id: "j/a2/checkpoint/0".into(),
        kind: TransferKind::Checkpoint,
        from_site: "there".into(),
        from_path: "xisuan/jobs/j/checkpoints".into(),
        to_site: "here".into(),
        to_path: "xisuan/jobs/j/checkpoints".into(),
        bytes: 0.0,
        ..input.clone()
    };
    stores.transfer(&back, &mut |_| {}).unwrap();
    assert_eq!(std::fs::read(dir.join("local/xisuan/jobs/j/checkpoints/step-7/w.npy")).unwrap(), b"weights");
    // The same server, a port where nothing listens: rclone's words.
    let mut gone = Stores::default();
    gone.add("here", &Storage::Local { root: dir.join("local").display().to_string(), bwlimit: None, pvc: None, origin: "test".into() });
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    gone.add("there", &sftp(closed));
    let e = gone.transfer(&input, &mut |_| {}).unwrap_err();
    println!("unreachable SFTP storage: {e}");
    assert!(e.starts_with("rclone: ") && e.contains("connection refused"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A checkpoint the size of a small model's (128 MB: 16M float64 parameters) carried
/// between two sites' storage through the same path as a re-placed job's (the folder its
/// manifest names, then the manifest), at the test's shaped rate: the copy is whole, and its time
/// is held to the shaped rate and within the network model's order (`assert_shaped`). (The example's 136 kB checkpoint takes about 0.3 s, nearly
/// all of it rclone's start-up, which the model has no term for.)
#[test]
fn a_checkpoint_transfer_takes_the_time_the_network_model_says() {
    use xisuan_catalog::Storage;
    use xisuan_control::{TransferKind, TransferSpec};
    use xisuan_server::storage::Stores;
    // A timing: not beside the other tests of this file (they take turns on the machine too).
    let _turn = TESTBED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("xisuan-ckpt-rate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let ck = dir.join("a/xisuan/jobs/j/checkpoints");
    std::fs::create_dir_all(ck.join("step-00000300")).unwrap();
    // Weights that do not compress (rclone does not compress either way).
    let mut x: u64 = 0x9E3779B97F4A7C15;
    let weights: Vec<u8> = (0..128_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(ck.join("step-00000300/W.npy"), &weights).unwrap();
    std::fs::write(ck.join("xisuan-checkpoint.json"), r#"{"step": 300, "total_steps": 3000, "progress": 0.1, "path": "step-00000300"}"#).unwrap();
    let mut stores = Stores::default();
    for site in ["a", "b"] {
        stores.add(
            site,
            &Storage::Local { root: dir.join(site).display().to_string(), bwlimit: Some(BWLIMIT.into()), pvc: None, origin: "test".into() },
        );
    }
    let t = TransferSpec {
        id: "j/a2/checkpoint/0".into(),
        job: "j".into(),
        attempt: 2,
        kind: TransferKind::Checkpoint,
        from_site: "a".into(),
        from_path: "xisuan/jobs/j/checkpoints".into(),
        to_site: "b".into(),
        to_path: "xisuan/jobs/j/checkpoints".into(),
        bytes: 0.0,
    };
    let m = stores.transfer(&t, &mut |_| {}).unwrap();
    let model = model_seconds(m.bytes);
    println!(
        "checkpoint of {:.0} bytes: {:.2} s measured ({:.1} MB/s), {model:.2} s by the network model ({:+.1}%)",
        m.bytes,
        m.seconds,
        m.bytes / m.seconds / 1e6,
        (m.seconds / model - 1.0) * 100.0
    );
    assert!(m.bytes >= 128e6, "{m:?}");
    assert_eq!(std::fs::read(dir.join("b/xisuan/jobs/j/checkpoints/step-00000300/W.npy")).unwrap(), weights);
    assert_shaped(m.seconds, model);
    let _ = std::fs::remove_dir_all(&dir);
}
