//! The user's catalog TOML, merged over the built-in default.
//!
//! ```toml
//! [[sites]]                      # override an existing site: give only what changes
//! id = "edwc-zhongwei"
//! pue = 1.15
//! pue_kind = "measured"
//! pue_source = "operator report 2024"
//! capacity = { h20 = 2048 }
//!
//! [[sites]]                      # a new site needs lat, lon, carbon, price and pue
//! id = "my-dc"
//! name = "Our own hall"
//! country = "CN"
//! lat = 30.5
//! lon = 114.3
//! carbon_g_per_kwh = 527.1
//! carbon_source = "MEE 2023 Central China grid"
//! price_cny_per_kwh = 0.62
//! pue = 1.3
//!
//! [[links]]                      # overrides the distance model and pricing rules
//! from = "edwc-yrd"
//! to = "edwc-zhongwei"
//! bandwidth_gbps = 100
//! cny_per_gbps_month = 8000
//! source = "carrier quote 2025-03"
//!
//! [[user_regions]]
//! name = "Wuxi"
//! country = "CN"
//! lat = 31.49
//! lon = 120.31
//! weight = 7.5
//! ```
//!
//! Unknown fields are errors, not ignored. Every error names the origin (file), the line
//! and the field path (`sites[0].pue`, 0-based as in the file's order).

