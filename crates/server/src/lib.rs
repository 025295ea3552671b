//! `xisuan server`: the control plane at the edge. It accepts work over HTTP (`api`), records
//! every event in the store before it is acknowledged or acted on (`store`), keeps the state by
//! folding the log (`xisuan_control::State::apply`), and runs the control loop: planning rounds
//! with the same planner as `xisuan plan`, dispatch of work whose start has come, and a
//! simulated backend that runs dispatched work in (scaled) time.
//!
//! Several servers may share one PostgreSQL database: all serve the API and append to the log;
//! the one holding the leader lock runs the loop, and the others take over when it dies.
//! Everything a server knows comes from the log, so a restart (or a kill -9) rebuilds the same
//! state and nothing acknowledged is lost.

pub mod api;
pub mod client;
pub mod cluster;
pub mod jobs;
pub mod k8s;
pub mod slurm;
pub mod storage;
pub mod store;
pub mod ui;

use anyhow::{anyhow, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use store::{Appended, Db, Leadership, NewEvent, Store};
use xisuan_control::cluster::{Attempt, JobState, Seen};
use xisuan_control::{self as control, Event, State};
use xisuan_io::world::{BuiltSite, WorldSpec};
use xisuan_plan::{Problem, Solver};

/// How the server is started.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub db: Db,
    /// A scenario file whose sites, series, costs and objective make the world (its jobs and
    /// services are ignored); `None` for the built-in EDWC example.
    pub world: Option<std::path::PathBuf>,
    /// Seconds of wall clock per planning hour (3600 in production; small in tests and demos).
    pub hour_seconds: f64,
    /// Hours planned ahead in each round.
    pub horizon_h: u32,
    /// Seconds the planner may spend on a round.
    pub plan_budget_s: f64,
    /// USD charged in the planner's objective for moving planned work (so plans do not flap).
    pub churn_usd: f64,
    /// Run the control loop (false for a replica that only serves the API).
    pub control_loop: bool,
    /// The leader writes a snapshot of the state after this many new events (0: never).
    pub snapshot_every: u64,
    /// Sites run by real Slurm clusters; the others use the simulated backend.
    pub slurm: slurm::Slurm,
    /// Sites run by Kubernetes clusters (Jobs queued through Kueue).
    pub kube: k8s::KubeClusters,
    /// Sites' storage (from the catalog's `storage` keys; `open` gives each cluster site
    /// without one a local folder under the Slurm work directory).
    pub stores: storage::Stores,
    /// How each round sees carbon and prices after the current hour: a forecast issued now
    /// from the hours before (`xisuan_model::forecast`), or `None` for the series themselves
    /// (hindsight, for replaying a known year).
    pub forecast: Option<xisuan_model::forecast::Model>,
    /// Seconds a dispatched attempt may sit pending at its cluster after its planned start
    /// (for resources, priority, nodes) before it is cancelled there and placed again.
    pub pending_limit_s: f64,
    /// SHA-256 (hex) of the token a metrics scraper presents (`XISUAN_METRICS_TOKEN`); the
    /// admin's token also reads `/metrics`.
    pub metrics_token_sha256: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            db: Db::Sqlite("xisuan.db".into()),
            world: None,
            hour_seconds: 3600.0,
            horizon_h: 168,
            plan_budget_s: 1.5,
            churn_usd: xisuan_control::DEFAULT_CHURN_USD,
            control_loop: true,
            snapshot_every: 10_000,
            slurm: slurm::Slurm::default(),
            kube: k8s::KubeClusters::default(),
            stores: storage::Stores::default(),
            forecast: Some(xisuan_model::forecast::Model::Profile),
            pending_limit_s: 1800.0,
            metrics_token_sha256: None,
        }
    }
}

/// Hours of history before the current hour that forecasts read (two weeks).
const FORECAST_HISTORY_H: u32 = 336;

/// The built-in world: the EDWC example's sites, tariffs and objective.
const EDWC_SCENARIO: &str = include_str!("../../../examples/edwc/scenario.toml");
const EDWC_SITES: &str = include_str!("../../../examples/edwc/sites.toml");

struct BuiltIn;
impl xisuan_io::scenario::Files for BuiltIn {
    fn read(&self, path: &std::path::Path) -> std::io::Result<String> {
        if path.file_name().is_some_and(|n| n == "sites.toml") {
            Ok(EDWC_SITES.to_string())
        } else {
            Err(std::io::Error::new(std::io::ErrorKind::NotFound, "the built-in world names only sites.toml"))
        }
    }
}

/// The time of the control plane, in hours since the Unix epoch. With `hour_seconds` below
/// 3600 it runs faster than the wall clock, from an origin fixed in the store at its first
/// start, so that restarts keep the same time line.
#[derive(Debug, Clone)]
pub struct Clock {
    origin_unix_s: f64,
    origin_h: f64,
    hour_seconds: f64,
}

pub(crate) fn unix_s() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

impl Clock {
    pub fn now_h(&self) -> f64 {
        self.origin_h + (unix_s() - self.origin_unix_s) / self.hour_seconds
    }
}

/// The state and the last sequence number folded into it.
pub struct Known {
    pub state: State,
    pub seq: i64,
}

/// Latency of planning rounds, for the metrics.
#[derive(Default)]
struct RoundStats {
    count: u64,
    sum_s: f64,
    last_s: f64,
    failures: u64,
}

/// Event streams one tenant may hold open on one server at once.
pub const MAX_STREAMS: usize = 4;

/// A tenant's turn on an event stream: taken when the stream opens, given back when it closes.
pub struct StreamTurn {
    app: Arc<App>,
    tenant: String,
}

impl StreamTurn {
    pub fn take(app: &Arc<App>, tenant: &str) -> Option<StreamTurn> {
        let mut open = app.streams.lock().ok()?;
        let n = open.entry(tenant.to_string()).or_default();
        if *n >= MAX_STREAMS {
            return None;
        }
        *n += 1;
        Some(StreamTurn { app: app.clone(), tenant: tenant.to_string() })
    }
}

impl Drop for StreamTurn {
    fn drop(&mut self) {
        if let Ok(mut open) = self.app.streams.lock() {
            if let Some(n) = open.get_mut(&self.tenant) {
                *n = n.saturating_sub(1);
            }
        }
    }
}

