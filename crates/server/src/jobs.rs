//! A job or service as the API takes it (the fields of a scenario file's `[[jobs]]` entry, as JSON) and
//! its translation into the controller's `JobSpec`: accelerators resolved with the world's
//! power and speed, hours estimated from parameters and tokens where asked, residency turned
//! into site ids, times made absolute. Values are checked by the core's `Problem::validate`,
//! like a scenario file's; its errors come back naming the JSON field.

use crate::api::ApiError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use xisuan_control::{AccOption, JobSpec};
use xisuan_estimate::{estimate_train, find_accelerator, TrainInput};
use xisuan_io::world::WorldSpec;
use xisuan_model::limits;
use xisuan_plan::{AcceleratorOption, At, Job, Problem};

/// A training or fine-tuning job. Times are hours from now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// Your name for the job (it also gets a server id).
    pub id: Option<String>,
    /// Accelerator types it can use; the first is the reference for `hours`.
    pub accelerators: Vec<String>,
    /// Accelerators it needs at once.
    #[schema(minimum = 1, maximum = 1000000)]
    pub gpus: u32,
    /// Hours of work on the reference accelerator; or give `params` and `tokens`.
    pub hours: Option<f64>,
    /// Parameters of the model, to estimate `hours` with `tokens`.
    pub params: Option<f64>,
    /// Training tokens, to estimate `hours` with `params`.
    pub tokens: Option<f64>,
    /// The site its data is at (a catalog id or a city).
    pub data_site: String,
    /// Terabytes of data to move if it runs elsewhere.
    #[serde(default)]
    pub data_tb: f64,
    /// Earliest start, hours from now.
    #[serde(default)]
    pub earliest_hour: f64,
    /// Deadline (end by), hours from now.
    pub deadline_hour: Option<f64>,
    /// Whether it may pause and resume at hour boundaries.
    #[serde(default)]
    pub pausable: bool,
    /// Data residency: only these sites (catalog ids).
    pub sites: Option<Vec<String>>,
    /// Data residency: only sites in these countries (ISO codes).
    pub countries: Option<Vec<String>>,
    /// Hours between checkpoints (default 1): a failure loses at most this much work.
    pub checkpoint_every_h: Option<f64>,
    /// What it runs: the program and its arguments (no shell), e.g.
    /// `["python3", "inputs/train.py", "train"]`. Or `script`. Without either the job is
    /// planning-only: planned and simulated, never handed to a real cluster.
    pub command: Option<Vec<String>>,
    /// What it runs, as a batch script's body (as for `sbatch`; `/bin/sh` unless it has a `#!`
    /// line). Slurm's signals reach the script's process: `exec` the program, or forward them.
    pub script: Option<String>,
    /// Environment variables for the program (names not starting with XISUAN_ or SLURM_).
    pub env: Option<std::collections::BTreeMap<String, String>>,
    /// The working folder, relative to the job's folder at its site (default: that folder).
    pub workdir: Option<String>,
    /// An OCI image: required to run on a Kubernetes site; a job with one does not run on a
    /// Slurm site without a container runtime.
    pub image: Option<String>,
    /// What it reads, as `SITE:PATH` on a site's storage (a file or a folder). Sizes come from
    /// the storage; each is copied to `$XISUAN_INPUT_DIR/NAME` at the site it runs at.
    pub inputs: Option<Vec<String>>,
    /// Copy `$XISUAN_OUTPUT_DIR` back to `data_site` when it completes (default true).
    pub copy_outputs: Option<bool>,
}

/// What the server knows of the real clusters and storage behind its sites, for checking a
/// job that says what it runs.
pub struct Clusters<'a> {
    pub stores: &'a crate::storage::Stores,
    /// A Kubernetes site with no default image (a job must name its own).
    pub needs_image: &'a dyn Fn(&str) -> bool,
    /// A Slurm site (it runs programs on its nodes, not images).
    pub slurm: &'a dyn Fn(&str) -> bool,
}

