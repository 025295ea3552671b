//! The HTTP API: REST with JSON, bearer tokens, an OpenAPI document generated from these types
//! (`/openapi.json`), Prometheus metrics, health checks. Handlers check who is calling, turn the
//! request into a command for the controller, append the resulting event to the store, and
//! answer from the state. Errors are JSON naming the field; the caller's mistakes are 4xx.

use crate::jobs::{to_service_spec, to_spec, DemandRequest, JobRequest, ServiceRequest};
use crate::App;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::{OpenApi, ToSchema};
use xisuan_control::{self as control, JobRecord, Status, Tenant};

/// An error as the API returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub message: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub field: Option<String>,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(field: Option<&str>, message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, field: field.map(str::to_string), message: message.into() }
    }
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, field: None, message: message.into() }
    }
    fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("internal error: {e}"))
    }
}

impl From<control::Rejection> for ApiError {
    fn from(r: control::Rejection) -> ApiError {
        let status = match r {
            control::Rejection::NotFound(_) => StatusCode::NOT_FOUND,
            control::Rejection::Illegal { .. } => StatusCode::CONFLICT,
            control::Rejection::Invalid(_) => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, r.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: ErrorDetail { message: self.message, field: self.field } })).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// A JSON body, with serde's message (which names the field) as a 400.
pub struct Body<T>(pub T);

/// The longest reason an operator may give (a site down, a release), in characters.
pub const MAX_REASON_CHARS: usize = 1000;

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| match e.status() {
            // Over the body limit (2 MB): 413, as HTTP says.
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than this endpoint takes (2 MB; 64 MB for /v1/jobs/bulk): {}", e.body_text()),
            ),
            _ => ApiError::bad_request(None, e.body_text()),
        })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value: T = serde_path_to_error_lite(&mut de).map_err(|(path, msg)| ApiError::bad_request(path.as_deref(), msg))?;
        Ok(Body(value))
    }
}

/// Deserializes, reporting the field serde's message names when it names one.
fn serde_path_to_error_lite<'de, T: serde::Deserialize<'de>>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
) -> Result<T, (Option<String>, String)> {
    let v = T::deserialize(&mut *de).map_err(|e| {
        let msg = e.to_string();
        let field = ["unknown field `", "missing field `", "duplicate field `"]
            .iter()
            .find_map(|p| msg.find(p).map(|i| msg[i + p.len()..].split('`').next().unwrap_or("").to_string()));
        (field, format!("request body: {msg}"))
    })?;
    de.end().map_err(|e| (None, format!("request body: {e}")))?;
    Ok(v)
}

/// Query parameters, with axum's message as a JSON 400.
pub struct Q<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state).await.map(|Query(v)| Q(v)).map_err(|e| ApiError::bad_request(None, e.body_text()))
    }
}

/// Path parameters, with axum's message as a JSON 400.
pub struct P<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<S> for P<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state).await.map(|Path(v)| P(v)).map_err(|e| ApiError::bad_request(None, e.body_text()))
    }
}

pub fn sha256_hex(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The tenant a request's bearer token belongs to (401 otherwise).
async fn caller(app: &App, headers: &HeaderMap) -> ApiResult<Tenant> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "needs an Authorization: Bearer TOKEN header"))?;
    let hash = sha256_hex(token.trim());
    let find = || app.known.read().map_err(ApiError::internal).map(|k| k.state.tenant_by_token(&hash).cloned());
    let t = match find()? {
        Some(t) => t,
        None => {
            // Read your writes across replicas: a token made on another replica a moment ago
            // is in the log before this replica's follower has read it.
            app.sync().await.map_err(ApiError::internal)?;
            find()?.ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unknown token (revoked, replaced, or never issued)"))?
        }
    };
    if let Some(e) = t.token_expires_unix_s.filter(|e| crate::unix_s() >= *e) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "the token expired at {} (Unix seconds {e:.0}): ask for a new one (POST /v1/tenants/{}/token)",
                xisuan_catalog::series::format_hour((e / 3600.0).floor() as i64),
                t.id
            ),
        ));
    }
    Ok(t)
}

/// Reads the log up to its end when `id` names no job or service this replica knows (one
/// submitted through another replica a moment ago), so a 404 means it is not there.
async fn fresh(app: &App, id: &str) -> ApiResult<()> {
    let known = app.known.read().map_err(ApiError::internal)?.state.jobs.contains_key(id)
        || app.known.read().map_err(ApiError::internal)?.state.services.contains_key(id);
    if !known {
        app.sync().await.map_err(ApiError::internal)?;
    }
    Ok(())
}

