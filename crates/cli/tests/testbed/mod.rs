//! What the tests on the real Slurm testbed (`scripts/slurm-testbed`) share: the testbed's
//! directory and a turn on it, Slurm's completion log and times, and a child process that is
//! killed when the test ends.

use std::collections::BTreeMap;
use std::process::{Child, Command};
use std::time::{SystemTime, UNIX_EPOCH};

/// A child process killed when dropped (a server under test).
pub struct Kill(pub Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// One record of a cluster's completion log (jobcomp/filetxt): `Key=Value` fields.
pub fn completions(testbed: &str, cluster: &str) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(format!("{testbed}/{cluster}/log/jobcomp.txt")).unwrap_or_default();
    text.lines().map(|l| l.split_whitespace().filter_map(|f| f.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()).collect()
}

/// Slurm's times (`2026-11-28T12:47:23`, the machine's local time, UTC here) as Unix seconds.
pub fn slurm_time(s: &str) -> f64 {
    let out = Command::new("date").args(["-d", s, "+%s"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The testbed is shared: the tests of one binary take turns (and timings take a turn too).
pub static TESTBED: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The started testbed's directory (`XISUAN_TEST_SLURM`) and this test's turn on it, or `None`
/// (the test is skipped, saying why) where no testbed runs; where `XISUAN_REQUIRE_SERVICES` is
/// set (`.ci/run` sets it once the testbed has started) a missing testbed fails the test.
pub fn testbed() -> Option<(String, std::sync::MutexGuard<'static, ()>)> {
    let Ok(dir) = std::env::var("XISUAN_TEST_SLURM") else {
        assert!(
            std::env::var("XISUAN_REQUIRE_SERVICES").is_err(),
            "XISUAN_REQUIRE_SERVICES is set but XISUAN_TEST_SLURM is not: the Slurm testbed did not start"
        );
        eprintln!("XISUAN_TEST_SLURM not set: real Slurm not tested here (.ci/run starts scripts/slurm-testbed and sets it)");
        return None;
    };
    let turn = TESTBED.lock().unwrap_or_else(|e| e.into_inner());
    idle(&dir);
    Some((dir, turn))
}

/// Cancels whatever an earlier test left on the three clusters and waits until none of it
/// holds a node, so each test starts on an idle testbed (xisuan reads what others' work holds,
/// so leftovers would change its plans).
pub fn idle(dir: &str) {
    for cluster in ["alpha", "beta", "gamma"] {
        let conf = format!("{dir}/{cluster}/slurm.conf");
        let _ = Command::new("scancel").env("SLURM_CONF", &conf).args(["--user=root"]).status();
        // A node an earlier test's faults left drained (Slurm drains a node on which it finds a
        // job twice after a controller crash) takes work again.
        let _ = Command::new("scontrol")
            .env("SLURM_CONF", &conf)
            .args(["update", &format!("nodename={cluster}[1-2]"), "state=resume"])
            .stderr(std::process::Stdio::null())
            .status();
    }
    let t0 = std::time::Instant::now();
    for cluster in ["alpha", "beta", "gamma"] {
        let conf = format!("{dir}/{cluster}/slurm.conf");
        loop {
            let out = Command::new("squeue").env("SLURM_CONF", &conf).args(["-h", "-t", "PD,R,CG,S,CF"]).output();
            let busy = out.map(|o| !o.status.success() || !o.stdout.is_empty()).unwrap_or(true);
            if !busy || t0.elapsed() > std::time::Duration::from_secs(60) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}