use crate::builtin::prices::{CNY_PER_USD, CNY_PER_USD_SOURCE};
use crate::catalog::Catalog;
use crate::error::{line_of, CatalogError};
use crate::ids::{Provider, PueKind, Role, SiteId};
use crate::network::Link;
use crate::site::{Dispatch, Site, Storage, UserRegion};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;
use xisuan_model::{Confidence, Gbps, KgPerKwh, Millis, Sourced, Usd, UsdPerKwh};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    sites: Vec<Spanned<SiteEntry>>,
    #[serde(default)]
    links: Vec<Spanned<LinkEntry>>,
    #[serde(default)]
    user_regions: Vec<Spanned<RegionEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteEntry {
    id: Spanned<String>,
    name: Option<String>,
    provider: Option<Spanned<String>>,
    role: Option<Spanned<String>>,
    country: Option<String>,
    region: Option<String>,
    hub: Option<String>,
    lat: Option<Spanned<f64>>,
    lon: Option<Spanned<f64>>,
    grid_zone: Option<String>,
    carbon_g_per_kwh: Option<Spanned<f64>>,
    carbon_source: Option<String>,
    low_carbon_share: Option<Spanned<f64>>,
    price_usd_per_kwh: Option<Spanned<f64>>,
    price_cny_per_kwh: Option<Spanned<f64>>,
    price_source: Option<String>,
    pue: Option<Spanned<f64>>,
    pue_kind: Option<Spanned<String>>,
    pue_source: Option<String>,
    capacity: Option<BTreeMap<String, Spanned<i64>>>,
    gpu_hour_usd: Option<BTreeMap<String, Spanned<f64>>>,
    /// The cluster behind the site: `{ kind = "slurm", conf = PATH, partition = P }`,
    /// `{ kind = "slurmrest", url = URL, token = PATH, partition = P, version = V }` or
    /// `{ kind = "kubernetes", url = URL, namespace = NS, queue = Q, image = IMG }`.
    dispatch: Option<Spanned<DispatchEntry>>,
    /// The site's storage: `{ kind = "local", root = PATH, bwlimit = "20M", pvc = NAME }` or
    /// `{ kind = "sftp", host = H, port = 22, user = U, key_file = PATH, root = PATH, ... }`.
    storage: Option<Spanned<StorageEntry>>,
    /// A default source for every value of this entry.
    source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DispatchEntry {
    kind: Spanned<String>,
    conf: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    token: Option<Spanned<String>>,
    partition: Option<Spanned<String>>,
    version: Option<Spanned<String>>,
    namespace: Option<Spanned<String>>,
    queue: Option<Spanned<String>>,
    image: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StorageEntry {
    kind: Spanned<String>,
    root: Option<Spanned<String>>,
    bwlimit: Option<Spanned<String>>,
    pvc: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
    port: Option<Spanned<i64>>,
    user: Option<Spanned<String>>,
    key_file: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkEntry {
    from: Spanned<String>,
    to: Spanned<String>,
    bandwidth_gbps: Option<Spanned<f64>>,
    latency_ms: Option<Spanned<f64>>,
    usd_per_gb: Option<Spanned<f64>>,
    usd_per_gbps_month: Option<Spanned<f64>>,
    cny_per_gbps_month: Option<Spanned<f64>>,
    source: Option<String>,
    /// Whether the prices also apply from `to` to `from` (default true).
    both_directions: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegionEntry {
    name: String,
    country: Option<String>,
    lat: Spanned<f64>,
    lon: Spanned<f64>,
    weight: Option<Spanned<f64>>,
    /// Standard local time offset from UTC, hours.
    utc_offset_hours: Option<Spanned<f64>>,
    source: Option<String>,
}

/// Validation context: the file text (for line numbers) and its name.
struct Ctx<'a> {
    text: &'a str,
    origin: &'a str,
}

impl Ctx<'_> {
    fn line<T>(&self, s: &Spanned<T>) -> usize {
        line_of(self.text, s.span().start)
    }
    fn invalid(&self, line: usize, field: String, message: impl Into<String>) -> CatalogError {
        CatalogError::Invalid { origin: self.origin.to_string(), line, field, message: message.into() }
    }
    /// Checks that a spanned number lies in `lo..=hi`.
    fn range(&self, v: &Spanned<f64>, lo: f64, hi: f64, field: String) -> Result<f64, CatalogError> {
        let x = *v.get_ref();
        if !x.is_finite() || x < lo || x > hi {
            return Err(self.invalid(self.line(v), field, format!("must be between {lo:?} and {hi:?}, got {x}")));
        }
        Ok(x)
    }
    fn src(&self, line: usize, given: Option<&String>, what: &str) -> String {
        match given {
            Some(s) => format!("{s} ({}:{line})", self.origin),
            None => format!("{what} given in {}:{line}", self.origin),
        }
    }
}

/// Turns a TOML deserialization error into one line naming the file, line and field.
fn toml_error(text: &str, origin: &str, e: toml::de::Error) -> CatalogError {
    let Some(span) = e.span() else {
        return CatalogError::Format { origin: origin.to_string(), line: 1, message: e.message().to_string() };
    };
    let line = line_of(text, span.start);
    let message = e.message().trim().to_string();
    // The key: from "unknown field `x`", else the `key =` on the error's line.
    let key = message
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next())
        .map(str::to_string)
        .or_else(|| text.lines().nth(line - 1).and_then(|l| l.split_once('=')).map(|(k, _)| k.trim().to_string()));
    let table = array_context(text, span.start);
    match (table, key) {
        (Some(t), Some(k)) => CatalogError::Invalid { origin: origin.to_string(), line, field: format!("{t}.{k}"), message },
        (None, Some(k)) => CatalogError::Invalid { origin: origin.to_string(), line, field: k, message },
        (Some(t), None) => CatalogError::Invalid { origin: origin.to_string(), line, field: t, message },
        (None, None) => CatalogError::Format { origin: origin.to_string(), line, message },
    }
}

/// The `[[name]]` entry that contains byte `offset`, as `name[index]` (0-based).
fn array_context(text: &str, offset: usize) -> Option<String> {
    let before = &text[..offset.min(text.len())];
    let mut current: Option<(String, usize)> = None;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for line in before.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim().to_string();
            let n = counts.entry(name.clone()).or_insert(0);
            current = Some((name, *n));
            *n += 1;
        } else if t.starts_with('[') {
            current = None;
        }
    }
    current.map(|(n, i)| format!("{n}[{i}]"))
}

