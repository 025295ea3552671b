//! The catalog: all sites, user regions, network links and hourly series, plus the
//! diagnostics gathered while building it. Lookups by id, name resolution (site id or city),
//! and the entry points that parse series and cost matrices from text.

use crate::builtin;
use crate::error::CatalogError;
use crate::geo::great_circle_km;
use crate::ids::{Provider, SiteId};
use crate::network::{Link, Network, Transfer, TransferOptions};
use crate::series::{self, HourlySeries, SeriesKind, SeriesSet};
use crate::site::{Site, UserRegion};
use xisuan_model::{Bytes, Confidence, Diagnostic, Millis, Sourced};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    pub sites: Vec<Site>,
    pub user_regions: Vec<UserRegion>,
    pub network: Network,
    pub series: SeriesSet,
    pub diagnostics: Vec<Diagnostic>,
}

/// A name resolved to a site; `via_city` says which city was matched and how far the
/// chosen site is from it, when the name was a city rather than a site id.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved<'a> {
    pub site: &'a Site,
    pub via_city: Option<(String, f64)>,
}

impl Resolved<'_> {
    /// One line for people: `edwc-zhongwei` or `Shanghai → alibaba-cn-shanghai (0 km)`.
    pub fn describe(&self) -> String {
        match &self.via_city {
            Some((city, km)) => format!("{city} → nearest site {} ({km:.0} km away)", self.site.id),
            None => self.site.id.to_string(),
        }
    }
}