/// What every handler and the loop share.
pub struct App {
    pub store: Store,
    pub known: RwLock<Known>,
    pub world: WorldSpec,
    template: Problem,
    pub clock: Clock,
    pub config: Config,
    pub ready: AtomicBool,
    pub leader: AtomicBool,
    /// This process's name as a lease holder, and the lease while it holds it (with the local
    /// instant it must be renewed by: after it, this process acts as a follower until renewed).
    pub holder: String,
    lease: Mutex<Option<(store::Lease, Instant)>>,
    /// Event streams open, by tenant.
    streams: Mutex<BTreeMap<String, usize>>,
    rounds: Mutex<RoundStats>,
    /// Sites built for the current hour, cached per hour.
    sites_cache: Mutex<Option<(i64, Vec<BuiltSite>)>>,
    series_notes: Mutex<Vec<String>>,
    dispatches: AtomicU64,
    catch_up: tokio::sync::Mutex<()>,
    /// The event the newest snapshot (written or read by this process) folds up to.
    snapshot_seq: std::sync::atomic::AtomicI64,
    /// Job attempts this process submitted to a cluster (its queue shows them once accepted).
    cluster_submitted: Mutex<BTreeSet<(String, u32)>>,
    /// Accelerators each cluster site reports in use by work that is not ours, by type: taken
    /// from the catalog's capacity in every round.
    cluster_others: Mutex<BTreeMap<String, BTreeMap<String, u32>>>,
    /// Transfers this process is running, with the bytes moved so far.
    pub transfers_live: Mutex<BTreeMap<String, u64>>,
}