impl Catalog {
    /// Merges a catalog TOML over this catalog: overrides or extends sites, capacities,
    /// prices, links and user regions. On error nothing is changed.
    pub fn merge_toml(&mut self, text: &str, origin: &str) -> Result<(), CatalogError> {
        let file: File = toml::from_str(text).map_err(|e| toml_error(text, origin, e))?;
        let ctx = Ctx { text, origin };
        let mut next = self.clone();
        for (i, entry) in file.sites.iter().enumerate() {
            apply_site(&ctx, &mut next, i, entry)?;
        }
        for (i, entry) in file.links.iter().enumerate() {
            apply_link(&ctx, &mut next, i, entry)?;
        }
        for (i, entry) in file.user_regions.iter().enumerate() {
            apply_region(&ctx, &mut next, i, entry)?;
        }
        *self = next;
        Ok(())
    }
}

fn apply_site(ctx: &Ctx, cat: &mut Catalog, i: usize, entry: &Spanned<SiteEntry>) -> Result<(), CatalogError> {
    let e = entry.get_ref();
    let at = |f: &str| format!("sites[{i}].{f}");
    let entry_line = ctx.line(&e.id);
    let id = SiteId::parse(e.id.get_ref()).map_err(|m| ctx.invalid(entry_line, at("id"), m))?;
    let def = e.source.as_ref();

    let lat = e.lat.as_ref().map(|v| ctx.range(v, -90.0, 90.0, at("lat"))).transpose()?;
    let lon = e.lon.as_ref().map(|v| ctx.range(v, -180.0, 180.0, at("lon"))).transpose()?;
    let carbon = e
        .carbon_g_per_kwh
        .as_ref()
        .map(|v| {
            let g = ctx.range(v, 0.0, 2000.0, at("carbon_g_per_kwh"))?;
            Ok::<_, CatalogError>(Sourced::user(KgPerKwh::from_g_per_kwh(g), ctx.src(ctx.line(v), e.carbon_source.as_ref().or(def), "grid factor")))
        })
        .transpose()?;
    let low_carbon = e
        .low_carbon_share
        .as_ref()
        .map(|v| Ok::<_, CatalogError>(Sourced::user(ctx.range(v, 0.0, 1.0, at("low_carbon_share"))?, ctx.src(ctx.line(v), def, "low-carbon share"))))
        .transpose()?;
    let price = match (&e.price_usd_per_kwh, &e.price_cny_per_kwh) {
        (Some(_), Some(c)) => return Err(ctx.invalid(ctx.line(c), at("price_cny_per_kwh"), "give the price in USD or in CNY, not both")),
        (Some(v), None) => Some(Sourced::user(
            UsdPerKwh(ctx.range(v, 0.0, 2.0, at("price_usd_per_kwh"))?),
            ctx.src(ctx.line(v), e.price_source.as_ref().or(def), "electricity price"),
        )),
        (None, Some(v)) => {
            let cny = ctx.range(v, 0.0, 15.0, at("price_cny_per_kwh"))?;
            Some(Sourced::user(
                UsdPerKwh(cny / CNY_PER_USD),
                format!("{} = {cny} CNY/kWh; {CNY_PER_USD_SOURCE}", ctx.src(ctx.line(v), e.price_source.as_ref().or(def), "electricity price")),
            ))
        }
        (None, None) => None,
    };
    let pue = e
        .pue
        .as_ref()
        .map(|v| Ok::<_, CatalogError>(Sourced::user(ctx.range(v, 1.0, 3.0, at("pue"))?, ctx.src(ctx.line(v), e.pue_source.as_ref().or(def), "PUE"))))
        .transpose()?;
    let pue_kind = e.pue_kind.as_ref().map(|k| PueKind::parse(k.get_ref()).map_err(|m| ctx.invalid(ctx.line(k), at("pue_kind"), m))).transpose()?;
    let provider = e.provider.as_ref().map(|k| Provider::parse(k.get_ref()).map_err(|m| ctx.invalid(ctx.line(k), at("provider"), m))).transpose()?;
    let role = e.role.as_ref().map(|k| Role::parse(k.get_ref()).map_err(|m| ctx.invalid(ctx.line(k), at("role"), m))).transpose()?;
    let dispatch = e.dispatch.as_ref().map(|d| dispatch(ctx, d, &at("dispatch"))).transpose()?;
    let storage = e.storage.as_ref().map(|d| storage(ctx, d, &at("storage"))).transpose()?;
    let mut capacity = BTreeMap::new();
    for (acc, n) in e.capacity.iter().flatten() {
        let v = *n.get_ref();
        let v = u32::try_from(v).map_err(|_| {
            ctx.invalid(ctx.line(n), at(&format!("capacity.{acc}")), format!("must be a whole number between 0 and {}, got {v}", u32::MAX))
        })?;
        capacity.insert(acc.clone(), Sourced::user(v, ctx.src(ctx.line(n), def, "capacity")));
    }
    let mut gpu_prices = BTreeMap::new();
    for (acc, p) in e.gpu_hour_usd.iter().flatten() {
        let v = ctx.range(p, 0.0, 1000.0, at(&format!("gpu_hour_usd.{acc}")))?;
        gpu_prices.insert(acc.clone(), Sourced::user(Usd(v), ctx.src(ctx.line(p), def, "GPU-hour price")));
    }

    match cat.site_index(&id) {
        Some(ix) => {
            let s = &mut cat.sites[ix];
            if let Some(v) = &e.name {
                s.name = v.clone();
            }
            if let Some(v) = provider {
                s.provider = v;
            }
            if let Some(v) = role {
                s.role = v;
            }
            if let Some(v) = &e.country {
                s.country = v.clone();
            }
            if let Some(v) = &e.region {
                s.region = v.clone();
            }
            if let Some(v) = &e.hub {
                s.hub = Some(v.clone());
            }
            if lat.is_some() || lon.is_some() {
                s.lat = lat.unwrap_or(s.lat);
                s.lon = lon.unwrap_or(s.lon);
                s.location_source = ctx.src(entry_line, def, "coordinates");
                s.location_confidence = Confidence::User;
            }
            if let Some(v) = &e.grid_zone {
                s.grid_zone = Some(v.clone());
            }
            if let Some(v) = carbon {
                s.carbon_annual = v;
            }
            if let Some(v) = low_carbon {
                s.low_carbon_share = Some(v);
            }
            if let Some(v) = price {
                s.price_annual = v;
            }
            if let Some(v) = pue {
                s.pue = v;
                s.pue_kind = pue_kind.unwrap_or(PueKind::Measured);
            } else if let Some(k) = pue_kind {
                s.pue_kind = k;
            }
            s.capacity.extend(capacity);
            s.gpu_hour_price.extend(gpu_prices);
            if dispatch.is_some() {
                s.dispatch = dispatch;
            }
            if storage.is_some() {
                s.storage = storage;
            }
        }
        None => {
            let need = |name: &str| ctx.invalid(entry_line, at(name), format!("required for a new site `{id}` (it is not in the built-in catalog)"));
            let site = Site {
                name: e.name.clone().unwrap_or_else(|| id.to_string()),
                provider: provider.unwrap_or(Provider::User),
                role: role.unwrap_or(Role::UserDefined),
                country: e.country.clone().unwrap_or_default(),
                region: e.region.clone().unwrap_or_default(),
                hub: e.hub.clone(),
                lat: lat.ok_or_else(|| need("lat"))?,
                lon: lon.ok_or_else(|| need("lon"))?,
                location_source: ctx.src(entry_line, def, "coordinates"),
                location_confidence: Confidence::User,
                grid_zone: e.grid_zone.clone(),
                carbon_annual: carbon.ok_or_else(|| need("carbon_g_per_kwh"))?,
                low_carbon_share: low_carbon,
                price_annual: price.ok_or_else(|| need("price_usd_per_kwh (or price_cny_per_kwh)"))?,
                pue: pue.ok_or_else(|| need("pue"))?,
                pue_kind: pue_kind.unwrap_or(PueKind::Measured),
                capacity,
                gpu_hour_price: gpu_prices,
                dispatch,
                storage,
                id,
            };
            cat.sites.push(site);
        }
    }
    Ok(())
}