impl Catalog {
    /// The built-in default catalog, with an info diagnostic for every mainland-China site
    /// saying that only annual grid factors exist there.
    pub fn builtin() -> Catalog {
        let sites = builtin::sites();
        let diagnostics = sites
            .iter()
            .filter(|s| s.in_mainland_china())
            .map(|s| {
                Diagnostic::info(
                    s.id.as_str(),
                    "China publishes annual provincial factors only; hourly carbon not available unless you supply a series (the annual factor in carbon_annual is used)",
                )
            })
            .collect();
        Catalog { sites, user_regions: builtin::user_regions(), network: Network::default(), series: SeriesSet::default(), diagnostics }
    }

    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.id.as_str() == id)
    }

    pub(crate) fn site_index(&self, id: &SiteId) -> Option<usize> {
        self.sites.iter().position(|s| &s.id == id)
    }

    /// A user region (city) by name, case-insensitively.
    pub fn city(&self, name: &str) -> Option<&UserRegion> {
        let n = name.trim().to_lowercase();
        self.user_regions.iter().find(|r| r.name.to_lowercase() == n)
    }

    /// The nearest site to a point, with its distance in km.
    pub fn nearest_site(&self, lat: f64, lon: f64) -> Option<(&Site, f64)> {
        self.sites.iter().map(|s| (s, great_circle_km(lat, lon, s.lat, s.lon))).min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Accepts a site id (`edwc-zhongwei`), an EDWC cluster short name (`zhongwei`), a site's
    /// full name, or a known city (`Shanghai`), which maps to the nearest site.
    pub fn resolve(&self, name: &str) -> Result<Resolved<'_>, CatalogError> {
        let n = name.trim();
        let lower = n.to_lowercase();
        if let Some(site) = self.site(&lower) {
            return Ok(Resolved { site, via_city: None });
        }
        if let Some(site) = self.site(&format!("edwc-{}", lower.replace([' ', '\''], ""))) {
            return Ok(Resolved { site, via_city: None });
        }
        if let Some(site) = self.sites.iter().find(|s| s.name.to_lowercase() == lower) {
            return Ok(Resolved { site, via_city: None });
        }
        if let Some(city) = self.city(n) {
            if let Some((site, km)) = self.nearest_site(city.lat, city.lon) {
                return Ok(Resolved { site, via_city: Some((city.name.clone(), km)) });
            }
        }
        let suggestions: Vec<String> =
            self.sites.iter().filter(|s| !lower.is_empty() && s.id.as_str().contains(&lower)).take(5).map(|s| s.id.to_string()).collect();
        Err(CatalogError::unknown_site(n, &suggestions))
    }

    /// Latency between two names (ids or cities).
    pub fn latency(&self, a: &str, b: &str) -> Result<Sourced<Millis>, CatalogError> {
        let (a, b) = (self.resolve(a)?, self.resolve(b)?);
        Ok(self.network.latency(a.site, b.site))
    }

    /// Transfer between two names (ids or cities), with how each name was resolved.
    pub fn transfer(
        &self,
        size: Bytes,
        from: &str,
        to: &str,
        opts: &TransferOptions,
    ) -> Result<(Transfer, Resolved<'_>, Resolved<'_>), CatalogError> {
        let (a, b) = (self.resolve(from)?, self.resolve(to)?);
        let t = self.network.transfer(size, a.site, b.site, opts);
        Ok((t, a, b))
    }

    /// The hourly carbon series of a site, or a diagnostic naming the annual factor used.
    pub fn series_for_site(&self, site: &Site) -> (Option<&HourlySeries>, Option<Diagnostic>) {
        self.series.series_for_site(site)
    }

    /// Parses series text (wide or long layout, told apart by the header) and adds every
    /// zone it holds; diagnostics go to `self.diagnostics`. A zone that matches no site is
    /// kept and noted.
    pub fn add_series_text(&mut self, text: &str, origin: &str, kind: SeriesKind, zone_hint: Option<&str>) -> Result<usize, CatalogError> {
        let parsed = series::parse_auto(text, origin, kind, zone_hint)?;
        self.diagnostics.extend(parsed.diagnostics);
        let n = parsed.series.len();
        for s in parsed.series {
            let zone = s.zone.clone();
            if let Some(d) = self.series.insert(kind, s) {
                self.diagnostics.push(d);
            }
            let used = self.sites.iter().any(|site| {
                site.grid_zone.as_deref().is_some_and(|z| match kind {
                    SeriesKind::Carbon => self.series.carbon_for_zone(z).is_some_and(|hs| hs.zone == zone),
                    SeriesKind::Price => self.series.price_for_zone(z).is_some_and(|hs| hs.zone == zone),
                })
            });
            if !used {
                self.diagnostics
                    .push(Diagnostic::info(origin, format!("zone {zone}: no site in the catalog is in this zone; series kept but unused")));
            }
        }
        Ok(n)
    }

    /// Reads a provider's inter-region cost matrix in the green-dcc layout (first column the
    /// source region, header the destinations, USD/GB) into directional links. Region names
    /// are matched to site ids as `<provider>-<name>` with spaces removed and lowercased
    /// ("West Europe" → `azure-westeurope`); names with no site are reported and skipped.
    pub fn load_cost_matrix_csv(&mut self, text: &str, origin: &str, provider: Provider) -> Result<usize, CatalogError> {
        let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
        let headers: Vec<String> = rdr
            .headers()
            .map_err(|e| CatalogError::Format { origin: origin.into(), line: 1, message: format!("cannot read the CSV header: {e}") })?
            .iter()
            .map(str::to_string)
            .collect();
        let to_id = |name: &str| -> Option<SiteId> {
            let slug = format!("{}-{}", provider.as_str(), name.to_lowercase().replace(' ', ""));
            SiteId::parse(&slug).ok().filter(|id| self.site(id.as_str()).is_some())
        };
        let dest: Vec<Option<SiteId>> = headers.iter().skip(1).map(|h| to_id(h)).collect();
        let mut unknown: Vec<String> = headers.iter().skip(1).zip(&dest).filter(|(_, d)| d.is_none()).map(|(h, _)| h.clone()).collect();
        let mut added = 0;
        let mut links = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| CatalogError::Format {
                origin: origin.into(),
                line: e.position().map(|p| p.line() as usize).unwrap_or(0),
                message: e.to_string(),
            })?;
            let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
            let Some(from) = rec.get(0).and_then(to_id) else {
                unknown.push(rec.get(0).unwrap_or("").to_string());
                continue;
            };
            for (i, cell) in rec.iter().skip(1).enumerate() {
                let Some(Some(to)) = dest.get(i) else {
                    continue;
                };
                if *to == from {
                    continue;
                }
                let v: f64 = cell.parse().map_err(|_| CatalogError::Invalid {
                    origin: origin.into(),
                    line,
                    field: headers.get(i + 1).cloned().unwrap_or_default(),
                    message: format!("`{cell}` is not a price in USD/GB"),
                })?;
                if !(0.0..=10.0).contains(&v) {
                    return Err(CatalogError::Invalid {
                        origin: origin.into(),
                        line,
                        field: headers[i + 1].clone(),
                        message: format!("must be between 0 and 10 USD/GB, got {v}"),
                    });
                }
                links.push(Link {
                    a: from.clone(),
                    b: to.clone(),
                    bandwidth: None,
                    latency: None,
                    usd_per_gb: Some(Sourced::new(v, format!("{origin}:{line}: cost matrix"), Confidence::User)),
                    usd_per_gbps_month: None,
                    one_way: true,
                });
                added += 1;
            }
        }
        for l in links {
            self.network.upsert(l);
        }
        unknown.sort();
        unknown.dedup();
        if !unknown.is_empty() {
            self.diagnostics
                .push(Diagnostic::warning(origin, format!("regions with no {provider} site in the catalog, skipped: {}", unknown.join(", "))));
        }
        Ok(added)
    }
}