async fn admin(app: &App, headers: &HeaderMap) -> ApiResult<Tenant> {
    let t = caller(app, headers).await?;
    if t.admin {
        Ok(t)
    } else {
        Err(ApiError::new(StatusCode::FORBIDDEN, "needs the admin token"))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantRequest {
    /// Unique among tenants; at most 256 bytes, no control characters.
    #[schema(min_length = 1, max_length = 256)]
    pub name: String,
    /// Most accelerators the tenant's work may hold at once (more waits, it is not refused).
    #[schema(minimum = 1, maximum = 10000000)]
    pub quota_gpus: Option<u32>,
    /// Days until its token stops working (none: until replaced or revoked).
    #[schema(exclusive_minimum = 0, maximum = 3660)]
    pub token_days: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantCreated {
    pub id: String,
    /// The tenant's bearer token; shown once, stored only as its SHA-256.
    pub token: String,
    /// When it stops working, Unix seconds (none: until replaced or revoked).
    pub expires_unix_s: Option<f64>,
}

/// A new token for a tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Days until it stops working (none: until replaced or revoked).
    #[schema(exclusive_minimum = 0, maximum = 3660)]
    pub token_days: Option<f64>,
}

/// Days to an expiry time, checked.
fn expiry(days: Option<f64>) -> ApiResult<Option<f64>> {
    match days {
        None => Ok(None),
        Some(d) if d.is_finite() && d > 0.0 && d <= 3660.0 => Ok(Some(crate::unix_s() + d * 86_400.0)),
        Some(d) => Err(ApiError::bad_request(Some("token_days"), format!("must be in (0, 3660] days, got {d}"))),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Submitted {
    pub id: String,
    pub state: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// Hours since the Unix epoch (server clock).
    pub at_h: f64,
    pub what: String,
}

/// A job as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    pub name: Option<String>,
    pub tenant: String,
    pub state: String,
    pub gpus: u32,
    /// Where its data is, and how much (TB).
    pub data_site: String,
    pub data_tb: f64,
    /// Reference hours of work, and hours saved by checkpoints.
    pub hours: f64,
    pub done_hours: f64,
    pub site: Option<String>,
    pub accelerator: Option<String>,
    /// Planned or actual start and planned end, hours since the Unix epoch.
    pub start_h: Option<f64>,
    pub end_h: Option<f64>,
    pub attempts: u32,
    /// Why not each other site (or why it is not placed), from the latest planning round.
    pub reasons: Vec<String>,
    /// Sites whose cluster refused it, with the cluster's words: it is not planned there again
    /// until the site has been down and up.
    pub refused: BTreeMap<String, String>,
    /// What it runs (`null` for planning-only work): the command (or `script`), image and
    /// inputs as submitted.
    pub command: Option<Vec<String>>,
    pub script: Option<String>,
    pub image: Option<String>,
    /// Inputs as `SITE:PATH`, and their sizes, bytes.
    pub inputs: Vec<String>,
    /// The newest complete checkpoint seen: its site, folder and step.
    pub checkpoint: Option<String>,
    /// The site of each attempt.
    pub attempt_sites: BTreeMap<u32, String>,
    /// Set while an attempt may still be running at a site: the job starts nowhere else until
    /// that site's cluster confirms the attempt ended, or an admin releases it
    /// (`POST /v1/sites/{site}/release`).
    pub fence: Option<FenceView>,
    pub history: Vec<HistoryEntry>,
}

/// An attempt that may still be running at a site.
#[derive(Debug, Serialize, ToSchema)]
pub struct FenceView {
    pub site: String,
    pub attempt: u32,
    /// Why it is fenced.
    pub reason: String,
}

impl JobView {
    fn of(j: &JobRecord) -> JobView {
        JobView {
            id: j.id.clone(),
            name: j.spec.name.clone(),
            tenant: j.tenant.clone(),
            state: j.status.name().into(),
            gpus: j.spec.gpus,
            data_site: j.spec.data_site.clone(),
            data_tb: j.spec.data_bytes / 1e12,
            hours: j.spec.hours,
            done_hours: j.done_h,
            site: j.site.clone(),
            accelerator: j.accelerator.clone(),
            start_h: j.start_h,
            end_h: j.end_h,
            attempts: j.attempts,
            reasons: j.reasons.clone(),
            refused: j.refused.clone(),
            command: j.spec.run.as_ref().filter(|r| r.script.is_none()).map(|r| r.command.clone()),
            script: j.spec.run.as_ref().and_then(|r| r.script.clone()),
            image: j.spec.run.as_ref().and_then(|r| r.image.clone()),
            inputs: j.spec.run.iter().flat_map(|r| r.inputs.iter().map(|i| format!("{}:{} ({:.0} bytes)", i.site, i.path, i.bytes))).collect(),
            checkpoint: j.checkpoint.as_ref().map(|c| format!("{} at {} (step {} of {})", c.path, c.site, c.step, c.total_steps)),
            attempt_sites: j.attempt_sites.clone(),
            fence: j.fence.as_ref().map(|f| FenceView { site: f.site.clone(), attempt: f.attempt, reason: f.reason.clone() }),
            history: j.history.iter().map(|(at_h, what)| HistoryEntry { at_h: *at_h, what: what.clone() }).collect(),
        }
    }
}

/// Peak demand from one city.
#[derive(Debug, Serialize, ToSchema)]
pub struct DemandView {
    pub city: String,
    /// Requests per second at the daily peak.
    pub peak_rps: f64,
    pub utc_offset_hours: f64,
}

/// Replicas at one site.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplicasView {
    pub site: String,
    pub replicas: u32,
}

/// A service as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceView {
    pub id: String,
    pub name: Option<String>,
    pub tenant: String,
    /// active or cancelled.
    pub state: String,
    pub accelerator: String,
    pub gpus_per_replica: u32,
    pub replica_rps: f64,
    pub slo_ms: f64,
    /// Peak requests per second by city.
    pub demand: Vec<DemandView>,
    /// Replicas running this hour, by site, from the latest planning round.
    pub replicas: Vec<ReplicasView>,
    /// Over the latest round's horizon: cost, USD; carbon, kgCO2e; demand not served within
    /// the latency objective, rps·h.
    pub cost_usd: Option<f64>,
    pub carbon_kg: Option<f64>,
    pub unmet_rps_hours: Option<f64>,
    pub reasons: Vec<String>,
    pub history: Vec<HistoryEntry>,
}

impl ServiceView {
    fn of(v: &control::ServiceRecord) -> ServiceView {
        let l = v.latest.as_ref();
        ServiceView {
            id: v.id.clone(),
            name: v.spec.name.clone(),
            tenant: v.tenant.clone(),
            state: v.status.name().into(),
            accelerator: v.spec.accelerator.clone(),
            gpus_per_replica: v.spec.gpus_per_replica,
            replica_rps: v.spec.replica_rps,
            slo_ms: v.spec.slo_ms,
            demand: v
                .spec
                .demand
                .iter()
                .map(|d| DemandView { city: d.region.clone(), peak_rps: d.peak_rps, utc_offset_hours: d.utc_offset_h })
                .collect(),
            replicas: l.map(|l| l.replicas.iter().map(|(site, n)| ReplicasView { site: site.clone(), replicas: *n }).collect()).unwrap_or_default(),
            cost_usd: l.map(|l| l.cost_usd),
            carbon_kg: l.map(|l| l.carbon_kg),
            unmet_rps_hours: l.map(|l| l.unmet_rps_hours),
            reasons: l.map(|l| l.reasons.clone()).unwrap_or_default(),
            history: v.history.iter().map(|(at_h, what)| HistoryEntry { at_h: *at_h, what: what.clone() }).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceList {
    pub services: Vec<ServiceView>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Page {
    /// Return items after this one (a job id, or an event sequence number).
    pub after: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobView>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlacementView {
    pub job: String,
    pub site: String,
    pub accelerator: String,
    pub start_h: f64,
    pub end_h: f64,
    pub cost_usd: f64,
    pub carbon_kg: f64,
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServicePlanView {
    pub service: String,
    pub replicas: Vec<ReplicasView>,
    pub cost_usd: f64,
    pub carbon_kg: f64,
    pub unmet_rps_hours: f64,
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnplacedView {
    pub job: String,
    pub reasons: Vec<String>,
}

/// The latest planning round (placements of the caller's jobs; all for the admin).
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    /// Whose work the totals below cover: "all tenants" (the admin), or the caller's own
    /// ("tenant NAME"). A tenant's totals are its own placements' and services'; the round's
    /// objective, bound, gap and baselines (whole-round figures) are the admin's alone.
    pub scope: String,
    pub round: u64,
    pub at_h: f64,
    pub solver: String,
    pub objective: Option<f64>,
    pub bound: Option<f64>,
    pub gap: Option<f64>,
    pub cost_usd: f64,
    pub carbon_kg: f64,
    pub run_now_cost_usd: Option<f64>,
    pub run_now_carbon_kg: Option<f64>,
    /// Every job at the eastern hub nearest its data, run now, USD and kgCO2e.
    pub nearest_east_cost_usd: Option<f64>,
    pub nearest_east_carbon_kg: Option<f64>,
    pub seconds: f64,
    pub placements: Vec<PlacementView>,
    pub unplaced: Vec<UnplacedView>,
    /// The caller's services (all for the admin): replicas by site this hour, and cost, carbon
    /// and unmet demand over the round's horizon.
    pub services: Vec<ServicePlanView>,
    /// How the current hour maps onto the hourly series, and other notes.
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SiteView {
    pub id: String,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    pub down: bool,
    /// Accelerators by type.
    pub capacity: Vec<(String, u32)>,
    /// This hour's grid carbon intensity, kgCO2e/kWh, and electricity price, USD/kWh.
    pub kg_per_kwh_now: f64,
    pub usd_per_kwh_now: f64,
    /// The hour the hourly values below start at (hours since the Unix epoch).
    pub start_h: i64,
    /// Grid carbon intensity, kgCO2e/kWh, and electricity price, USD/kWh, for each hour of the
    /// planning horizon from `start_h`.
    pub kg_per_kwh_hourly: Vec<f64>,
    pub usd_per_kwh_hourly: Vec<f64>,
    pub carbon_source: String,
    pub price_source: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteDownRequest {
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub seq: i64,
    pub kind: String,
    pub job: Option<String>,
    /// The event as stored.
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub events: Vec<EventView>,
    pub next: Option<String>,
}

impl SiteView {
    fn of(b: &xisuan_io::world::BuiltSite, down: bool, now_h: f64) -> SiteView {
        SiteView {
            id: b.site.id.clone(),
            name: b.site.name.clone(),
            lat: b.site.lat,
            lon: b.site.lon,
            down,
            capacity: b.site.capacity.clone(),
            kg_per_kwh_now: b.site.kg_per_kwh.first().copied().unwrap_or(0.0),
            usd_per_kwh_now: b.site.usd_per_kwh.first().copied().unwrap_or(0.0),
            start_h: now_h.floor() as i64,
            kg_per_kwh_hourly: b.site.kg_per_kwh.clone(),
            usd_per_kwh_hourly: b.site.usd_per_kwh.clone(),
            carbon_source: b.carbon_source.clone(),
            price_source: b.price_source.clone(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    /// Model parameters.
    pub params: f64,
    /// Training tokens.
    pub tokens: f64,
    /// Accelerator id (see `xisuan estimate hardware`).
    pub gpu: String,
    pub gpus: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServeRequest {
    pub params: f64,
    pub gpu: String,
    /// Mean requests per second.
    pub rps: f64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChooseRequest {
    pub tokens_per_month: f64,
    /// API tier: small, medium or large (US APIs), or small-cn, medium-cn or large-cn (Chinese APIs).
    pub tier: String,
    pub gpu: String,
}

/// An estimate, as the CLI's `--json` prints it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Estimate {
    #[schema(value_type = Object)]
    pub estimate: serde_json::Value,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "xisuan control plane", description = "Submit training jobs and inference services, follow their plans and states, read the sites, metrics and estimates. Authenticate with `Authorization: Bearer TOKEN`."),
    paths(create_tenant, rotate_token, revoke_token, submit_job, submit_bulk, list_jobs, get_job, cancel_job, job_logs, list_transfers, release_site, submit_service, list_services, get_service, cancel_service, get_plan, list_sites, site_down, site_up, list_events, stream_events, estimate_train, estimate_serve, estimate_choose, metrics, healthz, readyz),
    components(schemas(ErrorBody, ErrorDetail, TenantRequest, TenantCreated, TokenRequest, BulkRequest, BulkSubmitted, JobRequest, ServiceRequest, DemandRequest, ServiceView, ServiceList, ReplicasView, DemandView, ServicePlanView, Submitted, JobView, FenceView, JobList, HistoryEntry, PlanView, PlacementView, UnplacedView, SiteView, SiteDownRequest, ReleaseRequest, Released, LogView, TransferView, TransferList, EventView, EventList, TrainRequest, ServeRequest, ChooseRequest, Estimate)),
    modifiers(&Security)
)]
pub struct Doc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/tenants", post(create_tenant))
        // A bulk request of 10,000 jobs is larger than the 2 MB other requests may be.
        .route("/v1/jobs/bulk", post(submit_bulk).layer(axum::extract::DefaultBodyLimit::max(64 << 20)))
        .route("/v1/tenants/{id}/token", post(rotate_token).delete(revoke_token))
        .route("/v1/jobs", post(submit_job).get(list_jobs))
        .route("/v1/jobs/{id}", get(get_job).delete(cancel_job))
        .route("/v1/jobs/{id}/logs", get(job_logs))
        .route("/v1/transfers", get(list_transfers))
        .route("/v1/sites/{id}/release", post(release_site))
        .route("/v1/services", post(submit_service).get(list_services))
        .route("/v1/services/{id}", get(get_service).delete(cancel_service))
        .route("/v1/plan", get(get_plan))
        .route("/v1/sites", get(list_sites))
        .route("/v1/sites/{id}/down", post(site_down))
        .route("/v1/sites/{id}/up", post(site_up))
        .route("/v1/events", get(list_events))
        .route("/v1/events/stream", get(stream_events))
        .route("/v1/estimate/train", post(estimate_train))
        .route("/v1/estimate/serve", post(estimate_serve))
        .route("/v1/estimate/choose", post(estimate_choose))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi))
        .merge(crate::ui::routes())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint; see /openapi.json") })
        .with_state(app)
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(Doc::openapi())
}

/// Creates a tenant and returns its token (admin only).
#[utoipa::path(post, path = "/v1/tenants", request_body = TenantRequest, security(("bearer" = [])),
    responses((status = 201, body = TenantCreated), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "a tenant of that name exists")))]
async fn create_tenant(
    AxState(app): AxState<Arc<App>>,
    headers: HeaderMap,
    Body(req): Body<TenantRequest>,
) -> ApiResult<(StatusCode, Json<TenantCreated>)> {
    admin(&app, &headers).await?;
    xisuan_model::limits::id(&req.name).map_err(|m| ApiError::bad_request(Some("name"), m))?;
    if let Some(q) = req.quota_gpus {
        xisuan_model::limits::count(q as u64, 1, xisuan_model::limits::MAX_SITE_ACCELERATORS as u64)
            .map_err(|m| ApiError::bad_request(Some("quota_gpus"), m))?;
    }
    let (id, token) = (format!("tenant-{}", crate::random_hex(6)), crate::random_hex(24));
    let taken = || ApiError::new(StatusCode::CONFLICT, format!("a tenant named {} exists", req.name));
    if app.known.read().map_err(ApiError::internal)?.state.tenants.values().any(|t| t.name == req.name) {
        return Err(taken());
    }
    let expires = expiry(req.token_days)?;
    let hash = sha256_hex(&token);
    let mut events = vec![(
        control::Event::TenantCreated {
            id: id.clone(),
            name: req.name.clone(),
            token_sha256: hash.clone(),
            quota_gpus: req.quota_gpus,
            admin: false,
            at_h: app.clock.now_h(),
        },
        String::new(),
        None,
    )];
    if expires.is_some() {
        events.push((
            control::Event::TokenSet {
                tenant: id.clone(),
                token_sha256: hash,
                expires_unix_s: expires,
                by: "created".into(),
                at_h: app.clock.now_h(),
            },
            String::new(),
            None,
        ));
    }
    app.append(events).await.map_err(ApiError::internal)?;
    // Two requests for one name at once: the log keeps the first (the fold refuses the other).
    if !app.known.read().map_err(ApiError::internal)?.state.tenants.contains_key(&id) {
        return Err(taken());
    }
    Ok((StatusCode::CREATED, Json(TenantCreated { id, token, expires_unix_s: expires })))
}

/// A new token for a tenant (the admin for any tenant, the admin's own included; a tenant for
/// itself): the old one stops working at once. Shown once.
#[utoipa::path(post, path = "/v1/tenants/{id}/token", params(("id" = String, Path)), request_body = TokenRequest, security(("bearer" = [])),
    responses((status = 201, body = TenantCreated), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rotate_token(
    AxState(app): AxState<Arc<App>>,
    headers: HeaderMap,
    P(id): P<String>,
    Body(req): Body<TokenRequest>,
) -> ApiResult<(StatusCode, Json<TenantCreated>)> {
    let t = caller(&app, &headers).await?;
    if !(t.admin || t.id == id) || !app.known.read().map_err(ApiError::internal)?.state.tenants.contains_key(&id) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no tenant {id}")));
    }
    let expires = expiry(req.token_days)?;
    let token = crate::random_hex(24);
    let e = control::Event::TokenSet {
        tenant: id.clone(),
        token_sha256: sha256_hex(&token),
        expires_unix_s: expires,
        by: t.name.clone(),
        at_h: app.clock.now_h(),
    };
    app.append(vec![(e, String::new(), None)]).await.map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(TenantCreated { id, token, expires_unix_s: expires })))
}

/// Revokes a tenant's token (admin): no token of it works until a new one is set
/// (`POST /v1/tenants/{id}/token`). The admin's own is rotated, never revoked.
#[utoipa::path(delete, path = "/v1/tenants/{id}/token", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn revoke_token(AxState(app): AxState<Arc<App>>, headers: HeaderMap, P(id): P<String>) -> ApiResult<StatusCode> {
    let t = admin(&app, &headers).await?;
    let target = app
        .known
        .read()
        .map_err(ApiError::internal)?
        .state
        .tenants
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no tenant {id}")))?;
    if target.admin {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "the admin's token is rotated (POST /v1/tenants/admin/token, or a new XISUAN_ADMIN_TOKEN at start), never revoked",
        ));
    }
    let e = control::Event::TokenSet { tenant: id, token_sha256: String::new(), expires_unix_s: None, by: t.name.clone(), at_h: app.clock.now_h() };
    app.append(vec![(e, String::new(), None)]).await.map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Submits a job. A retry with the same `Idempotency-Key` header returns the first job's id.
#[utoipa::path(post, path = "/v1/jobs", request_body = JobRequest, security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "retries with the same key return the first submission")),
    responses((status = 201, body = Submitted, description = "created"), (status = 200, body = Submitted, description = "an earlier submission with the same key"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody, description = "the key was first used for something else"), (status = 422, body = ErrorBody, description = "the key was first used with a different request")))]