/// The job's run, checked in the core (`RunSpec::validate`), with its inputs' sizes read from
/// the storage; `None` for a planning-only job.
fn run_spec(req: &JobRequest, world: &WorldSpec, clusters: &Clusters) -> Result<Option<xisuan_control::RunSpec>, ApiError> {
    let says = req.command.is_some()
        || req.script.is_some()
        || req.env.is_some()
        || req.workdir.is_some()
        || req.image.is_some()
        || req.inputs.is_some()
        || req.copy_outputs.is_some();
    if !says {
        return Ok(None);
    }
    let mut inputs = Vec::new();
    for (k, uri) in req.inputs.iter().flatten().enumerate() {
        let field = format!("inputs[{k}]");
        let (site, path) =
            uri.split_once(':').ok_or_else(|| bad(&field, format!("`{uri}` is not SITE:PATH (a site's storage and a path under its root)")))?;
        let site = world.catalog.resolve(site).map(|r| r.site.id.as_str().to_string()).map_err(|e| bad(&field, e.to_string()))?;
        inputs.push(xisuan_control::Input { site, path: path.to_string(), bytes: 0.0 });
    }
    let mut run = xisuan_control::RunSpec {
        command: req.command.clone().unwrap_or_default(),
        script: req.script.clone(),
        env: req.env.clone().unwrap_or_default(),
        workdir: req.workdir.clone(),
        image: req.image.clone(),
        inputs,
        copy_outputs: req.copy_outputs.unwrap_or(true),
    };
    // Checked before the storage is touched (no path leaves a storage's root).
    run.validate(&|s| clusters.stores.has(s)).map_err(|e| bad(&e.field, e.message))?;
    for (k, input) in run.inputs.iter_mut().enumerate() {
        let bytes = clusters
            .stores
            .size(&input.site, &input.path)
            .map_err(|e| bad(&format!("inputs[{k}]"), format!("{}:{} cannot be read on its storage: {e}", input.site, input.path)))?;
        input.bytes = bytes as f64;
    }
    Ok(Some(run))
}

fn bad(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(Some(field), message)
}

/// The JSON field of a `Problem` job field.
fn json_field(f: &str) -> &str {
    match f {
        "data_bytes" => "data_tb",
        "earliest" => "earliest_hour",
        "deadline" => "deadline_hour",
        "allowed_sites" => "sites",
        other => other,
    }
}

