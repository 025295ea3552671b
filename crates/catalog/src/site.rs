//! A site (a place where accelerators can run) and a user region (a place where demand
//! comes from). Every data value carries its source and confidence.

use crate::ids::{Provider, PueKind, Role, SiteId};
use serde::Serialize;
use std::collections::BTreeMap;
use xisuan_model::{Confidence, KgPerKwh, Sourced, Usd, UsdPerKwh};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Site {
    pub id: SiteId,
    pub name: String,
    pub provider: Provider,
    pub role: Role,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// Province, state or provider region name.
    pub region: String,
    /// For EDWC clusters: the national hub (e.g. "Ningxia"); `None` elsewhere.
    pub hub: Option<String>,
    pub lat: f64,
    pub lon: f64,
    /// Where `lat`/`lon` come from and how exact they are (city-level for cloud regions).
    pub location_source: String,
    pub location_confidence: Confidence,
    /// The Electricity-Maps-style zone key whose hourly series applies ("DE-LU",
    /// "US-CAL-CISO"), or "CN-<Province>" for Chinese sites.
    pub grid_zone: Option<String>,
    /// Annual average grid carbon intensity (location-based).
    pub carbon_annual: Sourced<KgPerKwh>,
    /// Share of carbon-free electricity (0..1) where a source gives one.
    pub low_carbon_share: Option<Sourced<f64>>,
    /// Annual average electricity price paid by a large consumer.
    pub price_annual: Sourced<UsdPerKwh>,
    pub pue: Sourced<f64>,
    pub pue_kind: PueKind,
    /// Accelerators available, by accelerator id ("h100", "a100-80gb", "ascend-910b").
    pub capacity: BTreeMap<String, Sourced<u32>>,
    /// On-demand price of one accelerator-hour, by accelerator id.
    pub gpu_hour_price: BTreeMap<String, Sourced<Usd>>,
    /// The cluster that runs work placed here, when a catalog file names one (`dispatch = {...}`).
    pub dispatch: Option<Dispatch>,
    /// Where the site keeps jobs' data, checkpoints, outputs and logs, when a catalog file
    /// names it (`storage = {...}`).
    pub storage: Option<Storage>,
}

/// A site's storage: the filesystem its cluster's nodes see, and how xisuan reaches it to
/// move data in and out (rclone). `root` is the same path on the nodes and, for `sftp`, on the
/// SSH server (a data-transfer node that mounts the cluster's filesystem).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Storage {
    /// A filesystem this server mounts too (a shared filesystem, or one machine).
    Local {
        root: String,
        /// rclone's `--bwlimit` for copies into this storage (e.g. "20M": 20 MiB/s).
        bwlimit: Option<String>,
        /// The PersistentVolumeClaim that holds `root` where the site runs Kubernetes.
        pvc: Option<String>,
        origin: String,
    },
    /// A remote filesystem reached over SFTP.
    Sftp {
        host: String,
        port: Option<u16>,
        user: String,
        /// The private key's file (relative to the catalog file's folder).
        key_file: String,
        root: String,
        bwlimit: Option<String>,
        pvc: Option<String>,
        origin: String,
    },
}

impl Storage {
    /// The root as the cluster's nodes see it.
    pub fn root(&self) -> &str {
        match self {
            Storage::Local { root, .. } | Storage::Sftp { root, .. } => root,
        }
    }
}

/// How `xisuan server` hands work at a site to its cluster. Paths are as written in the file
/// named by `origin`; a relative one is relative to that file's folder.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Dispatch {
    /// Slurm's commands (`sbatch`, `squeue`, `scancel`, `sinfo`) with this `slurm.conf`.
    Slurm { conf: String, partition: Option<String>, origin: String },
    /// slurmrestd at `url` with the JWT in the file `token`.
    Slurmrest { url: String, token: String, partition: Option<String>, version: Option<String>, origin: String },
    /// A Kubernetes API server at `url` (plain HTTP, e.g. `kubectl proxy`): Jobs in `namespace`
    /// through Kueue's LocalQueue `queue`, running `image`.
    Kubernetes { url: String, namespace: Option<String>, queue: Option<String>, image: Option<String>, origin: String },
}

impl Site {
    /// True for sites in mainland China, where only annual provincial grid factors exist.
    pub fn in_mainland_china(&self) -> bool {
        self.country == "CN"
    }
}

/// A place demand comes from: a city with a rough weight (population in millions).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserRegion {
    pub name: String,
    pub country: String,
    pub lat: f64,
    pub lon: f64,
    /// Relative weight of the demand, here metropolitan population in millions.
    pub weight: Sourced<f64>,
    /// Standard local time offset from UTC, hours (the daily demand curve follows local time).
    pub utc_offset_hours: Option<Sourced<f64>>,
}