/// Checks a site's `dispatch` table: a known kind with what it needs, nothing it cannot use.
fn dispatch(ctx: &Ctx, d: &Spanned<DispatchEntry>, at: &str) -> Result<Dispatch, CatalogError> {
    let e = d.get_ref();
    let field = |name: &str| format!("{at}.{name}");
    let text = |v: &Option<Spanned<String>>, name: &str| -> Result<Option<String>, CatalogError> {
        match v {
            Some(s) if s.get_ref().trim().is_empty() => Err(ctx.invalid(ctx.line(s), field(name), "must not be empty")),
            Some(s) => Ok(Some(s.get_ref().clone())),
            None => Ok(None),
        }
    };
    let kind_line = ctx.line(&e.kind);
    let need = |v: Option<String>, name: &str, what: &str| {
        v.ok_or_else(|| ctx.invalid(kind_line, field(name), format!("required for kind = \"{}\" ({what})", e.kind.get_ref())))
    };
    let unused = |v: &Option<Spanned<String>>, name: &str| match v {
        Some(s) => Err(ctx.invalid(ctx.line(s), field(name), format!("not used by kind = \"{}\"", e.kind.get_ref()))),
        None => Ok(()),
    };
    let origin = ctx.origin.to_string();
    let url = |what: &str| -> Result<String, CatalogError> {
        let url = need(text(&e.url, "url")?, "url", what)?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ctx.invalid(
                e.url.as_ref().map_or(kind_line, |u| ctx.line(u)),
                field("url"),
                format!("`{url}` is not an http:// or https:// address"),
            ));
        }
        Ok(url.trim_end_matches('/').to_string())
    };
    if e.kind.get_ref() == "kubernetes" {
        for (v, name) in [(&e.conf, "conf"), (&e.token, "token"), (&e.partition, "partition"), (&e.version, "version")] {
            unused(v, name)?;
        }
        let url = url("the API server's address, e.g. http://127.0.0.1:8001 from `kubectl proxy`")?;
        return Ok(Dispatch::Kubernetes {
            url,
            namespace: text(&e.namespace, "namespace")?,
            queue: e.queue.as_ref().map(|q| q.get_ref().clone()),
            image: text(&e.image, "image")?,
            origin,
        });
    }
    for (v, name) in [(&e.namespace, "namespace"), (&e.queue, "queue"), (&e.image, "image")] {
        unused(v, name)?;
    }
    let partition = text(&e.partition, "partition")?;
    match e.kind.get_ref().as_str() {
        "slurm" => {
            unused(&e.url, "url")?;
            unused(&e.token, "token")?;
            unused(&e.version, "version")?;
            Ok(Dispatch::Slurm { conf: need(text(&e.conf, "conf")?, "conf", "the cluster's slurm.conf")?, partition, origin })
        }
        "slurmrest" => {
            unused(&e.conf, "conf")?;
            let url = url("slurmrestd's address, e.g. http://127.0.0.1:6820")?;
            let version = text(&e.version, "version")?;
            if let (Some(v), Some(s)) = (&version, &e.version) {
                if !v.starts_with('v') {
                    return Err(ctx.invalid(ctx.line(s), field("version"), format!("`{v}` is not an OpenAPI version such as v0.0.38")));
                }
            }
            Ok(Dispatch::Slurmrest {
                url,
                token: need(text(&e.token, "token")?, "token", "a file holding the JWT from `scontrol token`")?,
                partition,
                version,
                origin,
            })
        }
        other => Err(ctx.invalid(kind_line, field("kind"), format!("unknown kind `{other}` (known: slurm, slurmrest, kubernetes)"))),
    }
}