async fn submit_job(AxState(app): AxState<Arc<App>>, headers: HeaderMap, Body(req): Body<JobRequest>) -> ApiResult<(StatusCode, Json<Submitted>)> {
    let t = caller(&app, &headers).await?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let k = v.to_str().map_err(|_| ApiError::bad_request(Some("Idempotency-Key"), "must be visible ASCII"))?;
            xisuan_model::limits::id(k).map_err(|m| ApiError::bad_request(Some("Idempotency-Key"), m))?;
            Some(k.to_string())
        }
    };
    let now = app.clock.now_h();
    let sites = app.sites_now(now).map_err(ApiError::internal)?;
    // Inputs' sizes are read from their storage (a file system or rclone): off the async threads.
    let spec = tokio::task::block_in_place(|| {
        let clusters = crate::jobs::Clusters {
            stores: &app.config.stores,
            needs_image: &|s| app.config.kube.needs_image(s),
            slurm: &|s| app.config.slurm.has(s),
        };
        to_spec(&req, &app.world, &sites, &clusters, now)
    })?;
    // Work the tenant's quota could never hold at once would wait forever: refused now.
    if let Some(q) = t.quota_gpus.filter(|q| spec.gpus > *q) {
        return Err(ApiError::bad_request(Some("gpus"), format!("{} accelerators at once is more than this tenant's quota of {q}, so it could never run: split the work, or ask the admin for a larger quota", spec.gpus)));
    }
    let id = format!("job-{}", crate::random_hex(8));
    let digest = request_digest(&req)?;
    let mut e = {
        let known = app.known.read().map_err(ApiError::internal)?;
        control::submit(&known.state, &t.id, &id, spec, now)?
    };
    if let control::Event::JobSubmitted { request_sha256, .. } = &mut e {
        *request_sha256 = Some(digest.clone());
    }
    let appended = app.append(vec![(e, t.id.clone(), key)]).await.map_err(ApiError::internal)?;
    match appended.into_iter().next() {
        Some(crate::store::Appended::Existing(_, body)) => {
            let first: control::Event = serde_json::from_str(&body).map_err(ApiError::internal)?;
            let id = match &first {
                control::Event::JobSubmitted { id, request_sha256, .. } => {
                    same_request(request_sha256.as_deref(), &digest)?;
                    id.clone()
                }
                other => return Err(key_taken(other)),
            };
            let state = app.known.read().map_err(ApiError::internal)?.state.jobs.get(&id).map(|j| j.status.name()).unwrap_or("pending").to_string();
            Ok((StatusCode::OK, Json(Submitted { id, state })))
        }
        _ => Ok((StatusCode::CREATED, Json(Submitted { id, state: "pending".into() }))),
    }
}