/// Random bytes as lowercase hex (ids and tokens).
pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("the OS random source");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl App {
    /// Starts from the newest snapshot, if any (the events after it are folded by `sync`).
    pub async fn restore(&self) -> Result<()> {
        if let Some((seq, body)) = self.store.latest_snapshot().await? {
            let state: State = serde_json::from_str(&body).with_context(|| format!("snapshot at event {seq} is not readable"))?;
            let mut k = self.known.write().map_err(|_| anyhow!("state lock poisoned"))?;
            k.state = state;
            k.seq = seq;
            self.snapshot_seq.store(seq, Ordering::Relaxed);
            eprintln!("xisuan server: state from the snapshot at event {seq}, then the events after it");
        }
        Ok(())
    }

    /// Writes a snapshot when `snapshot_every` events have passed since the last one.
    async fn maybe_snapshot(&self) -> Result<()> {
        let every = self.config.snapshot_every as i64;
        let (seq, body) = {
            let k = self.known.read().map_err(|_| anyhow!("state lock poisoned"))?;
            if every == 0 || k.seq - self.snapshot_seq.load(Ordering::Relaxed) < every {
                return Ok(());
            }
            (k.seq, serde_json::to_string(&k.state)?)
        };
        self.store.put_snapshot(seq, (unix_s() * 1000.0) as i64, body).await?;
        self.snapshot_seq.store(seq, Ordering::Relaxed);
        Ok(())
    }

    /// Folds every event after the last one known.
    pub async fn sync(&self) -> Result<()> {
        loop {
            let seq = self.known.read().map_err(|_| anyhow!("state lock poisoned"))?.seq;
            let rows = self.store.since(seq, 5000).await?;
            if rows.is_empty() {
                return Ok(());
            }
            let mut k = self.known.write().map_err(|_| anyhow!("state lock poisoned"))?;
            for (s, body) in rows {
                if s <= k.seq {
                    continue;
                }
                let e: Event = serde_json::from_str(&body).with_context(|| format!("event {s} in the store is not readable"))?;
                k.state.apply(&e);
                k.seq = s;
            }
        }
    }

    /// Appends events (with tenant and idempotency key), durably, then folds them in.
    pub async fn append(&self, events: Vec<(Event, String, Option<String>)>) -> Result<Vec<Appended>> {
        self.append_decided(events, None).await
    }

    /// Appends events decided on the state as of log sequence `decided_at` (optimistic
    /// concurrency): an event about a job or service that something was written about since
    /// is not written (`Appended::Conflict`); the caller decides again on the newer state.
    pub async fn append_decided(&self, events: Vec<(Event, String, Option<String>)>, decided_at: Option<i64>) -> Result<Vec<Appended>> {
        self.append_with(events, decided_at, None).await
    }

    /// The lease this process holds now, if it leads (and its lease has not run out by the
    /// local clock: a process frozen past it acts as a follower until it renews).
    pub fn leading(&self) -> Option<store::Lease> {
        let l = self.lease.lock().ok()?;
        l.as_ref().filter(|(_, until)| Instant::now() < *until).map(|(l, _)| l.clone())
    }

    /// Appends the control loop's decisions under this process's lease (`append_decided`):
    /// written only while its epoch is the current one, `Appended::Deposed` otherwise.
    pub async fn append_as_leader(&self, events: Vec<(Event, String, Option<String>)>, decided_at: i64) -> Result<Vec<Appended>> {
        match self.leading() {
            Some(lease) => self.append_with(events, Some(decided_at), Some(lease)).await,
            None => Ok(events.iter().map(|_| Appended::Deposed).collect()),
        }
    }

    async fn append_with(
        &self,
        events: Vec<(Event, String, Option<String>)>,
        decided_at: Option<i64>,
        lease: Option<store::Lease>,
    ) -> Result<Vec<Appended>> {
        let at_ms = (unix_s() * 1000.0) as i64;
        let rows: Vec<NewEvent> = events
            .iter()
            .map(|(e, tenant, key)| {
                Ok(NewEvent {
                    at_ms,
                    tenant: tenant.clone(),
                    idem_key: key.clone(),
                    kind: e.kind().into(),
                    job: e.subject(),
                    body: serde_json::to_string(e)?,
                    decided_at,
                    also: e.also_read(),
                })
            })
            .collect::<Result<_>>()?;
        let out = self.store.append(rows, lease).await?;
        // Wait until the state has folded these events in. Concurrent requests share one read
        // of the log: whoever holds `catch_up` reads everything new, the others find their
        // events already folded when they get it.
        let last = out
            .iter()
            .map(|a| match a {
                Appended::New(s) | Appended::Existing(s, _) => *s,
                Appended::Conflict | Appended::Deposed => 0,
            })
            .max()
            .unwrap_or(0);
        let _turn = self.catch_up.lock().await;
        if self.known.read().map_err(|_| anyhow!("state lock poisoned"))?.seq < last {
            self.sync().await?;
        }
        Ok(out)
    }

    /// Whether a real cluster runs a site's work (the others use the simulated backend).
    pub(crate) fn on_cluster(&self, site: &str) -> bool {
        self.config.slurm.has(site) || self.config.kube.has(site)
    }

    /// The real cluster that runs a site's work, if one does.
    fn backend(&self, site: &str) -> Option<Arc<dyn cluster::Backend>> {
        if self.config.slurm.has(site) {
            Some(Arc::new(self.config.slurm.clone()))
        } else if self.config.kube.has(site) {
            Some(Arc::new(self.config.kube.clone()))
        } else {
            None
        }
    }

    /// The world's sites for the planning horizon from the current hour.
    pub fn built_sites_now(&self, now_h: f64) -> Result<Vec<BuiltSite>> {
        let hour = now_h.floor() as i64;
        let mut cache = self.sites_cache.lock().map_err(|_| anyhow!("cache poisoned"))?;
        if let Some((h, sites)) = cache.as_ref() {
            if *h == hour {
                return Ok(sites.clone());
            }
        }
        let mut diags = Vec::new();
        let sites = match self.config.forecast {
            None => self.world.sites(hour, self.config.horizon_h, &mut diags),
            Some(model) => {
                // Two weeks before the current hour are history; the current hour is known;
                // every later hour is the forecast issued now.
                let past = FORECAST_HISTORY_H;
                let mut sites = self.world.sites(hour - past as i64, past + self.config.horizon_h, &mut diags);
                for b in &mut sites {
                    let seen = |v: &[f64]| xisuan_model::forecast::as_seen(model, &v[..past as usize], &v[past as usize..], 0);
                    b.site.kg_per_kwh = seen(&b.site.kg_per_kwh);
                    b.site.usd_per_kwh = seen(&b.site.usd_per_kwh);
                }
                sites
            }
        };
        *self.series_notes.lock().map_err(|_| anyhow!("notes poisoned"))? =
            diags.iter().filter(|d| d.severity != xisuan_model::Severity::Info).map(|d| d.to_string()).collect();
        *cache = Some((hour, sites.clone()));
        Ok(sites)
    }

    pub fn sites_now(&self, now_h: f64) -> Result<Vec<xisuan_plan::Site>> {
        Ok(self.built_sites_now(now_h)?.into_iter().map(|b| b.site).collect())
    }

    /// How the current hour maps onto the series (hours outside a series read the same offset
    /// of it, e.g. the same hour of a calendar-year series).
    pub fn time_notes(&self) -> Vec<String> {
        let now = xisuan_catalog::series::format_hour(self.clock.now_h().floor() as i64);
        let mut notes = vec![format!(
            "server time {now} (hour {:.2} since the epoch; {} s of wall clock per hour)",
            self.clock.now_h(),
            self.config.hour_seconds
        )];
        notes.push(match self.config.forecast {
            Some(m) => format!("planned on forecasts: carbon and prices after {now} are {} forecasts issued then from the two weeks before (`xisuan forecast` scores the model); costs and carbon of planned work are expectations", m.name()),
            None => "planned on the series themselves (--forecast perfect): hindsight, for replaying a known period".into(),
        });
        notes.extend(self.series_notes.lock().map(|n| n.clone()).unwrap_or_default());
        notes
    }

    /// The world as a planning problem for the horizon from `now_h` (no jobs yet).
    fn world_now(&self, now_h: f64) -> Result<Problem> {
        let mut p = self.template.clone();
        p.start_hour = now_h.floor() as i64;
        p.slots = self.config.horizon_h;
        p.sites = self.sites_now(now_h)?;
        // Capacity observed, not assumed: what others' work holds at a cluster is not ours.
        let others = self.cluster_others.lock().map_err(|_| anyhow!("lock poisoned"))?;
        for s in p.sites.iter_mut() {
            if let Some(used) = others.get(&s.id) {
                for (acc, cap) in s.capacity.iter_mut() {
                    *cap = cap.saturating_sub(used.get(acc).copied().unwrap_or(0));
                }
            }
        }
        p.objective.churn_usd = self.config.churn_usd;
        Ok(p)
    }

    /// The metrics in Prometheus text format.
    pub fn metrics_text(&self) -> Result<String> {
        use std::fmt::Write;
        let k = self.known.read().map_err(|_| anyhow!("state lock poisoned"))?;
        let s = &k.state;
        let mut out = String::new();
        let _ = writeln!(out, "# HELP xisuan_jobs Jobs by state.\n# TYPE xisuan_jobs gauge");
        for (status, n) in s.counts() {
            let _ = writeln!(out, "xisuan_jobs{{state=\"{}\"}} {n}", status.name());
        }
        let active = s.active_services().count();
        let replicas: u64 = s.active_services().filter_map(|v| v.latest.as_ref()).map(|l| l.replicas.iter().map(|r| r.1 as u64).sum::<u64>()).sum();
        let unmet: f64 = s.active_services().filter_map(|v| v.latest.as_ref()).map(|l| l.unmet_rps_hours).sum();
        let _ = writeln!(out, "# HELP xisuan_services Services by state.\n# TYPE xisuan_services gauge\nxisuan_services{{state=\"active\"}} {active}\nxisuan_services{{state=\"cancelled\"}} {}", s.services.len() - active);
        let _ = writeln!(out, "# HELP xisuan_service_replicas Replicas of active services running this hour.\n# TYPE xisuan_service_replicas gauge\nxisuan_service_replicas {replicas}");
        // Prometheus' base units (promtool check metrics): requests rather than rps*h, grams
        // rather than kg.
        let _ = writeln!(out, "# HELP xisuan_service_unmet_requests Requests the latest round could not serve within the latency objectives over its horizon.\n# TYPE xisuan_service_unmet_requests gauge\nxisuan_service_unmet_requests {}", unmet * 3600.0);
        let _ = writeln!(
            out,
            "# HELP xisuan_submissions_total Jobs and services submitted.\n# TYPE xisuan_submissions_total counter\nxisuan_submissions_total {}",
            s.submissions
        );
        let _ = writeln!(out, "# HELP xisuan_events_total Events in the log.\n# TYPE xisuan_events_total counter\nxisuan_events_total {}", s.events);
        let _ = writeln!(out, "# HELP xisuan_accelerators_busy Accelerators held by dispatched or running work and by service replicas.\n# TYPE xisuan_accelerators_busy gauge\nxisuan_accelerators_busy {}", s.gpus_busy());
        let _ = writeln!(
            out,
            "# HELP xisuan_dispatches_total Dispatches this process made.\n# TYPE xisuan_dispatches_total counter\nxisuan_dispatches_total {}",
            self.dispatches.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP xisuan_leader Whether this process runs the control loop.\n# TYPE xisuan_leader gauge\nxisuan_leader {}",
            self.leader.load(Ordering::Relaxed) as u8
        );
        let _ = writeln!(out, "# HELP xisuan_snapshot_event The event the newest snapshot this process wrote or read folds up to (0: none).\n# TYPE xisuan_snapshot_event gauge\nxisuan_snapshot_event {}", self.snapshot_seq.load(Ordering::Relaxed));
        let _ =
            writeln!(out, "# HELP xisuan_sites_down Sites marked down.\n# TYPE xisuan_sites_down gauge\nxisuan_sites_down {}", s.sites_down.len());
        let _ = writeln!(out, "# HELP xisuan_events_refused_total Events the fold refused as illegal for the state they arrived in (decided on a state that changed before they were written).\n# TYPE xisuan_events_refused_total counter\nxisuan_events_refused_total {}", s.refused_events);
        if let Ok(r) = self.rounds.lock() {
            let _ = writeln!(out, "# HELP xisuan_planning_round_seconds Wall time of planning rounds in this process.\n# TYPE xisuan_planning_round_seconds summary\nxisuan_planning_round_seconds_sum {}\nxisuan_planning_round_seconds_count {}", r.sum_s, r.count);
            let _ = writeln!(out, "# HELP xisuan_planning_round_last_seconds The latest round's wall time.\n# TYPE xisuan_planning_round_last_seconds gauge\nxisuan_planning_round_last_seconds {}", r.last_s);
            let _ = writeln!(out, "# HELP xisuan_planning_round_failures_total Rounds that could not plan.\n# TYPE xisuan_planning_round_failures_total counter\nxisuan_planning_round_failures_total {}", r.failures);
        }
        let _ = writeln!(out, "# HELP xisuan_planning_rounds_total Planning rounds in the log.\n# TYPE xisuan_planning_rounds_total counter\nxisuan_planning_rounds_total {}", s.rounds);
        if let Some(r) = &s.last_round {
            let gauge = |out: &mut String, name: &str, help: &str, v: Option<f64>| {
                if let Some(v) = v.filter(|v| v.is_finite()) {
                    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
                }
            };
            gauge(&mut out, "xisuan_plan_objective", "The latest plan's objective (USD-equivalent).", Some(r.objective));
            gauge(&mut out, "xisuan_plan_bound", "Its best lower bound.", r.bound);
            gauge(&mut out, "xisuan_plan_gap", "Its relative gap to the bound.", r.gap);
            gauge(&mut out, "xisuan_plan_cost_usd", "Its cost, USD.", Some(r.cost_usd));
            gauge(&mut out, "xisuan_plan_carbon_grams", "Its emissions, gCO2e.", Some(r.carbon_kg * 1000.0));
            gauge(&mut out, "xisuan_run_now_cost_usd", "The same work run as soon as capacity allows, USD.", r.run_now_cost_usd);
            gauge(
                &mut out,
                "xisuan_run_now_carbon_grams",
                "The same work run as soon as capacity allows, gCO2e.",
                r.run_now_carbon_kg.map(|k| k * 1000.0),
            );
            gauge(
                &mut out,
                "xisuan_nearest_east_cost_usd",
                "The same work at the eastern hub nearest its data, run now, USD.",
                r.nearest_east_cost_usd,
            );
            gauge(
                &mut out,
                "xisuan_nearest_east_carbon_grams",
                "The same work at the eastern hub nearest its data, run now, gCO2e.",
                r.nearest_east_carbon_kg.map(|k| k * 1000.0),
            );
        }
        Ok(out)
    }
}