/// Checks a site's `storage` table: a known kind with what it needs, nothing it cannot use.
fn storage(ctx: &Ctx, d: &Spanned<StorageEntry>, at: &str) -> Result<Storage, CatalogError> {
    let e = d.get_ref();
    let field = |name: &str| format!("{at}.{name}");
    let kind_line = ctx.line(&e.kind);
    let text = |v: &Option<Spanned<String>>, name: &str| -> Result<Option<String>, CatalogError> {
        match v {
            Some(s) if s.get_ref().trim().is_empty() => Err(ctx.invalid(ctx.line(s), field(name), "must not be empty")),
            Some(s) => Ok(Some(s.get_ref().clone())),
            None => Ok(None),
        }
    };
    let need = |v: Option<String>, name: &str, what: &str| {
        v.ok_or_else(|| ctx.invalid(kind_line, field(name), format!("required for kind = \"{}\" ({what})", e.kind.get_ref())))
    };
    let root = need(text(&e.root, "root")?, "root", "the folder jobs' data lives in, as the cluster's nodes see it")?;
    if !root.starts_with('/') {
        return Err(ctx.invalid(
            e.root.as_ref().map_or(kind_line, |r| ctx.line(r)),
            field("root"),
            format!("`{root}` is not an absolute path (the nodes see it as is)"),
        ));
    }
    let bwlimit = text(&e.bwlimit, "bwlimit")?;
    if let (Some(b), Some(s)) = (&bwlimit, &e.bwlimit) {
        let digits = b.trim_end_matches(|c: char| "BKMGTPbkmgtp".contains(c));
        if digits.parse::<f64>().map_or(true, |v| !(v.is_finite() && v > 0.0)) {
            return Err(ctx.invalid(
                ctx.line(s),
                field("bwlimit"),
                format!("`{b}` is not a rate as rclone's --bwlimit takes it (e.g. \"20M\" for 20 MiB/s)"),
            ));
        }
    }
    let pvc = text(&e.pvc, "pvc")?;
    let origin = ctx.origin.to_string();
    match e.kind.get_ref().as_str() {
        "local" => {
            for (v, name) in [(&e.host, "host"), (&e.user, "user"), (&e.key_file, "key_file")] {
                if let Some(s) = v {
                    return Err(ctx.invalid(ctx.line(s), field(name), "not used by kind = \"local\""));
                }
            }
            if let Some(p) = &e.port {
                return Err(ctx.invalid(ctx.line(p), field("port"), "not used by kind = \"local\""));
            }
            Ok(Storage::Local { root, bwlimit, pvc, origin })
        }
        "sftp" => {
            let port = match &e.port {
                Some(p) => Some(
                    u16::try_from(*p.get_ref())
                        .ok()
                        .filter(|&v| v > 0)
                        .ok_or_else(|| ctx.invalid(ctx.line(p), field("port"), format!("{} is not a TCP port", p.get_ref())))?,
                ),
                None => None,
            };
            Ok(Storage::Sftp {
                host: need(text(&e.host, "host")?, "host", "the SSH server's name or address")?,
                port,
                user: need(text(&e.user, "user")?, "user", "the SSH user")?,
                key_file: need(text(&e.key_file, "key_file")?, "key_file", "the SSH private key's file")?,
                root,
                bwlimit,
                pvc,
                origin,
            })
        }
        other => Err(ctx.invalid(kind_line, field("kind"), format!("unknown kind `{other}` (known: local, sftp)"))),
    }
}