/// Many jobs in one request.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// 1 to 10,000 jobs, each as `POST /v1/jobs` takes it.
    #[schema(min_items = 1, max_items = 10000)]
    pub jobs: Vec<JobRequest>,
}

/// The jobs of a bulk request, in its order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkSubmitted {
    pub jobs: Vec<Submitted>,
}

/// Most jobs one bulk request takes.
pub const MAX_BULK_JOBS: usize = 10_000;

/// Submits up to 10,000 jobs in one request, durably in one transaction: all are checked
/// first (a bad one is a 400 naming `jobs[i].field`, and none is taken), then all are written
/// together. With an `Idempotency-Key`, job i gets the key `KEY/i`: a retry returns the same ids.
#[utoipa::path(post, path = "/v1/jobs/bulk", request_body = BulkRequest, security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "retries with the same key return the first submission's ids")),
    responses((status = 201, body = BulkSubmitted, description = "created"), (status = 200, body = BulkSubmitted, description = "every job submitted before with the same key"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn submit_bulk(
    AxState(app): AxState<Arc<App>>,
    headers: HeaderMap,
    Body(req): Body<BulkRequest>,
) -> ApiResult<(StatusCode, Json<BulkSubmitted>)> {
    let t = caller(&app, &headers).await?;
    let key = idempotency_key(&headers)?;
    if req.jobs.is_empty() || req.jobs.len() > MAX_BULK_JOBS {
        return Err(ApiError::bad_request(Some("jobs"), format!("takes 1 to {MAX_BULK_JOBS} jobs, got {}", req.jobs.len())));
    }
    let now = app.clock.now_h();
    let sites = app.sites_now(now).map_err(ApiError::internal)?;
    let at = |i: usize| {
        move |mut e: ApiError| {
            e.field = Some(match &e.field {
                Some(f) => format!("jobs[{i}].{f}"),
                None => format!("jobs[{i}]"),
            });
            e
        }
    };
    let specs = tokio::task::block_in_place(|| {
        let clusters = crate::jobs::Clusters {
            stores: &app.config.stores,
            needs_image: &|s| app.config.kube.needs_image(s),
            slurm: &|s| app.config.slurm.has(s),
        };
        req.jobs.iter().enumerate().map(|(i, r)| to_spec(r, &app.world, &sites, &clusters, now).map_err(at(i))).collect::<ApiResult<Vec<_>>>()
    })?;
    let mut rows = Vec::with_capacity(specs.len());
    {
        let known = app.known.read().map_err(ApiError::internal)?;
        for (i, (spec, r)) in specs.into_iter().zip(&req.jobs).enumerate() {
            if let Some(q) = t.quota_gpus.filter(|q| spec.gpus > *q) {
                return Err(at(i)(ApiError::bad_request(
                    Some("gpus"),
                    format!("{} accelerators at once is more than this tenant's quota of {q}, so it could never run", spec.gpus),
                )));
            }
            let mut e = control::submit(&known.state, &t.id, &format!("job-{}", crate::random_hex(8)), spec, now)?;
            if let control::Event::JobSubmitted { request_sha256, .. } = &mut e {
                *request_sha256 = Some(request_digest(r)?);
            }
            rows.push((e, t.id.clone(), key.as_ref().map(|k| format!("{k}/{i}"))));
        }
    }
    let digests: Vec<Option<String>> = rows
        .iter()
        .map(|(e, _, _)| match e {
            control::Event::JobSubmitted { request_sha256, .. } => request_sha256.clone(),
            _ => None,
        })
        .collect();
    let ids: Vec<String> = rows.iter().map(|(e, _, _)| e.job().unwrap_or_default().to_string()).collect();
    let appended = app.append(rows).await.map_err(ApiError::internal)?;
    let mut out = Vec::with_capacity(appended.len());
    let mut all_before = true;
    for (i, a) in appended.into_iter().enumerate() {
        match a {
            crate::store::Appended::Existing(_, body) => {
                let first: control::Event = serde_json::from_str(&body).map_err(ApiError::internal)?;
                let id = match &first {
                    control::Event::JobSubmitted { id, request_sha256, .. } => {
                        same_request(request_sha256.as_deref(), digests[i].as_deref().unwrap_or_default()).map_err(at(i))?;
                        id.clone()
                    }
                    other => return Err(at(i)(key_taken(other))),
                };
                let state =
                    app.known.read().map_err(ApiError::internal)?.state.jobs.get(&id).map(|j| j.status.name()).unwrap_or("pending").to_string();
                out.push(Submitted { id, state });
            }
            _ => {
                all_before = false;
                out.push(Submitted { id: ids[i].clone(), state: "pending".into() });
            }
        }
    }
    Ok((if all_before { StatusCode::OK } else { StatusCode::CREATED }, Json(BulkSubmitted { jobs: out })))
}

/// SHA-256 of a request as read (its fields in a fixed order), to tell a retry from a new
/// request under the same idempotency key.
fn request_digest(req: &impl serde::Serialize) -> ApiResult<String> {
    Ok(sha256_hex(&serde_json::to_string(req).map_err(ApiError::internal)?))
}

/// A retry must carry the request the key was first used with (422 otherwise, as the
/// IETF idempotency-key draft says); a first use recorded before requests were hashed passes.
fn same_request(first: Option<&str>, now: &str) -> ApiResult<()> {
    match first {
        Some(f) if f != now => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "this Idempotency-Key was first used with a different request: use a new key for a new request".to_string(),
        )),
        _ => Ok(()),
    }
}

/// The idempotency key names something of another kind (409).
fn key_taken(first: &control::Event) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, format!("this Idempotency-Key was first used for a {}: use a new key", first.kind()))
}

fn visible<'a>(t: &Tenant, j: &'a JobRecord) -> Option<&'a JobRecord> {
    (t.admin || j.tenant == t.id).then_some(j)
}

fn page_limit(p: &Page) -> ApiResult<usize> {
    match p.limit {
        None => Ok(100),
        Some(n @ 1..=1000) => Ok(n as usize),
        Some(n) => Err(ApiError::bad_request(Some("limit"), format!("{n}: must be 1 to 1000"))),
    }
}

