//! Sites' storage and the transfers between them, executed by rclone (a real, well-kept
//! transfer engine: checksums, bandwidth limits, SFTP and S3 backends, progress as JSON).
//!
//! Each site with a real cluster has a storage: a filesystem its nodes see, reached by xisuan
//! either directly (`local`: a shared filesystem mounted here too, or one machine) or over SFTP
//! (rclone's `sftp` backend, no config file: an on-the-fly remote). Transfers copy with
//! `rclone copy`/`copyto` at the destination's `--bwlimit`, verify with `rclone check`
//! (sizes and hashes), and check the destination first, so a transfer already done is not
//! repeated. Within one local storage an input is linked, not copied.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use xisuan_catalog::Storage;
use xisuan_control::{run::CHECKPOINT_MANIFEST, TransferKind, TransferSpec};

/// The storages of the sites, by site id.
#[derive(Debug, Clone, Default)]
pub struct Stores {
    pub sites: BTreeMap<String, Storage>,
}

/// No config file; one try of a whole operation (xisuan retries a failed transfer itself, and
/// records each try), a few of a single request, and a connection given up after 10 s.
const QUIET_RETRIES: [&str; 8] = ["--config", "/dev/null", "--retries", "1", "--low-level-retries", "3", "--contimeout", "10s"];

/// What a transfer did.
#[derive(Debug, Clone, PartialEq)]
pub struct Moved {
    pub bytes: f64,
    pub seconds: f64,
    pub note: String,
}

/// What the newest checkpoint manifest in a folder says.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Manifest {
    pub step: u64,
    pub total_steps: u64,
    pub path: String,
}

impl Stores {
    pub fn get(&self, site: &str) -> Option<&Storage> {
        self.sites.get(site)
    }

    pub fn has(&self, site: &str) -> bool {
        self.sites.contains_key(site)
    }

    /// Adds a site's storage from its catalog entry; a relative `root` or key file is
    /// relative to that catalog file's folder.
    pub fn add(&mut self, site: &str, s: &Storage) {
        let near = |origin: &str, p: &str| -> String {
            let pb = PathBuf::from(p);
            match Path::new(origin).parent() {
                Some(dir) if pb.is_relative() => dir.join(pb).display().to_string(),
                _ => p.to_string(),
            }
        };
        let s = match s.clone() {
            Storage::Sftp { host, port, user, key_file, root, bwlimit, pvc, origin } => {
                Storage::Sftp { key_file: near(&origin, &key_file), host, port, user, root, bwlimit, pvc, origin }
            }
            other => other,
        };
        self.sites.insert(site.to_string(), s);
    }

    /// The path a job sees for `rel` (under the storage's root, as the nodes see it).
    pub fn node_path(&self, site: &str, rel: &str) -> Option<String> {
        self.get(site).map(|s| format!("{}/{rel}", s.root().trim_end_matches('/')))
    }

    /// rclone's name for a path on a site's storage (an on-the-fly remote, no config file).
    fn remote(&self, site: &str, rel: &str) -> Result<String, String> {
        let s = self.get(site).ok_or_else(|| format!("site {site} has no storage"))?;
        let path = format!("{}/{rel}", s.root().trim_end_matches('/'));
        Ok(match s {
            Storage::Local { .. } => format!(":local:{path}"),
            Storage::Sftp { host, port, user, key_file, .. } => {
                let q = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
                format!(
                    ":sftp,host={},user={},port={},key_file={},known_hosts_file=,set_modtime=true:{path}",
                    q(host),
                    q(user),
                    port.unwrap_or(22),
                    q(key_file)
                )
            }
        })
    }

    fn local_root(&self, site: &str) -> Option<PathBuf> {
        match self.get(site)? {
            Storage::Local { root, .. } => Some(PathBuf::from(root)),
            Storage::Sftp { .. } => None,
        }
    }

    fn bwlimit(&self, site: &str) -> Option<String> {
        match self.get(site)? {
            Storage::Local { bwlimit, .. } | Storage::Sftp { bwlimit, .. } => bwlimit.clone(),
        }
    }