fn apply_link(ctx: &Ctx, cat: &mut Catalog, i: usize, entry: &Spanned<LinkEntry>) -> Result<(), CatalogError> {
    let e = entry.get_ref();
    let at = |f: &str| format!("links[{i}].{f}");
    let endpoint = |s: &Spanned<String>, f: &str| -> Result<SiteId, CatalogError> {
        cat.resolve(s.get_ref()).map(|r| r.site.id.clone()).map_err(|err| ctx.invalid(ctx.line(s), at(f), err.to_string()))
    };
    let (a, b) = (endpoint(&e.from, "from")?, endpoint(&e.to, "to")?);
    let line = ctx.line(&e.from);
    let src = |what: &str| ctx.src(line, e.source.as_ref(), what);
    let bandwidth = e
        .bandwidth_gbps
        .as_ref()
        .map(|v| Ok::<_, CatalogError>(Sourced::user(Gbps(ctx.range(v, 1e-6, 1e5, at("bandwidth_gbps"))?), src("bandwidth"))))
        .transpose()?;
    let latency = e
        .latency_ms
        .as_ref()
        .map(|v| Ok::<_, CatalogError>(Sourced::user(Millis(ctx.range(v, 0.0, 2000.0, at("latency_ms"))?), src("round-trip latency"))))
        .transpose()?;
    let per_gb = e
        .usd_per_gb
        .as_ref()
        .map(|v| Ok::<_, CatalogError>(Sourced::user(ctx.range(v, 0.0, 10.0, at("usd_per_gb"))?, src("price per GB"))))
        .transpose()?;
    let line_price = match (&e.usd_per_gbps_month, &e.cny_per_gbps_month) {
        (Some(_), Some(c)) => {
            return Err(ctx.invalid(ctx.line(c), at("cny_per_gbps_month"), "give the leased-line price in USD or in CNY, not both"))
        }
        (Some(v), None) => Some(Sourced::user(ctx.range(v, 0.0, 1e6, at("usd_per_gbps_month"))?, src("leased line per Gbps-month"))),
        (None, Some(v)) => {
            let cny = ctx.range(v, 0.0, 1e7, at("cny_per_gbps_month"))?;
            Some(Sourced::user(cny / CNY_PER_USD, format!("{} = {cny} CNY per Gbps-month; {CNY_PER_USD_SOURCE}", src("leased line"))))
        }
        (None, None) => None,
    };
    let both = e.both_directions.unwrap_or(true);
    cat.network.upsert(Link {
        a: a.clone(),
        b: b.clone(),
        bandwidth,
        latency,
        usd_per_gb: per_gb.clone(),
        usd_per_gbps_month: line_price.clone(),
        one_way: !both,
    });
    if both && per_gb.is_some() {
        cat.network.upsert(Link { a: b, b: a, bandwidth: None, latency: None, usd_per_gb: per_gb, usd_per_gbps_month: None, one_way: false });
    }
    Ok(())
}