/// Lists the caller's jobs (every job for the admin), in id order, a page at a time.
#[utoipa::path(get, path = "/v1/jobs", params(Page), security(("bearer" = [])), responses((status = 200, body = JobList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_jobs(AxState(app): AxState<Arc<App>>, headers: HeaderMap, Q(page): Q<Page>) -> ApiResult<Json<JobList>> {
    let t = caller(&app, &headers).await?;
    let limit = page_limit(&page)?;
    let known = app.known.read().map_err(ApiError::internal)?;
    let mut jobs: Vec<JobView> = Vec::new();
    let mut next = None;
    let start = page.after.clone().unwrap_or_default();
    for j in known.state.jobs.range::<String, _>((std::ops::Bound::Excluded(start), std::ops::Bound::Unbounded)).filter_map(|(_, j)| visible(&t, j)) {
        if jobs.len() == limit {
            next = jobs.last().map(|v| v.id.clone());
            break;
        }
        jobs.push(JobView::of(j));
    }
    Ok(Json(JobList { jobs, next }))
}

/// One job: its state, placement, reasons and history.
#[utoipa::path(get, path = "/v1/jobs/{id}", params(("id" = String, Path)), security(("bearer" = [])), responses((status = 200, body = JobView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_job(AxState(app): AxState<Arc<App>>, headers: HeaderMap, P(id): P<String>) -> ApiResult<Json<JobView>> {
    let t = caller(&app, &headers).await?;
    fresh(&app, &id).await?;
    let known = app.known.read().map_err(ApiError::internal)?;
    let j = known.state.jobs.get(&id).and_then(|j| visible(&t, j)).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no job {id}")))?;
    Ok(Json(JobView::of(j)))
}

/// Cancels a job of the caller's.
#[utoipa::path(delete, path = "/v1/jobs/{id}", params(("id" = String, Path)), security(("bearer" = [])), responses((status = 200, body = Submitted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody, description = "the job kept changing: try again")))]
async fn cancel_job(AxState(app): AxState<Arc<App>>, headers: HeaderMap, P(id): P<String>) -> ApiResult<Json<Submitted>> {
    let t = caller(&app, &headers).await?;
    fresh(&app, &id).await?;
    let now = app.clock.now_h();
    decide_and_append(&app, &id, |state| {
        Ok((control::cancel(state, &t, &id, now)?, state.jobs.get(&id).map(|j| j.tenant.clone()).unwrap_or_default()))
    })
    .await?;
    Ok(Json(Submitted { id, state: Status::Cancelled.name().into() }))
}

/// Decides on the state as of a point in the log and writes the decision with that point;
/// where its job or service changed since (it finished, it was dispatched), decides again on
/// the newer state. A 503 after 8 tries.
async fn decide_and_append(app: &App, id: &str, decide: impl Fn(&control::State) -> ApiResult<(control::Event, String)>) -> ApiResult<()> {
    for _ in 0..8 {
        let (e, tenant, at) = {
            let known = app.known.read().map_err(ApiError::internal)?;
            let (e, tenant) = decide(&known.state)?;
            (e, tenant, known.seq)
        };
        match app.append_decided(vec![(e, tenant, None)], Some(at)).await.map_err(ApiError::internal)?.first() {
            Some(crate::store::Appended::Conflict) => app.sync().await.map_err(ApiError::internal)?,
            _ => return Ok(()),
        }
    }
    Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("{id} kept changing while the request was being decided: try again")))
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let k = v.to_str().map_err(|_| ApiError::bad_request(Some("Idempotency-Key"), "must be visible ASCII"))?;
            xisuan_model::limits::id(k).map_err(|m| ApiError::bad_request(Some("Idempotency-Key"), m))?;
            Ok(Some(k.to_string()))
        }
    }
}

/// Submits an inference service: replicas are planned every hour near its users, within its
/// latency objective. A retry with the same `Idempotency-Key` returns the first one's id.
#[utoipa::path(post, path = "/v1/services", request_body = ServiceRequest, security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "retries with the same key return the first submission")),
    responses((status = 201, body = Submitted, description = "created"), (status = 200, body = Submitted, description = "an earlier submission with the same key"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody, description = "the key was first used for something else"), (status = 422, body = ErrorBody, description = "the key was first used with a different request")))]
async fn submit_service(
    AxState(app): AxState<Arc<App>>,
    headers: HeaderMap,
    Body(req): Body<ServiceRequest>,
) -> ApiResult<(StatusCode, Json<Submitted>)> {
    let t = caller(&app, &headers).await?;
    let key = idempotency_key(&headers)?;
    let now = app.clock.now_h();
    let sites = app.sites_now(now).map_err(ApiError::internal)?;
    let spec = to_service_spec(&req, &app.world, &sites)?;
    let id = format!("svc-{}", crate::random_hex(8));
    let digest = request_digest(&req)?;
    let mut e = {
        let known = app.known.read().map_err(ApiError::internal)?;
        control::submit_service(&known.state, &t.id, &id, spec, now)?
    };
    if let control::Event::ServiceSubmitted { request_sha256, .. } = &mut e {
        *request_sha256 = Some(digest.clone());
    }
    let appended = app.append(vec![(e, t.id.clone(), key)]).await.map_err(ApiError::internal)?;
    match appended.into_iter().next() {
        Some(crate::store::Appended::Existing(_, body)) => {
            let first: control::Event = serde_json::from_str(&body).map_err(ApiError::internal)?;
            let id = match &first {
                control::Event::ServiceSubmitted { id, request_sha256, .. } => {
                    same_request(request_sha256.as_deref(), &digest)?;
                    id.clone()
                }
                other => return Err(key_taken(other)),
            };
            let state =
                app.known.read().map_err(ApiError::internal)?.state.services.get(&id).map(|v| v.status.name()).unwrap_or("active").to_string();
            Ok((StatusCode::OK, Json(Submitted { id, state })))
        }
        _ => Ok((StatusCode::CREATED, Json(Submitted { id, state: "active".into() }))),
    }
}

/// Lists the caller's services (every service for the admin), in id order, a page at a time.
#[utoipa::path(get, path = "/v1/services", params(Page), security(("bearer" = [])), responses((status = 200, body = ServiceList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_services(AxState(app): AxState<Arc<App>>, headers: HeaderMap, Q(page): Q<Page>) -> ApiResult<Json<ServiceList>> {
    let t = caller(&app, &headers).await?;
    let limit = page_limit(&page)?;
    let known = app.known.read().map_err(ApiError::internal)?;
    let mut services = Vec::new();
    let mut next = None;
    let start = page.after.clone().unwrap_or_default();
    for v in known
        .state
        .services
        .range::<String, _>((std::ops::Bound::Excluded(start), std::ops::Bound::Unbounded))
        .map(|x| x.1)
        .filter(|v| t.admin || v.tenant == t.id)
    {
        if services.len() == limit {
            next = services.last().map(|v: &ServiceView| v.id.clone());
            break;
        }
        services.push(ServiceView::of(v));
    }
    Ok(Json(ServiceList { services, next }))
}

/// One service: its replicas by site this hour, cost, carbon, unmet demand, reasons, history.
#[utoipa::path(get, path = "/v1/services/{id}", params(("id" = String, Path)), security(("bearer" = [])), responses((status = 200, body = ServiceView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_service(AxState(app): AxState<Arc<App>>, headers: HeaderMap, P(id): P<String>) -> ApiResult<Json<ServiceView>> {
    let t = caller(&app, &headers).await?;
    fresh(&app, &id).await?;
    let known = app.known.read().map_err(ApiError::internal)?;
    let v = known
        .state
        .services
        .get(&id)
        .filter(|v| t.admin || v.tenant == t.id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no service {id}")))?;
    Ok(Json(ServiceView::of(v)))
}

/// Stops a service of the caller's.
#[utoipa::path(delete, path = "/v1/services/{id}", params(("id" = String, Path)), security(("bearer" = [])), responses((status = 200, body = Submitted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody, description = "the service kept changing: try again")))]
async fn cancel_service(AxState(app): AxState<Arc<App>>, headers: HeaderMap, P(id): P<String>) -> ApiResult<Json<Submitted>> {
    let t = caller(&app, &headers).await?;
    fresh(&app, &id).await?;
    let now = app.clock.now_h();
    decide_and_append(&app, &id, |state| {
        Ok((control::cancel_service(state, &t, &id, now)?, state.services.get(&id).map(|v| v.tenant.clone()).unwrap_or_default()))
    })
    .await?;
    Ok(Json(Submitted { id, state: control::ServiceStatus::Cancelled.name().into() }))
}