/// Builds the app: store, state rebuilt from the log, world, clock, admin tenant.
pub async fn open(config: Config) -> Result<Arc<App>> {
    let store = Store::open(config.db.clone())?;
    let scenario = match &config.world {
        Some(path) => xisuan_io::scenario::load(path)?,
        None => xisuan_io::scenario::from_text_with(EDWC_SCENARIO, "built-in EDWC world", std::path::Path::new(""), &BuiltIn)?,
    };
    if let Some(site) = config.slurm.sites.keys().find(|s| !scenario.world.site_ids.contains(s)) {
        return Err(anyhow!("--slurm: site {site} is not in this server's world ({})", scenario.world.site_ids.join(", ")));
    }
    if let Some(site) = config.kube.sites.keys().find(|s| !scenario.world.site_ids.contains(s)) {
        return Err(anyhow!("--kube: site {site} is not in this server's world ({})", scenario.world.site_ids.join(", ")));
    }
    if let Some(site) = config.kube.sites.keys().find(|s| config.slurm.has(s)) {
        return Err(anyhow!("--kube: site {site} is also named by --slurm; a site has one cluster"));
    }
    let mut config = config;
    for id in &scenario.world.site_ids {
        match scenario.world.catalog.site(id).and_then(|s| s.dispatch.as_ref()) {
            Some(_) if config.slurm.has(id) || config.kube.has(id) => {}
            Some(d @ xisuan_catalog::Dispatch::Kubernetes { .. }) => config.kube.add_from_catalog(id, d).map_err(|m| anyhow!("{m}"))?,
            Some(d) => config.slurm.add_from_catalog(id, d).map_err(|m| anyhow!("{m}"))?,
            None => {}
        }
    }
    // Storage: the catalog's, else a folder under the Slurm work directory for each site a
    // real cluster runs (the same path on its nodes: one machine, or a shared filesystem).
    for id in &scenario.world.site_ids {
        if let Some(st) = scenario.world.catalog.site(id).and_then(|s| s.storage.as_ref()) {
            config.stores.add(id, st);
        } else if config.slurm.has(id) || config.kube.has(id) {
            let root = std::path::absolute(config.slurm.workdir.join(id)).unwrap_or_else(|_| config.slurm.workdir.join(id));
            eprintln!(
                "xisuan server: site {id} names no storage; its jobs' folders are under {} (the cluster's nodes must see that path)",
                root.display()
            );
            config.stores.add(
                id,
                &xisuan_catalog::Storage::Local { root: root.display().to_string(), bwlimit: None, pvc: None, origin: "--slurm-workdir".into() },
            );
        }
    }
    let mut template = scenario.problem.clone();
    template.jobs.clear();
    template.services.clear();
    template.regions.clear();
    template.latency_ms.clear();
    config.slurm.prefix = store.meta_init("slurm_prefix", &random_hex(4)).await?;
    config.kube.prefix = config.slurm.prefix.clone();
    let origin_unix_s: f64 = store.meta_init("clock_origin_unix_s", &format!("{}", unix_s())).await?.parse()?;
    let origin_h: f64 = store.meta_init("clock_origin_h", &format!("{}", unix_s() / 3600.0)).await?.parse()?;
    let app = Arc::new(App {
        store,
        known: RwLock::new(Known { state: State::default(), seq: 0 }),
        world: scenario.world,
        template,
        clock: Clock { origin_unix_s, origin_h, hour_seconds: config.hour_seconds },
        config,
        ready: AtomicBool::new(false),
        leader: AtomicBool::new(false),
        holder: format!("{}-{}", std::process::id(), random_hex(6)),
        lease: Mutex::new(None),
        streams: Mutex::new(BTreeMap::new()),
        rounds: Mutex::new(RoundStats::default()),
        sites_cache: Mutex::new(None),
        series_notes: Mutex::new(Vec::new()),
        dispatches: AtomicU64::new(0),
        catch_up: tokio::sync::Mutex::new(()),
        snapshot_seq: std::sync::atomic::AtomicI64::new(0),
        cluster_submitted: Mutex::new(BTreeSet::new()),
        cluster_others: Mutex::new(BTreeMap::new()),
        transfers_live: Mutex::new(BTreeMap::new()),
    });
    app.restore().await?;
    app.sync().await?;
    // The admin: from XISUAN_ADMIN_TOKEN at the first start (or a token printed once).
    let has_admin = app.known.read().map_err(|_| anyhow!("state lock poisoned"))?.state.tenants.values().any(|t| t.admin);
    if !has_admin {
        let token = match std::env::var("XISUAN_ADMIN_TOKEN") {
            Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => {
                let t = random_hex(24);
                eprintln!("xisuan server: no XISUAN_ADMIN_TOKEN at the first start; the admin token is {t} (shown once)");
                t
            }
        };
        let e = Event::TenantCreated {
            id: "admin".into(),
            name: "admin".into(),
            token_sha256: api::sha256_hex(&token),
            quota_gpus: None,
            admin: true,
            at_h: app.clock.now_h(),
        };
        // The key makes two replicas starting together create one admin.
        app.append(vec![(e, "admin".into(), Some("admin-tenant".into()))]).await?;
    } else if let Ok(t) = std::env::var("XISUAN_ADMIN_TOKEN") {
        // A new XISUAN_ADMIN_TOKEN replaces the admin's token (the old one stops working).
        let hash = api::sha256_hex(t.trim());
        let stored = app.known.read().map_err(|_| anyhow!("state lock poisoned"))?.state.tenants.get("admin").map(|a| a.token_sha256.clone());
        if !t.trim().is_empty() && stored.is_some_and(|h| h != hash) {
            let e = Event::TokenSet {
                tenant: "admin".into(),
                token_sha256: hash,
                expires_unix_s: None,
                by: "XISUAN_ADMIN_TOKEN at start".into(),
                at_h: app.clock.now_h(),
            };
            app.append(vec![(e, "admin".into(), None)]).await?;
            eprintln!("xisuan server: the admin token was replaced by XISUAN_ADMIN_TOKEN; the old one no longer works");
        }
    }
    app.ready.store(true, Ordering::SeqCst);
    Ok(app)
}