    /// Runs rclone; its words on failure (the last lines of what it printed).
    fn rclone(&self, args: &[String]) -> Result<String, String> {
        let out = Command::new("rclone")
            .args(args)
            .args(QUIET_RETRIES)
            .output()
            .map_err(|e| format!("cannot run rclone: {e} (install Debian's rclone package)"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(rclone_words(&String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// The size of a file or folder on a site's storage, bytes; `Err` when it is not there.
    pub fn size(&self, site: &str, rel: &str) -> Result<u64, String> {
        if let Some(root) = self.local_root(site) {
            let p = root.join(rel);
            let meta = std::fs::metadata(&p).map_err(|e| format!("{site}:{rel}: {e}"))?;
            return Ok(if meta.is_dir() { dir_size(&p) } else { meta.len() });
        }
        let out = self.rclone(&["size".into(), "--json".into(), self.remote(site, rel)?])?;
        let v: serde_json::Value = serde_json::from_str(&out).map_err(|e| format!("{site}:{rel}: rclone size: {e}"))?;
        if v["count"].as_u64() == Some(0) {
            return Err(format!("{site}:{rel}: not found"));
        }
        v["bytes"].as_u64().ok_or_else(|| format!("{site}:{rel}: rclone size gave no bytes"))
    }

    /// A file's contents on a site's storage; `Ok(None)` when it is not there.
    pub fn read(&self, site: &str, rel: &str) -> Result<Option<Vec<u8>>, String> {
        if let Some(root) = self.local_root(site) {
            return match std::fs::read(root.join(rel)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("{site}:{rel}: {e}")),
            };
        }
        match self.rclone(&["cat".into(), self.remote(site, rel)?]) {
            Ok(text) => Ok(Some(text.into_bytes())),
            Err(e) if e.contains("not found") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Makes folders on a site's storage.
    pub fn mkdirs(&self, site: &str, rels: &[String]) -> Result<(), String> {
        for rel in rels {
            if let Some(root) = self.local_root(site) {
                std::fs::create_dir_all(root.join(rel)).map_err(|e| format!("{site}:{rel}: {e}"))?;
            } else {
                self.rclone(&["mkdir".into(), self.remote(site, rel)?])?;
            }
        }
        Ok(())
    }

    /// The checkpoint manifest in a job's checkpoint folder at a site, if a complete one is there.
    pub fn manifest(&self, site: &str, job: &str) -> Result<Option<Manifest>, String> {
        let rel = format!("{}/{CHECKPOINT_MANIFEST}", xisuan_control::run::checkpoint_dir(job));
        match self.read(site, &rel)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                format!("{site}:{rel}: not a checkpoint manifest ({e}); expected {{\"step\": S, \"total_steps\": T, \"path\": \"DIR\"}}")
            }),
        }
    }

    /// Carries out a transfer: checks the destination first (nothing moves when it already
    /// holds the same bytes), copies at the destination's bandwidth limit, then verifies sizes
    /// and checksums. `progress` hears the bytes moved so far, about once a second.
    pub fn transfer(&self, t: &TransferSpec, progress: &mut dyn FnMut(u64)) -> Result<Moved, String> {
        let t0 = Instant::now();
        if t.kind == TransferKind::Checkpoint {
            // The folder the source's manifest names, then the manifest: the destination never
            // holds a manifest whose folder is incomplete.
            let m = self.manifest(&t.from_site, &t.job)?.ok_or_else(|| format!("{}: no checkpoint manifest in {}", t.from_site, t.from_path))?;
            let dir = |p: &str| format!("{p}/{}", m.path);
            let a = self.copy(&t.from_site, &dir(&t.from_path), &t.to_site, &dir(&t.to_path), true, progress)?;
            self.check(&t.from_site, &dir(&t.from_path), &t.to_site, &dir(&t.to_path))
                .map_err(|e| format!("verification after the copy failed: {e}"))?;
            let manifest = format!("{}/{CHECKPOINT_MANIFEST}", t.from_path);
            let b = self.copy(&t.from_site, &manifest, &t.to_site, &format!("{}/{CHECKPOINT_MANIFEST}", t.to_path), false, &mut |_| {})?;
            self.check(&t.from_site, &manifest, &t.to_site, &t.to_path).map_err(|e| format!("verification after the copy failed: {e}"))?;
            return Ok(Moved {
                bytes: a.bytes + b.bytes,
                seconds: t0.elapsed().as_secs_f64(),
                note: format!("checkpoint {} (step {} of {}), verified", m.path, m.step, m.total_steps),
            });
        }
        if t.from_site == t.to_site {
            if let Some(root) = self.local_root(&t.to_site) {
                // Within one filesystem: a link into the job's folder.
                let (from, to) = (root.join(&t.from_path), root.join(&t.to_path));
                std::fs::metadata(&from).map_err(|e| format!("{}:{}: {e}", t.from_site, t.from_path))?;
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
                }
                let _ = std::fs::remove_file(&to);
                std::os::unix::fs::symlink(&from, &to).map_err(|e| format!("link {} -> {}: {e}", to.display(), from.display()))?;
                return Ok(Moved { bytes: 0.0, seconds: t0.elapsed().as_secs_f64(), note: "linked (same storage)".into() });
            }
        }
        let is_dir = match self.local_root(&t.from_site) {
            Some(root) => root.join(&t.from_path).is_dir(),
            None => {
                let out = self.rclone(&["lsjson".into(), "--stat".into(), self.remote(&t.from_site, &t.from_path)?])?;
                serde_json::from_str::<serde_json::Value>(&out).ok().and_then(|v| v["IsDir"].as_bool()).unwrap_or(false)
            }
        };
        let (parent, _) = t.to_path.rsplit_once('/').unwrap_or(("", &t.to_path));
        let dest = if is_dir { t.to_path.clone() } else { parent.to_string() };
        if self.check(&t.from_site, &t.from_path, &t.to_site, &dest).is_ok() {
            return Ok(Moved {
                bytes: 0.0,
                seconds: t0.elapsed().as_secs_f64(),
                note: "already at the destination (sizes and checksums match)".into(),
            });
        }
        let mut m = self.copy(&t.from_site, &t.from_path, &t.to_site, &t.to_path, is_dir, progress)?;
        self.check(&t.from_site, &t.from_path, &t.to_site, &dest).map_err(|e| format!("verification after the copy failed: {e}"))?;
        m.seconds = t0.elapsed().as_secs_f64();
        m.note = "verified (sizes and checksums)".into();
        Ok(m)
    }

    /// `rclone check` one way: every source file is at the destination with its size and hash.
    fn check(&self, from_site: &str, from: &str, to_site: &str, to_dir: &str) -> Result<(), String> {
        let mut args = vec!["check".to_string(), "--one-way".into(), self.remote(from_site, from)?, self.remote(to_site, to_dir)?];
        if matches!(self.get(from_site), Some(Storage::Sftp { .. })) != matches!(self.get(to_site), Some(Storage::Sftp { .. })) {
            // No hash both sides compute: read the destination back.
            args.push("--download".into());
        }
        self.rclone(&args).map(|_| ())
    }

    /// `rclone copy` (a folder into the folder `to`) or `copyto` (a file to the file `to`) at the destination's bandwidth limit,
    /// reading its JSON stats for progress; returns the bytes moved.
    fn copy(&self, from_site: &str, from: &str, to_site: &str, to: &str, dir: bool, progress: &mut dyn FnMut(u64)) -> Result<Moved, String> {
        let t0 = Instant::now();
        let mut args = vec![
            if dir { "copy" } else { "copyto" }.to_string(),
            self.remote(from_site, from)?,
            self.remote(to_site, to)?,
            "--stats".into(),
            "1s".into(),
            "--use-json-log".into(),
            "-v".into(),
        ];
        args.extend(QUIET_RETRIES.iter().map(|s| s.to_string()));
        if let Some(b) = self.bwlimit(to_site) {
            args.push("--bwlimit".into());
            args.push(b);
        }
        let mut child = Command::new("rclone")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run rclone: {e} (install Debian's rclone package)"))?;
        let mut bytes = 0u64;
        let mut words = String::new();
        if let Some(err) = child.stderr.take() {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                if let Some(b) = v["stats"]["bytes"].as_u64() {
                    bytes = b;
                    progress(b);
                }
                if matches!(v["level"].as_str(), Some("error" | "critical")) || v.is_null() {
                    words.push_str(v["msg"].as_str().unwrap_or(&line).trim());
                    words.push('\n');
                }
            }
        }
        let status = child.wait().map_err(|e| format!("rclone: {e}"))?;
        if !status.success() {
            return Err(rclone_words(&words));
        }
        Ok(Moved { bytes: bytes as f64, seconds: t0.elapsed().as_secs_f64(), note: String::new() })
    }
}

/// rclone's own words for a failure: its error lines, the last few.
fn rclone_words(stderr: &str) -> String {
    let lines: Vec<&str> =
        stderr.lines().map(str::trim).filter(|l| !l.is_empty() && !l.contains("Config file") && !l.contains("config file")).collect();
    let errors: Vec<&str> = lines.iter().copied().filter(|l| l.contains("ERROR") || l.contains("Failed") || l.contains("error")).collect();
    let pick = if errors.is_empty() { &lines } else { &errors };
    let tail: Vec<&str> = pick.iter().rev().take(3).rev().copied().collect();
    format!("rclone: {}", if tail.is_empty() { "failed".to_string() } else { tail.join(" | ") })
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use xisuan_control::TransferKind;

    fn local(root: &Path, bw: Option<&str>) -> Storage {
        Storage::Local { root: root.display().to_string(), bwlimit: bw.map(str::to_string), pvc: None, origin: "test".into() }
    }

    /// A real copy between two local storages through rclone: verified, not repeated, and a
    /// missing source fails in rclone's words.
    #[test]
    fn a_transfer_copies_verifies_and_is_not_repeated() {
        if Command::new("rclone").arg("version").output().is_err() {
            panic!("rclone is not installed (.ci/run installs Debian's rclone package)");
        }
        let dir = std::env::temp_dir().join(format!("xisuan-storage-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::create_dir_all(a.join("data")).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(a.join("data/set.bin"), &bytes).unwrap();
        let mut s = Stores::default();
        s.add("a", &local(&a, None));
        s.add("b", &local(&b, Some("100M")));
        assert_eq!(s.size("a", "data/set.bin"), Ok(3_000_000));
        assert!(s.size("a", "data/none.bin").is_err());
        let t = TransferSpec {
            id: "j/a1/input/0".into(),
            job: "j".into(),
            attempt: 1,
            kind: TransferKind::Input,
            from_site: "a".into(),
            from_path: "data/set.bin".into(),
            to_site: "b".into(),
            to_path: "xisuan/jobs/j/inputs/set.bin".into(),
            bytes: 3e6,
        };
        let mut seen = 0;
        let m = s.transfer(&t, &mut |b| seen = b).unwrap();
        assert_eq!(m.bytes, 3e6, "{m:?}");
        assert_eq!(std::fs::read(b.join("xisuan/jobs/j/inputs/set.bin")).unwrap(), bytes);
        let again = s.transfer(&t, &mut |_| {}).unwrap();
        assert_eq!((again.bytes, again.note.contains("already")), (0.0, true), "{again:?}");
        // Within one storage: linked.
        let same = TransferSpec { to_site: "a".into(), ..t.clone() };
        assert!(s.transfer(&same, &mut |_| {}).unwrap().note.contains("linked"));
        assert_eq!(std::fs::read(a.join("xisuan/jobs/j/inputs/set.bin")).unwrap(), bytes);
        // A checkpoint: the folder its manifest names, then the manifest; older folders stay.
        let ck = a.join("xisuan/jobs/j/checkpoints");
        for step in ["step-1", "step-2"] {
            std::fs::create_dir_all(ck.join(step)).unwrap();
            std::fs::write(ck.join(step).join("w.npy"), step).unwrap();
        }
        std::fs::write(ck.join("xisuan-checkpoint.json"), r#"{"step": 2, "total_steps": 4, "progress": 0.5, "path": "step-2"}"#).unwrap();
        let c = TransferSpec {
            id: "j/a2/checkpoint/0".into(),
            kind: TransferKind::Checkpoint,
            from_path: "xisuan/jobs/j/checkpoints".into(),
            to_path: "xisuan/jobs/j/checkpoints".into(),
            bytes: 0.0,
            ..t.clone()
        };
        let m = s.transfer(&c, &mut |_| {}).unwrap();
        assert!(m.note.contains("step-2") && m.bytes > 0.0, "{m:?}");
        let got = b.join("xisuan/jobs/j/checkpoints");
        assert_eq!(std::fs::read_to_string(got.join("step-2/w.npy")).unwrap(), "step-2");
        assert!(!got.join("step-1").exists());
        assert_eq!(s.manifest("b", "j").unwrap(), Some(Manifest { step: 2, total_steps: 4, path: "step-2".into() }));
        let missing = TransferSpec { from_path: "data/none.bin".into(), ..t };
        let e = s.transfer(&missing, &mut |_| {}).unwrap_err();
        assert!(e.starts_with("rclone: "), "{e}");
        let _ = seen;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