/// The latest planning round: placements with their reasons, the objective, bound and gap, and
/// the run-now comparison.
#[utoipa::path(get, path = "/v1/plan", security(("bearer" = [])), responses((status = 200, body = PlanView), (status = 401, body = ErrorBody)))]
async fn get_plan(AxState(app): AxState<Arc<App>>, headers: HeaderMap) -> ApiResult<Json<PlanView>> {
    let t = caller(&app, &headers).await?;
    let known = app.known.read().map_err(ApiError::internal)?;
    let mine = |job: &str| t.admin || known.state.jobs.get(job).is_some_and(|j| j.tenant == t.id);
    let notes = app.time_notes();
    let scope = if t.admin { "all tenants".to_string() } else { format!("tenant {}", t.name) };
    let view = match &known.state.last_round {
        None => PlanView {
            scope,
            round: 0,
            at_h: app.clock.now_h(),
            solver: "none yet".into(),
            objective: None,
            bound: None,
            gap: None,
            cost_usd: 0.0,
            carbon_kg: 0.0,
            run_now_cost_usd: None,
            run_now_carbon_kg: None,
            nearest_east_cost_usd: None,
            nearest_east_carbon_kg: None,
            seconds: 0.0,
            placements: vec![],
            unplaced: vec![],
            services: vec![],
            notes,
        },
        Some(r) => PlanView {
            scope,
            round: r.round,
            at_h: r.at_h,
            solver: r.solver.clone(),
            objective: t.admin.then_some(r.objective),
            bound: r.bound.filter(|_| t.admin),
            gap: r.gap.filter(|_| t.admin),
            cost_usd: if t.admin {
                r.cost_usd
            } else {
                r.placements.iter().filter(|p| mine(&p.job)).map(|p| p.cost_usd).sum::<f64>()
                    + r.services
                        .iter()
                        .filter(|v| known.state.services.get(&v.service).is_some_and(|x| x.tenant == t.id))
                        .map(|v| v.cost_usd)
                        .sum::<f64>()
            },
            carbon_kg: if t.admin {
                r.carbon_kg
            } else {
                r.placements.iter().filter(|p| mine(&p.job)).map(|p| p.carbon_kg).sum::<f64>()
                    + r.services
                        .iter()
                        .filter(|v| known.state.services.get(&v.service).is_some_and(|x| x.tenant == t.id))
                        .map(|v| v.carbon_kg)
                        .sum::<f64>()
            },
            run_now_cost_usd: r.run_now_cost_usd.filter(|_| t.admin),
            run_now_carbon_kg: r.run_now_carbon_kg.filter(|_| t.admin),
            nearest_east_cost_usd: r.nearest_east_cost_usd.filter(|_| t.admin),
            nearest_east_carbon_kg: r.nearest_east_carbon_kg.filter(|_| t.admin),
            seconds: r.seconds,
            placements: r
                .placements
                .iter()
                .filter(|p| mine(&p.job))
                .map(|p| PlacementView {
                    job: p.job.clone(),
                    site: p.site.clone(),
                    accelerator: p.accelerator.clone(),
                    start_h: p.start_h,
                    end_h: p.end_h,
                    cost_usd: p.cost_usd,
                    carbon_kg: p.carbon_kg,
                    reasons: p.reasons.clone(),
                })
                .collect(),
            unplaced: r.unplaced.iter().filter(|u| mine(&u.job)).map(|u| UnplacedView { job: u.job.clone(), reasons: u.reasons.clone() }).collect(),
            services: r
                .services
                .iter()
                .filter(|v| t.admin || known.state.services.get(&v.service).is_some_and(|x| x.tenant == t.id))
                .map(|v| ServicePlanView {
                    service: v.service.clone(),
                    replicas: v.replicas.iter().map(|(site, n)| ReplicasView { site: site.clone(), replicas: *n }).collect(),
                    cost_usd: v.cost_usd,
                    carbon_kg: v.carbon_kg,
                    unmet_rps_hours: v.unmet_rps_hours,
                    reasons: v.reasons.clone(),
                })
                .collect(),
            notes,
        },
    };
    Ok(Json(view))
}

/// The sites work can run at, with this hour's carbon and price.
#[utoipa::path(get, path = "/v1/sites", security(("bearer" = [])), responses((status = 200, body = [SiteView]), (status = 401, body = ErrorBody)))]
async fn list_sites(AxState(app): AxState<Arc<App>>, headers: HeaderMap) -> ApiResult<Json<Vec<SiteView>>> {
    caller(&app, &headers).await?;
    let now = app.clock.now_h();
    let built = app.built_sites_now(now).map_err(ApiError::internal)?;
    let known = app.known.read().map_err(ApiError::internal)?;
    Ok(Json(built.iter().map(|b| SiteView::of(b, known.state.sites_down.contains(&b.site.id), now)).collect()))
}

async fn site_event(app: &App, headers: &HeaderMap, id: &str, down: Option<String>) -> ApiResult<Json<SiteView>> {
    admin(app, headers).await?;
    if !app.world.site_ids.iter().any(|s| s == id) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no site {id}")));
    }
    let now = app.clock.now_h();
    let e = {
        let known = app.known.read().map_err(ApiError::internal)?;
        match &down {
            // A real cluster may still run what it was handed: that work is fenced there
            // until the cluster confirms each attempt ended.
            Some(reason) if app.on_cluster(id) => control::cluster_down(&known.state, id, reason, false, now)?,
            Some(reason) => control::site_down(&known.state, id, reason, now)?,
            None => control::site_up(&known.state, id, now)?,
        }
    };
    app.append(vec![(e, String::new(), None)]).await.map_err(ApiError::internal)?;
    let built = app.built_sites_now(now).map_err(ApiError::internal)?;
    let b = built.iter().find(|b| b.site.id == id).ok_or_else(|| ApiError::internal("site vanished"))?;
    Ok(Json(SiteView::of(b, down.is_some(), now)))
}

/// Marks a site down (admin): its planned, dispatched and running work goes back to pending
/// (work its real cluster was handed is fenced there until the cluster confirms it ended).
#[utoipa::path(post, path = "/v1/sites/{id}/down", params(("id" = String, Path)), request_body = SiteDownRequest, security(("bearer" = [])),
    responses((status = 200, body = SiteView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn site_down(
    AxState(app): AxState<Arc<App>>,
    headers: HeaderMap,
    P(id): P<String>,
    Body(req): Body<SiteDownRequest>,
) -> ApiResult<Json<SiteView>> {
    // A reason is copied into each affected job's history: bounded.
    if req.reason.as_ref().is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
        return Err(ApiError::bad_request(Some("reason"), format!("at most {MAX_REASON_CHARS} characters")));
    }
    site_event(&app, &headers, &id, Some(req.reason.unwrap_or_else(|| "operator".into()))).await
}

/// Marks a site up again (admin).
#[utoipa::path(post, path = "/v1/sites/{id}/up", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = SiteView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn site_up(AxState(app): AxState<Arc<App>>, headers: HeaderMap, P(id): P<String>) -> ApiResult<Json<SiteView>> {
    site_event(&app, &headers, &id, None).await
}

/// An operator's word that the work a silent site fenced is gone there.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// Why the work there is known to be gone (recorded in each job's history).
    #[schema(max_length = 1000)]
    pub reason: String,
}

/// What a release did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Released {
    pub site: String,
    /// The jobs no longer fenced.
    pub jobs: Vec<String>,
}