fn apply_region(ctx: &Ctx, cat: &mut Catalog, i: usize, entry: &Spanned<RegionEntry>) -> Result<(), CatalogError> {
    let e = entry.get_ref();
    let at = |f: &str| format!("user_regions[{i}].{f}");
    let lat = ctx.range(&e.lat, -90.0, 90.0, at("lat"))?;
    let lon = ctx.range(&e.lon, -180.0, 180.0, at("lon"))?;
    let weight = match &e.weight {
        Some(w) => Sourced::user(ctx.range(w, 0.0, 1e4, at("weight"))?, ctx.src(ctx.line(w), e.source.as_ref(), "weight")),
        None => Sourced::new(1.0, "default weight 1 (none given)", Confidence::Illustrative),
    };
    let utc_offset_hours = match &e.utc_offset_hours {
        Some(o) => Some(Sourced::user(ctx.range(o, -12.0, 14.0, at("utc_offset_hours"))?, ctx.src(ctx.line(o), e.source.as_ref(), "UTC offset"))),
        None => None,
    };
    let region = UserRegion { name: e.name.clone(), country: e.country.clone().unwrap_or_default(), lat, lon, weight, utc_offset_hours };
    match cat.user_regions.iter_mut().find(|r| r.name.eq_ignore_ascii_case(&e.name)) {
        Some(r) => *r = region,
        None => cat.user_regions.push(region),
    }
    Ok(())
}