/// Runs the server until it is stopped.
pub async fn serve(config: Config) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(&config.listen).await.with_context(|| format!("cannot listen on {}", config.listen))?;
    let app = open(config).await?;
    eprintln!(
        "xisuan server: listening on http://{}, store {}, {} sites, {} s per planning hour",
        listener.local_addr()?,
        app.store.db.describe(),
        app.world.site_ids.len(),
        app.config.hour_seconds
    );
    if app.config.control_loop {
        tokio::spawn(lease_loop(app.clone()));
        let a = app.clone();
        tokio::spawn(async move { control_loop(a).await });
        for site in app.config.slurm.sites.keys().chain(app.config.kube.sites.keys()) {
            tokio::spawn(cluster_follow(app.clone(), site.clone()));
        }
    } else {
        // Replicas without the loop still follow the log.
        let a = app.clone();
        tokio::spawn(async move {
            loop {
                let _ = a.sync().await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }
    axum::serve(listener, api::router(app.clone()))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    if app.config.control_loop {
        resign(&app).await;
    }
    Ok(())
}

/// Takes and renews the leader's lease every `store::LEASE_RENEW_MS`, on a connection of its
/// own (apart from the loop, so a long planning round does not let it lapse). The lease is
/// good locally until `LEASE_MS` less a second after the renewal was sent: the database's
/// expiry is later than that, so this process stops acting as leader before anyone else may
/// start.
async fn lease_loop(app: Arc<App>) {
    let mut leadership: Option<store::Actor<Leadership>> = None;
    loop {
        if leadership.is_none() {
            let (db, holder) = (app.store.db.clone(), app.holder.clone());
            leadership = store::Actor::spawn("xisuan-leader", move || Leadership::connect(&db, &holder)).ok();
        }
        let sent = Instant::now();
        let held = match &leadership {
            Some(l) => match l.call(|l| l.try_lead()).await {
                Ok(Ok(epoch)) => epoch,
                Ok(Err(e)) => {
                    eprintln!("xisuan server: leader lease: {e:#}");
                    leadership = None;
                    None
                }
                Err(_) => {
                    leadership = None;
                    None
                }
            },
            None => None,
        };
        if let Ok(mut l) = app.lease.lock() {
            let before = l.as_ref().map(|x| x.0.epoch);
            *l = held.map(|epoch| (store::Lease { holder: app.holder.clone(), epoch }, sent + Duration::from_millis(store::LEASE_MS as u64 - 1000)));
            if held.is_some() && before != held {
                eprintln!("xisuan server: leading, epoch {}", held.unwrap_or_default());
            }
        }
        app.leader.store(app.leading().is_some(), Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(store::LEASE_RENEW_MS)).await;
    }
}

/// Gives the lease up at a clean stop, so another replica leads at once.
async fn resign(app: &Arc<App>) {
    let (db, holder) = (app.store.db.clone(), app.holder.clone());
    let _ = tokio::task::spawn_blocking(move || Leadership::connect(&db, &holder).and_then(|mut l| l.resign())).await;
}

/// The control loop: while this process leads, it follows the log, reports what the simulated
/// backend did, dispatches planned work whose start has come, and re-plans when something
/// changed or an hour has passed.
async fn control_loop(app: Arc<App>) {
    let tick = Duration::from_secs_f64((app.config.hour_seconds / 20.0).clamp(0.05, 2.0));
    loop {
        tokio::time::sleep(tick).await;
        let lead = app.leading().is_some();
        app.leader.store(lead, Ordering::SeqCst);
        if let Err(e) = app.sync().await {
            eprintln!("xisuan server: cannot read the log: {e:#}");
            continue;
        }
        if !lead {
            continue;
        }
        if let Err(e) = step(&app).await {
            eprintln!("xisuan server: control step: {e:#}");
        }
        if let Err(e) = app.maybe_snapshot().await {
            eprintln!("xisuan server: snapshot: {e:#}");
        }
    }
}

/// One pass of the loop (the leader only).
async fn step(app: &Arc<App>) -> Result<()> {
    let now = app.clock.now_h();
    // The simulated backend: dispatched work starts at its start, running work checkpoints and
    // finishes in (scaled) time.
    let (observed, at): (Vec<Event>, i64) = {
        let k = app.known.read().map_err(|_| anyhow!("state lock poisoned"))?;
        let on_cluster = |e: &Event| e.job().and_then(|id| k.state.jobs.get(id)).and_then(|j| j.site.as_deref()).is_some_and(|s| app.on_cluster(s));
        (control::simulated_backend(&k.state, now).into_iter().filter(|e| !on_cluster(e)).collect(), k.seq)
    };
    if !observed.is_empty() {
        let rows = observed.into_iter().map(|e| (tenant_of(app, &e), e)).map(|(t, e)| (e, t, None)).collect();
        app.append_as_leader(rows, at).await?;
    }
    // Re-plan when something changed or a new hour began.
    let wants = app.known.read().map_err(|_| anyhow!("state lock poisoned"))?.state.wants_round(now);
    if wants {
        let world = app.world_now(now)?;
        let started = Instant::now();
        let budget = app.config.plan_budget_s;
        // Decided on a copy of the state, on a blocking thread: the API's threads and the
        // state's lock stay free while the solver runs.
        let (state, at) = {
            let k = app.known.read().map_err(|_| anyhow!("state lock poisoned"))?;
            (k.state.clone(), k.seq)
        };
        let result = tokio::task::spawn_blocking(move || {
            let baseline = state.jobs.len() <= 2000;
            let mut events = control::plan_round(&state, &control::RoundInput { world: &world, now_h: now, baseline }, &mut |p| {
                xisuan_milp::auto::Auto { time_budget_s: budget, ..Default::default() }.solve(p).map_err(|e| e.to_string())
            })?;
            // Recorded as its changes from the round before: a long queue that did not move
            // costs the store almost nothing per round.
            if let (Some(Event::Planned(r)), Some(base)) = (events.first_mut(), &state.last_round) {
                *r = r.changes_from(base);
            }
            Ok::<_, String>(events)
        })
        .await?;
        let secs = started.elapsed().as_secs_f64();
        match result {
            Ok(mut events) => {
                if let Some(Event::Planned(r)) = events.first_mut() {
                    r.seconds = secs;
                }
                let dispatch: Vec<bool> = events.iter().map(|e| matches!(e, Event::JobDispatched { .. })).collect();
                let rows = events.into_iter().map(|e| (tenant_of(app, &e), e)).map(|(t, e)| (e, t, None)).collect();
                let out = app.append_as_leader(rows, at).await?;
                let n = out.iter().zip(dispatch).filter(|(a, d)| *d && matches!(a, Appended::New(_))).count();
                app.dispatches.fetch_add(n as u64, Ordering::Relaxed);
                if let Ok(mut r) = app.rounds.lock() {
                    r.count += 1;
                    r.sum_s += secs;
                    r.last_s = secs;
                }
            }
            Err(e) => {
                if let Ok(mut r) = app.rounds.lock() {
                    r.failures += 1;
                }
                return Err(anyhow!("planning round: {e}"));
            }
        }
    }
    // Planned work whose start has come.
    let (due, at) = {
        let k = app.known.read().map_err(|_| anyhow!("state lock poisoned"))?;
        (control::due(&k.state, now), k.seq)
    };
    if !due.is_empty() {
        let rows = due.into_iter().map(|e| (tenant_of(app, &e), e)).map(|(t, e)| (e, t, None)).collect();
        let out = app.append_as_leader(rows, at).await?;
        let n = out.iter().filter(|a| matches!(a, Appended::New(_))).count();
        app.dispatches.fetch_add(n as u64, Ordering::Relaxed);
    }
    Ok(())
}

/// Follows one site run by a real cluster (Slurm or Kubernetes) while this process leads,
/// beside the control loop (a cluster that does not answer holds up only its own site):
/// submits dispatched work, turns what its queue shows into the controller's observations,
/// cancels what should not run there, and marks the site down when its cluster has no node up
/// or does not answer.
async fn cluster_follow(app: Arc<App>, site: String) {
    let tick = Duration::from_secs_f64((app.config.hour_seconds / 20.0).clamp(0.05, 2.0));
    loop {
        tokio::time::sleep(tick).await;
        if app.leading().is_none() {
            continue;
        }
        if let Err(e) = cluster_pass(&app, &site).await {
            eprintln!("xisuan server: cluster at {site}: {e:#}");
        }
    }
}

/// One look at one site's cluster: appends the events it calls for, then starts the transfers
/// those events recorded (a transfer is an event before it is an action).
async fn cluster_pass(app: &Arc<App>, site: &str) -> Result<()> {
    let now = app.clock.now_h();
    let (state, at) = {
        let k = app.known.read().map_err(|_| anyhow!("state lock poisoned"))?;
        (k.state.clone(), k.seq)
    };
    let backend = app.backend(site).ok_or_else(|| anyhow!("site {site} has no cluster"))?;
    let kind = backend.kind();
    let hour_s = app.config.hour_seconds;
    let submitted = app.cluster_submitted.lock().map_err(|_| anyhow!("lock poisoned"))?.clone();
    let live: BTreeSet<String> = app.transfers_live.lock().map_err(|_| anyhow!("lock poisoned"))?.keys().cloned().collect();
    let stores = app.config.stores.clone();
    let site = site.to_string();
    let pending_limit_h = app.config.pending_limit_s / hour_s;
    let site_id = site.clone();
    let leads = app.clone();
    let (events, newly, launch, others) = tokio::task::spawn_blocking(move || {
        let mut others: Option<BTreeMap<String, u32>> = None;
        let mut events = Vec::new();
        let mut newly = Vec::new();
        let mut launch: Vec<control::TransferSpec> = Vec::new();
        // Transfers into this site recorded as running that no task of this process runs (a
        // restarted server): run them again (the destination is checked first).
        for t in state.transfers.values().filter(|t| t.status == control::TransferStatus::Running && t.spec.to_site == site && !live.contains(&t.spec.id)) {
            launch.push(t.spec.clone());
        }
        // A site that is down only has its leftovers cancelled and its fenced attempts
        // confirmed, once its cluster answers. One down for its cluster's health (by this
        // process or one before a restart), not by an operator, comes back up with it.
        let down = state.sites_down.contains(&site);
        let downed = state.down_by_cluster.contains(&site);
        let health = backend.health(&site);
        let fine = matches!(&health, Ok(h) if h.trouble.is_none());
        if down && fine && downed {
            events.extend(control::site_up(&state, &site, now).ok());
        }
        // Down or silent: every attempt handed to it is fenced until it confirms each ended.
        let gone = |why: &str| control::cluster_down(&state, &site, &format!("{kind}: {why}"), true, now).ok();
        let silent = match (&health, down) {
            (Ok(h), _) if h.trouble.is_none() || down => h.silent.clone(),
            (Ok(h), _) => {
                events.extend(gone(h.trouble.as_deref().unwrap_or("no node up")));
                return (events, newly, launch, others);
            }
            (Err(why), false) => {
                events.extend(gone(why));
                return (events, newly, launch, others);
            }
            (Err(_), true) => return (events, newly, launch, others),
        };
        let queue = match backend.queue(&site) {
            Ok(q) => q,
            Err(why) => {
                if !down {
                    events.extend(gone(&why));
                }
                return (events, newly, launch, others);
            }
        };
        // Whether the site takes work after this pass (it was up, or comes up now).
        let answers = !down || (fine && downed);
        let in_queue: BTreeMap<(String, u32), &Attempt> = queue.iter().map(|a| ((a.job.clone(), a.attempt), a)).collect();
        // Accelerators in use there by others: all in use, less what our attempts hold.
        if let Ok(h) = &health {
            let mut used = h.gpus_held.clone();
            for a in queue.iter().filter(|a| matches!(a.state, JobState::Running | JobState::Suspended | JobState::Completing)) {
                if let Some(j) = state.jobs.get(&a.job) {
                    let acc = j.accelerator.clone().unwrap_or_default();
                    if let Some(u) = used.get_mut(&acc) {
                        *u = u.saturating_sub(j.spec.gpus);
                    }
                }
            }
            others = Some(used);
        }
        // The cluster's record of an attempt: its queue, else its accounting. With no
        // accounting, an attempt out of the queue whose log was never made on the site's
        // storage never started (Slurm makes it as the job starts); one whose log is there
        // has an unknown fate.
        let look = |id: &str, attempt: u32| -> Seen {
            if let Some(a) = in_queue.get(&(id.to_string(), attempt)) {
                return Seen::Reported((*a).clone());
            }
            match backend.accounting(&site, id, attempt) {
                Ok(Some(a)) => Seen::Reported(a.from_accounting()),
                Ok(None) => Seen::Nowhere,
                Err(_) if stores.size(&site, &control::run::log_file(id, attempt)).is_err() => Seen::Nowhere,
                Err(_) => Seen::Unknown,
            }
        };
        // What a job saved counts, whatever then happens to it.
        let saved = |j: &control::JobRecord| match stores.manifest(&site, &j.id) {
            Ok(Some(m)) => control::saved(&state, &j.id, control::CheckpointRef { site: site.clone(), path: m.path, step: m.step, total_steps: m.total_steps }, now).ok(),
            Ok(None) => None,
            Err(e) => {
                eprintln!("xisuan server: {e}");
                None
            }
        };
        // Attempts fenced here: credited if they completed, released once confirmed ended.
        for j in state.jobs.values().filter(|j| j.fence.as_ref().is_some_and(|f| f.site == site)) {
            let n = j.fence.as_ref().map(|f| f.attempt).unwrap_or(j.attempts);
            let seen = look(&j.id, n);
            if matches!(&seen, Seen::Reported(a) if !a.state.is_active()) {
                events.extend(saved(j));
            }
            events.extend(control::observe(&state, &j.id, &site, kind, &seen, &silent, answers, now));
        }
        for j in state.jobs.values().filter(|j| !down && j.site.as_deref() == Some(site.as_str()) && j.status.holds_capacity()) {
            let key = (j.id.clone(), j.attempts);
            if let Some(a) = in_queue.get(&key) {
                if j.status == control::Status::Running || !a.state.is_active() {
                    events.extend(saved(j));
                }
                if let Some(e) = control::overdue(&state, &j.id, &site, kind, a, pending_limit_h, now) {
                    events.push(e);
                    continue;
                }
                events.extend(control::observe(&state, &j.id, &site, kind, &Seen::Reported((*a).clone()), &silent, answers, now));
                continue;
            }
            if j.status == control::Status::Running {
                // It left the queue: its accounting says how it ended.
                let seen = look(&j.id, j.attempts);
                events.extend(saved(j));
                events.extend(control::observe(&state, &j.id, &site, kind, &seen, &silent, answers, now));
                continue;
            }
            if j.spec.run.is_none() {
                let why = "it says nothing to run (no command or script): planning-only work is never handed to a real cluster";
                events.extend(control::refused(&state, &j.id, &site, why, now).ok());
                continue;
            }
            match control::stage(&state, &j.id) {
                control::Stage::Start(ts) => {
                    for t in ts {
                        if let Ok(e) = control::transfer_started(&state, t.clone(), now) {
                            events.push(e);
                            launch.push(t);
                        }
                    }
                }
                control::Stage::Wait => {}
                control::Stage::GiveUp(why) => events.extend(control::refused(&state, &j.id, &site, &format!("its data could not be staged: {why}"), now).ok()),
                control::Stage::Ready => {
                    // Before handing it over: the cluster may have it already (this process,
                    // or one before a restart, submitted it, and it ended and left the queue).
                    match look(&j.id, j.attempts) {
                        seen @ Seen::Reported(_) => {
                            events.extend(control::observe(&state, &j.id, &site, kind, &seen, &silent, answers, now));
                            continue;
                        }
                        Seen::Unknown => {
                            let why = "it started (its log is there) and is not in the queue, and the cluster keeps no accounting to say how it ended: it starts nowhere else until an operator releases it";
                            events.extend(control::lost(&state, &j.id, &format!("{kind}: attempt {} at {site}: {why}", j.attempts), now).ok());
                            continue;
                        }
                        _ if submitted.contains(&key) => continue,
                        _ => {}
                    }
                    let work = match work_for(&stores, &site, j) {
                        Ok(w) => w,
                        Err(why) => {
                            events.extend(control::refused(&state, &j.id, &site, &format!("its folders at the site: {why}"), now).ok());
                            continue;
                        }
                    };
                    let speed = j.spec.accelerators.iter().find(|a| Some(&a.accelerator) == j.accelerator.as_ref()).map(|a| a.speed).unwrap_or(1.0);
                    let sub = slurm::Submission {
                        job: j.id.clone(),
                        attempt: j.attempts,
                        accelerator: j.accelerator.clone().unwrap_or_default(),
                        gpus: j.spec.gpus,
                        begin_in_s: (j.start_h.unwrap_or(now) - now) * hour_s,
                        run_s: j.remaining_h() / speed * hour_s,
                        tenant: state.tenants.get(&j.tenant).map(|t| t.name.clone()).unwrap_or_default(),
                        program: work,
                    };
                    // Only while this process leads (it may have been frozen past its lease).
                    if leads.leading().is_none() {
                        return (events, newly, launch, others);
                    }
                    match backend.submit(&site, &sub) {
                        Ok(_) => newly.push(key),
                        // No answer (or not certain it did not take the job): the site is down
                        // and this attempt fenced there with the rest.
                        Err(slurm::SubmitError::Unreachable(why)) => {
                            events.extend(gone(&why));
                            return (events, newly, launch, others);
                        }
                        // The cluster answered no: this job goes elsewhere (or waits).
                        Err(slurm::SubmitError::Refused(why)) => events.extend(control::refused(&state, &j.id, &site, &format!("{kind}: {why}"), now).ok()),
                    }
                }
            }
        }
        // Outputs of work completed here go back to its data site.
        for j in state.jobs.values().filter(|j| j.status == control::Status::Completed && j.attempt_sites.get(&j.attempts) == Some(&site)) {
            if let Some(t) = control::outputs_due(&state, &j.id) {
                if let Ok(e) = control::transfer_started(&state, t.clone(), now) {
                    events.push(e);
                    launch.push(t);
                }
            }
        }
        // What runs there but should not (cancelled, re-placed after a failure, or an old
        // attempt) is cancelled, so nothing runs twice.
        for q in queue.iter().filter(|q| q.state.is_active()) {
            let ours = state.jobs.get(&q.job).is_some_and(|j| {
                (j.site.as_deref() == Some(site.as_str()) && j.status.holds_capacity() && j.attempts == q.attempt)
                    // A fenced attempt at a site that answers is followed there again (above).
                    || (answers && j.status == control::Status::Pending && j.fence.as_ref().is_some_and(|f| f.site == site && f.attempt == q.attempt))
            });
            if !ours && leads.leading().is_some() {
                if let Err(e) = backend.cancel(&site, &q.job) {
                    eprintln!("xisuan server: {e}");
                }
            }
        }
        (events, newly, launch, others)
    })
    .await?;
    app.cluster_submitted.lock().map_err(|_| anyhow!("lock poisoned"))?.extend(newly);
    if let Some(o) = others {
        app.cluster_others.lock().map_err(|_| anyhow!("lock poisoned"))?.insert(site_id, o);
    }
    // A transfer is started only where its event was written (not one decided on a state that
    // changed meanwhile, nor one of a leader deposed meanwhile: the next pass decides again).
    let mut unwritten: BTreeSet<String> = BTreeSet::new();
    if !events.is_empty() {
        let rows = events.iter().cloned().map(|e| (tenant_of(app, &e), e)).map(|(t, e)| (e, t, None)).collect();
        let out = app.append_as_leader(rows, at).await?;
        for (e, a) in events.iter().zip(out) {
            if let (Event::TransferStarted { spec, .. }, Appended::Conflict | Appended::Deposed) = (e, a) {
                unwritten.insert(spec.id.clone());
            }
        }
    }
    for t in launch.into_iter().filter(|t| !unwritten.contains(&t.id)) {
        spawn_transfer(app.clone(), t);
    }
    Ok(())
}

/// A job's program as its site's nodes see it: its folders made on the site's storage, and
/// its environment (`XISUAN_*` and its own).
fn work_for(stores: &storage::Stores, site: &str, j: &control::JobRecord) -> std::result::Result<slurm::Program, String> {
    use control::run;
    let r = j.spec.run.as_ref().ok_or("nothing to run")?;
    let path = |rel: &str| stores.node_path(site, rel).ok_or_else(|| format!("site {site} has no storage"));
    let workdir = match &r.workdir {
        Some(w) => format!("{}/{w}", run::job_dir(&j.id)),
        None => run::job_dir(&j.id),
    };
    stores.mkdirs(
        site,
        &[run::input_dir(&j.id), run::checkpoint_dir(&j.id), run::output_dir(&j.id), format!("{}/logs", run::job_dir(&j.id)), workdir.clone()],
    )?;
    let mut env = r.env.clone();
    env.entry("PATH".into()).or_insert_with(|| "/usr/local/bin:/usr/bin:/bin".into());
    for (k, v) in [
        ("XISUAN_JOB_ID", j.id.clone()),
        ("XISUAN_ATTEMPT", j.attempts.to_string()),
        ("XISUAN_SITE", site.to_string()),
        ("XISUAN_JOB_DIR", path(&run::job_dir(&j.id))?),
        ("XISUAN_INPUT_DIR", path(&run::input_dir(&j.id))?),
        ("XISUAN_CHECKPOINT_DIR", path(&run::checkpoint_dir(&j.id))?),
        ("XISUAN_OUTPUT_DIR", path(&run::output_dir(&j.id))?),
    ] {
        env.insert(k.into(), v);
    }
    let (mount, pvc) = match stores.get(site) {
        Some(xisuan_catalog::Storage::Local { root, pvc, .. } | xisuan_catalog::Storage::Sftp { root, pvc, .. }) => (root.clone(), pvc.clone()),
        None => return Err(format!("site {site} has no storage")),
    };
    Ok(slurm::Program {
        command: r.command.clone(),
        script: r.script.clone(),
        env,
        chdir: path(&workdir)?,
        output: path(&run::log_file(&j.id, j.attempts))?,
        image: r.image.clone(),
        mount,
        pvc,
    })
}

/// Runs one transfer on a thread of its own and records how it ended (finished, with bytes
/// and seconds, or failed, in the engine's words).
fn spawn_transfer(app: Arc<App>, t: control::TransferSpec) {
    if let Ok(mut live) = app.transfers_live.lock() {
        if live.insert(t.id.clone(), 0).is_some() {
            return;
        }
    }
    tokio::spawn(async move {
        let (a, spec) = (app.clone(), t.clone());
        let result = tokio::task::spawn_blocking(move || {
            a.config.stores.transfer(&spec, &mut |bytes| {
                if let Ok(mut live) = a.transfers_live.lock() {
                    live.insert(spec.id.clone(), bytes);
                }
            })
        })
        .await
        .unwrap_or_else(|e| Err(format!("the transfer's task failed: {e}")));
        let now = app.clock.now_h();
        let event = {
            let k = app.known.read().ok();
            k.and_then(|k| match &result {
                Ok(m) => control::transfer_finished(&k.state, &t.id, m.bytes, m.seconds, &m.note, now).ok(),
                Err(why) => control::transfer_failed(&k.state, &t.id, why, now).ok(),
            })
        };
        if let Some(e) = event {
            let tenant = tenant_of(&app, &e);
            if let Err(e) = app.append(vec![(e, tenant, None)]).await {
                eprintln!("xisuan server: transfer {}: {e:#}", t.id);
            }
        }
        if let Ok(mut live) = app.transfers_live.lock() {
            live.remove(&t.id);
        }
    });
}

fn tenant_of(app: &App, e: &Event) -> String {
    let k = match app.known.read() {
        Ok(k) => k,
        Err(_) => return String::new(),
    };
    e.job()
        .and_then(|id| k.state.jobs.get(id).map(|j| j.tenant.clone()))
        .or_else(|| e.service().and_then(|id| k.state.services.get(id).map(|v| v.tenant.clone())))
        .unwrap_or_default()
}