/// Releases the work fenced by a site that does not answer (admin): the operator says it is
/// not running there (the cluster was lost, its nodes are off), so it may start elsewhere. The
/// reason and who said it go in each job's history.
#[utoipa::path(post, path = "/v1/sites/{id}/release", params(("id" = String, Path)), request_body = ReleaseRequest, security(("bearer" = [])),
    responses((status = 200, body = Released), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn release_site(
    AxState(app): AxState<Arc<App>>,
    headers: HeaderMap,
    P(id): P<String>,
    Body(req): Body<ReleaseRequest>,
) -> ApiResult<Json<Released>> {
    let t = admin(&app, &headers).await?;
    if !app.world.site_ids.iter().any(|s| s == &id) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no site {id}")));
    }
    if req.reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::bad_request(Some("reason"), format!("at most {MAX_REASON_CHARS} characters")));
    }
    let (e, jobs) = {
        let known = app.known.read().map_err(ApiError::internal)?;
        let jobs: Vec<String> = known.state.jobs.values().filter(|j| j.fence.as_ref().is_some_and(|f| f.site == id)).map(|j| j.id.clone()).collect();
        (
            control::release_fences(&known.state, &id, &req.reason, &t.name, app.clock.now_h())
                .map_err(|r| ApiError::bad_request(Some("reason"), r.to_string()))?,
            jobs,
        )
    };
    app.append(vec![(e, String::new(), None)]).await.map_err(ApiError::internal)?;
    Ok(Json(Released { site: id, jobs }))
}

/// Which attempt's log to read, and from which byte.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// The attempt (default: the latest).
    pub attempt: Option<u32>,
    /// Bytes of the log to skip (what a follower has read already).
    pub offset: Option<u64>,
}

/// One attempt's output.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogView {
    pub job: String,
    pub attempt: u32,
    /// Where that attempt ran.
    pub site: String,
    /// Every attempt and its site.
    pub attempts: BTreeMap<u32, String>,
    /// The job's state now (a follower stops once it is final).
    pub state: String,
    /// The byte `text` starts at, and the byte after it (pass as `offset` to read on).
    pub offset: u64,
    pub next_offset: u64,
    /// stdout and stderr, as the program wrote them (UTF-8, invalid bytes replaced); empty
    /// before the attempt has written anything.
    pub text: String,
    /// Whether the log exists yet at that site.
    pub found: bool,
}

/// A job's stdout and stderr for one attempt, read from the storage of the site it ran at
/// (Slurm's output file), or its pod's log (Kubernetes); the caller's jobs only, another
/// tenant's job is 404.
#[utoipa::path(get, path = "/v1/jobs/{id}/logs", params(("id" = String, Path), LogQuery), security(("bearer" = [])),
    responses((status = 200, body = LogView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody, description = "the Kubernetes API server did not give the pod's log")))]
async fn job_logs(AxState(app): AxState<Arc<App>>, headers: HeaderMap, P(id): P<String>, Q(q): Q<LogQuery>) -> ApiResult<Json<LogView>> {
    let t = caller(&app, &headers).await?;
    fresh(&app, &id).await?;
    let (attempts, state) = {
        let known = app.known.read().map_err(ApiError::internal)?;
        let j = known.state.jobs.get(&id).and_then(|j| visible(&t, j)).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no job {id}")))?;
        (j.attempt_sites.clone(), j.status.name().to_string())
    };
    let attempt = match q.attempt {
        Some(a) => a,
        None => {
            *attempts.keys().last().ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("job {id} has not been dispatched yet: no log")))?
        }
    };
    let site = attempts
        .get(&attempt)
        .cloned()
        .ok_or_else(|| ApiError::bad_request(Some("attempt"), format!("job {id} has attempts {:?}", attempts.keys().collect::<Vec<_>>())))?;
    let bytes = if app.config.kube.has(&site) {
        // A pod's log, from the site's API server.
        tokio::task::block_in_place(|| app.config.kube.logs(&site, &id, attempt))
            .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, e))?
            .map(String::into_bytes)
    } else if app.config.stores.has(&site) {
        let rel = control::run::log_file(&id, attempt);
        tokio::task::block_in_place(|| app.config.stores.read(&site, &rel)).map_err(ApiError::internal)?
    } else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("attempt {attempt} ran at {site}, which has no cluster (the simulated backend writes no log)"),
        ));
    };
    let found = bytes.is_some();
    let bytes = bytes.unwrap_or_default();
    let offset = q.offset.unwrap_or(0).min(bytes.len() as u64);
    let text = String::from_utf8_lossy(&bytes[offset as usize..]).into_owned();
    Ok(Json(LogView { job: id, attempt, site, attempts, state, offset, next_offset: bytes.len() as u64, text, found }))
}

/// A transfer as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferView {
    pub id: String,
    pub job: String,
    pub attempt: u32,
    /// input, checkpoint or output.
    pub kind: String,
    pub from_site: String,
    pub from_path: String,
    pub to_site: String,
    pub to_path: String,
    /// running, done or failed.
    pub state: String,
    pub tries: u32,
    /// Bytes expected (0 where not known beforehand), bytes moved so far or in all.
    pub bytes: f64,
    pub bytes_moved: f64,
    /// Wall seconds the engine took, and its rate, MB/s (finished transfers).
    pub seconds: f64,
    pub mb_per_s: Option<f64>,
    /// Started and ended, hours since the Unix epoch (server clock).
    pub started_h: f64,
    pub ended_h: Option<f64>,
    /// The engine's words when it failed, or a note.
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferList {
    pub transfers: Vec<TransferView>,
}

/// Transfers of the caller's jobs (all for the admin): inputs staged at the site an attempt
/// runs at, checkpoints carried to the next site, outputs copied back, with bytes and rates.
#[utoipa::path(get, path = "/v1/transfers", security(("bearer" = [])), responses((status = 200, body = TransferList), (status = 401, body = ErrorBody)))]
async fn list_transfers(AxState(app): AxState<Arc<App>>, headers: HeaderMap) -> ApiResult<Json<TransferList>> {
    let t = caller(&app, &headers).await?;
    let live = app.transfers_live.lock().map_err(ApiError::internal)?.clone();
    let known = app.known.read().map_err(ApiError::internal)?;
    let transfers = known
        .state
        .transfers
        .values()
        .filter(|r| known.state.jobs.get(&r.spec.job).is_some_and(|j| visible(&t, j).is_some()))
        .map(|r| {
            let moved = if r.status == control::TransferStatus::Running { live.get(&r.spec.id).copied().unwrap_or(0) as f64 } else { r.bytes_moved };
            TransferView {
                id: r.spec.id.clone(),
                job: r.spec.job.clone(),
                attempt: r.spec.attempt,
                kind: r.spec.kind.name().into(),
                from_site: r.spec.from_site.clone(),
                from_path: r.spec.from_path.clone(),
                to_site: r.spec.to_site.clone(),
                to_path: r.spec.to_path.clone(),
                state: match r.status {
                    control::TransferStatus::Running => "running",
                    control::TransferStatus::Done => "done",
                    control::TransferStatus::Failed => "failed",
                }
                .into(),
                tries: r.tries,
                bytes: r.spec.bytes,
                bytes_moved: moved,
                seconds: r.seconds,
                mb_per_s: (r.status == control::TransferStatus::Done && r.seconds > 0.0 && r.bytes_moved > 0.0)
                    .then(|| r.bytes_moved / r.seconds / 1e6),
                started_h: r.started_h,
                ended_h: r.ended_h,
                note: r.note.clone(),
            }
        })
        .collect();
    Ok(Json(TransferList { transfers }))
}

/// The event log, a page at a time: the caller's jobs' events (every event for the admin).
#[utoipa::path(get, path = "/v1/events", params(Page), security(("bearer" = [])), responses((status = 200, body = EventList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_events(AxState(app): AxState<Arc<App>>, headers: HeaderMap, Q(page): Q<Page>) -> ApiResult<Json<EventList>> {
    let t = caller(&app, &headers).await?;
    let limit = page_limit(&page)?;
    let after: i64 = match &page.after {
        None => 0,
        Some(a) => a.parse().map_err(|_| ApiError::bad_request(Some("after"), format!("`{a}` is not an event sequence number")))?,
    };
    // One bounded read of the caller's own events (every event for the admin), by index.
    let rows = app.store.page((!t.admin).then(|| t.id.clone()), after, limit as i64 + 1).await.map_err(ApiError::internal)?;
    let more = rows.len() > limit;
    let mut events = Vec::new();
    for (seq, body) in rows.iter().take(limit) {
        if let Some(view) = event_view(*seq, body) {
            events.push(view?);
        }
    }
    let next = more.then(|| rows[limit - 1].0.to_string());
    Ok(Json(EventList { events, next }))
}