/// Checks a request against the world and turns it into a `JobSpec` (times from `now_h`).
pub fn to_spec(req: &JobRequest, world: &WorldSpec, sites: &[xisuan_plan::Site], clusters: &Clusters, now_h: f64) -> Result<JobSpec, ApiError> {
    if let Some(name) = &req.id {
        limits::id(name).map_err(|m| bad("id", m))?;
    }
    if req.accelerators.is_empty() {
        return Err(bad("accelerators", "needs at least one accelerator type"));
    }
    let mut resolved = Vec::new();
    for name in &req.accelerators {
        let a = find_accelerator(name)
            .ok_or_else(|| bad("accelerators", format!("unknown accelerator `{name}`; known: {}", xisuan_estimate::hardware::ids().join(", "))))?;
        resolved.push(a);
    }
    let reference = resolved[0];
    let accelerators: Vec<AccOption> = resolved
        .iter()
        .map(|a| AccOption {
            accelerator: a.id.to_string(),
            speed: (a.peak_bf16.0 * a.default_mfu.value) / (reference.peak_bf16.0 * reference.default_mfu.value),
            kw_per_gpu: world.kw_cost(a).0,
        })
        .collect();
    let hours = match (req.hours, req.params, req.tokens) {
        (Some(h), None, None) => h,
        (None, Some(n), Some(d)) => {
            let e = estimate_train(&TrainInput::new(n, d, reference, req.gpus)).map_err(|e| bad(e.field.as_str(), e.message.clone()))?;
            e.wall.0
        }
        _ => return Err(bad("hours", "give either hours, or params and tokens")),
    };
    let site_of = |name: &str, field: &str| -> Result<String, ApiError> {
        let r = world.catalog.resolve(name).map_err(|e| bad(field, e.to_string()))?;
        let id = r.site.id.as_str().to_string();
        if !world.site_ids.contains(&id) {
            return Err(bad(field, format!("site {id} is not among this server's sites ({})", world.site_ids.join(", "))));
        }
        Ok(id)
    };
    let data_site = site_of(&req.data_site, "data_site")?;
    let mut allowed = residency(world, req.sites.as_deref(), req.countries.as_deref())?;
    let run = run_spec(req, world, clusters)?;
    let has_inputs = run.as_ref().is_some_and(|r| !r.inputs.is_empty());
    if has_inputs && req.data_tb > 0.0 {
        return Err(bad("data_tb", "give data_tb (planning only) or inputs (their sizes come from the storage), not both"));
    }
    if let Some(r) = &run {
        // A Kubernetes site runs images; a Slurm site here runs programs without one. A job
        // that can run nowhere it may go is refused now, naming the image.
        let fits = |id: &str| if r.image.is_some() { !(clusters.slurm)(id) } else { !(clusters.needs_image)(id) };
        let may: Vec<String> = allowed.clone().unwrap_or_else(|| world.site_ids.clone());
        let ok: Vec<String> = may.iter().filter(|id| fits(id)).cloned().collect();
        if ok.is_empty() {
            return Err(bad("image", match &r.image {
                None => "every site it may run at is a Kubernetes cluster, which runs containers: give `image`".to_string(),
                Some(i) => format!("every site it may run at is a Slurm cluster without a container runtime: it cannot run the image {i}; leave `image` out to run the command on the nodes"),
            }));
        }
        if ok.len() < may.len() {
            allowed = Some(ok);
        }
    }
    // More accelerators at once than any site it may run at has of its types: it could never
    // run, so it is refused now rather than left waiting.
    let may: Vec<&xisuan_plan::Site> = sites.iter().filter(|s| allowed.as_ref().is_none_or(|a| a.contains(&s.id))).collect();
    let most = may
        .iter()
        .flat_map(|s| s.capacity.iter().filter(|(acc, _)| accelerators.iter().any(|a| &a.accelerator == acc)).map(|(_, n)| *n))
        .max()
        .unwrap_or(0);
    if req.gpus > most {
        return Err(bad(
            "gpus",
            format!(
                "{} accelerators at once is more than any site it may run at has of its types ({}): at most {most}, so it could never run",
                req.gpus,
                accelerators.iter().map(|a| a.accelerator.as_str()).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let data_tb = run.as_ref().map(|r| r.inputs.iter().fold(0.0, |t, i| t + i.bytes) / 1e12).unwrap_or(req.data_tb);
    limits::in_range(req.earliest_hour, 0.0, limits::MAX_HOURS as f64).map_err(|m| bad("earliest_hour", m))?;
    if let Some(d) = req.deadline_hour {
        limits::in_range(d, 0.0, 2.0 * limits::MAX_HOURS as f64).map_err(|m| bad("deadline_hour", m))?;
        if d <= req.earliest_hour {
            return Err(bad("deadline_hour", format!("{d} is not after earliest_hour {}", req.earliest_hour)));
        }
    }
    let checkpoint = req.checkpoint_every_h.unwrap_or(1.0);
    limits::positive(checkpoint, limits::MAX_HOURS as f64).map_err(|m| bad("checkpoint_every_h", m))?;
    limits::in_range(data_tb, 0.0, limits::MAX_BYTES / 1e12).map_err(|m| bad(if run.is_some() { "inputs" } else { "data_tb" }, m))?;

    // The core's own check, on a one-job problem over this world.
    let ix = |id: &str| sites.iter().position(|s| s.id == id);
    let probe = Problem {
        slots: sites.first().map(|s| s.usd_per_kwh.len() as u32).unwrap_or(1),
        start_hour: 0,
        sites: sites.to_vec(),
        jobs: vec![Job {
            id: req.id.clone().unwrap_or_else(|| "job".into()),
            gpus: req.gpus,
            hours,
            accelerators: accelerators
                .iter()
                .map(|a| AcceleratorOption { accelerator: a.accelerator.clone(), speed: a.speed, kw_per_gpu: a.kw_per_gpu })
                .collect(),
            data_site: ix(&data_site).unwrap_or(0),
            data_bytes: data_tb * 1e12,
            earliest: 0,
            deadline: 1,
            pausable: req.pausable,
            allowed_sites: allowed.as_ref().map(|a| a.iter().filter_map(|s| ix(s)).collect()),
            previous: None,
            data_at: Vec::new(),
        }],
        services: vec![],
        regions: vec![],
        links: vec![vec![xisuan_plan::Link { gbps: 1.0, efficiency: 0.8, usd_per_gb: 0.0 }; sites.len()]; sites.len()],
        latency_ms: vec![],
        objective: xisuan_plan::Objective::default(),
    };
    if let Err(e) = probe.validate() {
        return Err(match e.at {
            At::Job(_, f) => bad(json_field(f), e.message),
            _ => ApiError::bad_request(None, e.to_string()),
        });
    }
    Ok(JobSpec {
        name: req.id.clone(),
        gpus: req.gpus,
        hours,
        accelerators,
        data_site,
        data_bytes: data_tb * 1e12,
        earliest_h: now_h + req.earliest_hour,
        deadline_h: req.deadline_hour.map(|d| now_h + d),
        pausable: req.pausable,
        allowed_sites: allowed,
        checkpoint_every_h: checkpoint,
        run,
    })
}

/// Demand from one city, as in a scenario's `[[services]]` `demand` entries.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DemandRequest {
    /// A city the catalog knows (`xisuan sites --json`, `user_regions`).
    pub city: String,
    /// Requests per second at the daily peak (21:00 local time).
    pub peak_rps: f64,
    /// Local time offset from UTC for the daily curve, hours (default: the city's standard
    /// offset).
    pub utc_offset_hours: Option<f64>,
}

/// An inference service: the fields of a scenario file's `[[services]]` entry. Planning-only:
/// its replicas are planned hour by hour, never dispatched to a cluster.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceRequest {
    /// Your name for the service (it also gets a server id).
    pub id: Option<String>,
    /// The accelerator type its replicas run on.
    pub accelerator: String,
    /// Accelerators per replica.
    pub gpus_per_replica: u32,
    /// Requests per second one replica sustains at the latency target.
    pub replica_rps: f64,
    /// Round-trip network latency a user may see at most, ms.
    pub slo_ms: f64,
    /// Peak demand by city.
    pub demand: Vec<DemandRequest>,
    /// Data residency: only these sites (catalog ids).
    pub sites: Option<Vec<String>>,
    /// Data residency: only sites in these countries (ISO codes).
    pub countries: Option<Vec<String>>,
}

/// Checks a service request against the world and turns it into a `ServiceSpec`.
pub fn to_service_spec(req: &ServiceRequest, world: &WorldSpec, sites: &[xisuan_plan::Site]) -> Result<xisuan_control::ServiceSpec, ApiError> {
    use xisuan_control::{RegionDemand, ServiceSpec};
    if let Some(name) = &req.id {
        limits::id(name).map_err(|m| bad("id", m))?;
    }
    let a = find_accelerator(&req.accelerator).ok_or_else(|| {
        bad("accelerator", format!("unknown accelerator `{}`; known: {}", req.accelerator, xisuan_estimate::hardware::ids().join(", ")))
    })?;
    if req.demand.is_empty() {
        return Err(bad("demand", "needs at least one city"));
    }
    let mut demand: Vec<RegionDemand> = Vec::new();
    for (i, d) in req.demand.iter().enumerate() {
        let c = world
            .catalog
            .city(&d.city)
            .ok_or_else(|| bad(&format!("demand[{i}].city"), format!("unknown city `{}` (see `xisuan sites --json` user_regions)", d.city)))?;
        if demand.iter().any(|x| x.region == c.name) {
            return Err(bad(&format!("demand[{i}].city"), format!("city {} is listed twice", c.name)));
        }
        limits::in_range(d.peak_rps, 0.0, limits::MAX_RPS).map_err(|m| bad(&format!("demand[{i}].peak_rps"), m))?;
        let offset = match (d.utc_offset_hours, &c.utc_offset_hours) {
            (Some(o), _) => {
                limits::in_range(o, -12.0, 14.0).map_err(|m| bad(&format!("demand[{i}].utc_offset_hours"), m))?;
                o
            }
            (None, Some(o)) => o.value,
            (None, None) => {
                return Err(bad(&format!("demand[{i}].utc_offset_hours"), format!("no time zone known for {}; give utc_offset_hours", c.name)))
            }
        };
        let latency_ms = world
            .site_ids
            .iter()
            .filter_map(|id| world.catalog.site(id).map(|s| (id.clone(), world.catalog.network.latency_from_region(c, s).value.0)))
            .collect();
        demand.push(RegionDemand { region: c.name.clone(), lat: c.lat, lon: c.lon, peak_rps: d.peak_rps, utc_offset_h: offset, latency_ms });
    }
    let allowed = residency(world, req.sites.as_deref(), req.countries.as_deref())?;
    let spec = ServiceSpec {
        name: req.id.clone(),
        accelerator: a.id.to_string(),
        gpus_per_replica: req.gpus_per_replica,
        replica_rps: req.replica_rps,
        kw_per_gpu: world.kw_cost(a).0,
        slo_ms: req.slo_ms,
        demand,
        allowed_sites: allowed,
    };
    // The core's own check, on a one-service problem over this world, built as rounds build it.
    let mut probe = Problem {
        slots: sites.first().map(|s| s.usd_per_kwh.len() as u32).unwrap_or(1),
        start_hour: 0,
        sites: sites.to_vec(),
        jobs: vec![],
        services: vec![],
        regions: vec![],
        links: vec![vec![xisuan_plan::Link { gbps: 1.0, efficiency: 0.8, usd_per_gb: 0.0 }; sites.len()]; sites.len()],
        latency_ms: vec![],
        objective: xisuan_plan::Objective::default(),
    };
    xisuan_control::add_services(&mut probe, [(req.id.as_deref().unwrap_or("service"), &spec)]);
    if let Err(e) = probe.validate() {
        return Err(match e.at {
            At::Service(_, f) => bad(f, e.message),
            _ => ApiError::bad_request(None, e.to_string()),
        });
    }
    Ok(spec)
}

/// Sites allowed by a residency rule (site ids and countries), or `None` for all.
fn residency(world: &WorldSpec, sites: Option<&[String]>, countries: Option<&[String]>) -> Result<Option<Vec<String>>, ApiError> {
    let mut allowed: Option<Vec<String>> = None;
    if sites.is_some_and(|l| l.is_empty()) {
        return Err(bad("sites", "names no site, so the work could run nowhere: leave `sites` out to allow every site"));
    }
    if countries.is_some_and(|l| l.is_empty()) {
        return Err(bad("countries", "names no country, so the work could run nowhere: leave `countries` out to allow every country"));
    }
    if let Some(list) = sites {
        let mut ids = Vec::new();
        for name in list {
            let r = world.catalog.resolve(name).map_err(|e| bad("sites", e.to_string()))?;
            let id = r.site.id.as_str().to_string();
            if !world.site_ids.contains(&id) {
                return Err(bad("sites", format!("site {id} is not among this server's sites ({})", world.site_ids.join(", "))));
            }
            ids.push(id);
        }
        allowed = Some(ids);
    }
    if let Some(cs) = countries {
        let by_country: Vec<String> = world
            .site_ids
            .iter()
            .filter(|id| world.catalog.site(id).is_some_and(|s| cs.iter().any(|c| c.eq_ignore_ascii_case(&s.country))))
            .cloned()
            .collect();
        if by_country.is_empty() {
            let mut have: Vec<String> = world.site_ids.iter().filter_map(|id| world.catalog.site(id).map(|s| s.country.clone())).collect();
            have.sort();
            have.dedup();
            return Err(bad(
                "countries",
                format!("no site of this server is in {} (its sites are in {}), so the work could run nowhere", cs.join(", "), have.join(", ")),
            ));
        }
        let both: Vec<String> = match &allowed {
            Some(a) => a.iter().filter(|s| by_country.contains(s)).cloned().collect(),
            None => by_country,
        };
        if both.is_empty() {
            return Err(bad("countries", format!("none of the sites named in `sites` is in {}, so the work could run nowhere", cs.join(", "))));
        }
        allowed = Some(both);
    }
    Ok(allowed)
}