/// A stored event as the caller may see it: their own jobs' events (every event for the
/// admin), without token hashes. `None` when it is not theirs or not an event.
/// One event as a client sees it. Whose it is was settled by the read: a tenant's events are
/// read by the tenant column the store wrote each with (its job's or service's tenant), so no
/// look-up in a state that may not have folded them yet.
fn event_view(seq: i64, body: &str) -> Option<ApiResult<EventView>> {
    let e = serde_json::from_str::<control::Event>(body).ok()?;
    let job = e.job().or(e.service()).map(str::to_string);
    Some((|| {
        let mut value = serde_json::to_value(&e).map_err(ApiError::internal)?;
        if let Some(obj) = value.as_object_mut() {
            obj.remove("token_sha256");
        }
        Ok(EventView { seq, kind: e.kind().into(), job, body: value })
    })())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct StreamQuery {
    /// Start after this event sequence number (default: the `Last-Event-ID` header, else 0,
    /// the whole log, then what follows).
    pub after: Option<String>,
}

/// The event log as it grows, as server-sent events: `id` is the sequence number, `event` the
/// kind, `data` the same JSON as one entry of `GET /v1/events`. Reconnecting with
/// `Last-Event-ID` resumes where the stream stopped. Events written by any replica appear (the
/// stream reads the shared log), within about a quarter of a second.
#[utoipa::path(get, path = "/v1/events/stream", params(StreamQuery), security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream", description = "server-sent events, one per event, until the client disconnects"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn stream_events(AxState(app): AxState<Arc<App>>, headers: HeaderMap, Q(q): Q<StreamQuery>) -> ApiResult<Response> {
    use axum::response::sse::{Event as Sse, KeepAlive};
    let t = caller(&app, &headers).await?;
    let (field, text) = match (&q.after, headers.get("last-event-id")) {
        (Some(a), _) => ("after", a.clone()),
        (None, Some(h)) => ("Last-Event-ID", h.to_str().unwrap_or("?").to_string()),
        (None, None) => ("after", "0".to_string()),
    };
    let after: i64 = text
        .trim()
        .parse()
        .ok()
        .filter(|v: &i64| *v >= 0)
        .ok_or_else(|| ApiError::bad_request(Some(field), format!("`{text}` is not an event sequence number")))?;
    // A tenant holds at most MAX_STREAMS streams open on a server at once.
    let turn = crate::StreamTurn::take(&app, &t.id).ok_or_else(|| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{} event streams are open for this tenant on this server (at most {}): close one first", crate::MAX_STREAMS, crate::MAX_STREAMS),
        )
    })?;
    let stream =
        futures_util::stream::unfold((app, t, after, std::collections::VecDeque::new(), turn), |(app, t, mut after, mut ready, turn)| async move {
            loop {
                if let Some(e) = ready.pop_front() {
                    return Some((Ok::<_, std::convert::Infallible>(e), (app, t, after, ready, turn)));
                }
                // The log is the source (every replica writes to it); the state, caught up first,
                // says whose each job is.
                let rows = match app.store.page((!t.admin).then(|| t.id.clone()), after, 1000).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        eprintln!("xisuan server: event stream: {e:#}");
                        return None;
                    }
                };
                if rows.is_empty() {
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                    continue;
                }
                for (seq, body) in rows {
                    after = seq;
                    if let Some(Ok(v)) = event_view(seq, &body) {
                        let data = serde_json::to_string(&v).ok()?;
                        ready.push_back(Sse::default().id(seq.to_string()).event(v.kind.clone()).data(data));
                    }
                }
            }
        });
    Ok(axum::response::Sse::new(stream).keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(5))).into_response())
}

fn estimate_error(e: xisuan_estimate::InputError) -> ApiError {
    ApiError::bad_request(Some(&e.field), e.message)
}

fn accelerator(id: &str) -> ApiResult<&'static xisuan_estimate::Accelerator> {
    xisuan_estimate::find_accelerator(id).ok_or_else(|| {
        ApiError::bad_request(Some("gpu"), format!("unknown accelerator `{id}`; known: {}", xisuan_estimate::hardware::ids().join(", ")))
    })
}

/// Estimates a training run: FLOPs, accelerator-hours, time, energy, cost, carbon.
#[utoipa::path(post, path = "/v1/estimate/train", request_body = TrainRequest, security(("bearer" = [])), responses((status = 200, body = Estimate), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn estimate_train(AxState(app): AxState<Arc<App>>, headers: HeaderMap, Body(r): Body<TrainRequest>) -> ApiResult<Json<Estimate>> {
    caller(&app, &headers).await?;
    let e = xisuan_estimate::estimate_train(&xisuan_estimate::TrainInput::new(r.params, r.tokens, accelerator(&r.gpu)?, r.gpus))
        .map_err(estimate_error)?;
    Ok(Json(Estimate { estimate: serde_json::to_value(e).map_err(ApiError::internal)? }))
}

/// Estimates serving: replicas, accelerators, power and cost for a demand.
#[utoipa::path(post, path = "/v1/estimate/serve", request_body = ServeRequest, security(("bearer" = [])), responses((status = 200, body = Estimate), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn estimate_serve(AxState(app): AxState<Arc<App>>, headers: HeaderMap, Body(r): Body<ServeRequest>) -> ApiResult<Json<Estimate>> {
    caller(&app, &headers).await?;
    let mut input = xisuan_estimate::serve::ServeInput::new(r.params, accelerator(&r.gpu)?);
    input.demand = Some(xisuan_estimate::serve::Demand::from_rps(xisuan_model::Sourced::user(r.rps, "rps")));
    let e = xisuan_estimate::serve::estimate_serve(&input).map_err(estimate_error)?;
    Ok(Json(Estimate { estimate: serde_json::to_value(e).map_err(ApiError::internal)? }))
}

/// API, fine-tune or train: what each costs at a monthly token volume.
#[utoipa::path(post, path = "/v1/estimate/choose", request_body = ChooseRequest, security(("bearer" = [])), responses((status = 200, body = Estimate), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn estimate_choose(AxState(app): AxState<Arc<App>>, headers: HeaderMap, Body(r): Body<ChooseRequest>) -> ApiResult<Json<Estimate>> {
    caller(&app, &headers).await?;
    let tier = xisuan_estimate::choose::find_tier(&r.tier).ok_or_else(|| {
        ApiError::bad_request(
            Some("tier"),
            format!("`{}` is not a tier (known: {})", r.tier, xisuan_estimate::choose::TIERS.iter().map(|t| t.id).collect::<Vec<_>>().join(", ")),
        )
    })?;
    let e = xisuan_estimate::choose::choose(&xisuan_estimate::choose::ChooseInput::new(r.tokens_per_month, tier, accelerator(&r.gpu)?))
        .map_err(estimate_error)?;
    Ok(Json(Estimate { estimate: serde_json::to_value(e).map_err(ApiError::internal)? }))
}

/// Prometheus text format: jobs by state, submissions, planning rounds and their latency, the
/// plan's objective, gap, cost and carbon against the run-now baseline. They are totals over
/// every tenant, so they need the admin's token or the operator's scrape token
/// (`XISUAN_METRICS_TOKEN` in the server's environment); a tenant's token gets 403.
#[utoipa::path(get, path = "/metrics", security(("bearer" = [])), responses((status = 200, content_type = "text/plain", description = "Prometheus text format 0.0.4"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn metrics(AxState(app): AxState<Arc<App>>, headers: HeaderMap) -> ApiResult<Response> {
    let scrape = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| sha256_hex(t.trim()));
    let scraper = scrape.is_some() && scrape == app.config.metrics_token_sha256;
    if !scraper {
        let t = caller(&app, &headers).await?;
        if !t.admin {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "the metrics are totals over every tenant: they need the admin's token or the scrape token (XISUAN_METRICS_TOKEN)",
            ));
        }
    }
    let text = app.metrics_text().map_err(ApiError::internal)?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

/// 200 once the server answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "serving")))]
async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 once the state is rebuilt from the store; 503 before.
#[utoipa::path(get, path = "/readyz", responses((status = 200, description = "ready"), (status = 503, body = ErrorBody)))]
async fn readyz(AxState(app): AxState<Arc<App>>) -> ApiResult<&'static str> {
    if app.ready.load(std::sync::atomic::Ordering::SeqCst) {
        Ok("ready\n")
    } else {
        Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "rebuilding state from the store"))
    }
}
