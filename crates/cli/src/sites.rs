//! `xisuan sites`: the catalog as an aligned table (or JSON with every source and
//! confidence), filtered by role and provider, followed by the diagnostics that apply.

use crate::BadInput;
use clap::Args;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use xisuan_catalog::{Catalog, Provider, Role, Site};
use xisuan_model::{Confidence, Diagnostic};

#[derive(Args)]
#[command(after_help = "\
Examples:
  xisuan sites                                   all built-in sites
  xisuan sites --role west                       the four western EDWC hubs
  xisuan sites --provider gcp --json             Google Cloud regions, every field as JSON
  xisuan sites --carbon-series ../shared/data/green_dcc/wide_2023_hourly_ci_lca_gco2_per_kwh.csv
                                                 attach 2023 hourly carbon to 16 grid zones
  xisuan sites --carbon-series DE=my_germany.csv name the zone of a file without a zone column
  xisuan sites --catalog my_sites.toml           override or add sites, links, prices

Columns: gCO2e/kWh is the annual location-based grid factor; C is its confidence (H high,
M medium, L low, E estimated, I illustrative, U user); USD/kWh the annual electricity price
for a large consumer; PUE is a policy target, measured or reported fleet value; capacity is
an illustrative placeholder (*) unless you give your own. China publishes annual provincial
grid factors only, so Chinese sites have no hourly carbon unless you supply a series.")]
pub struct SitesArgs {
    /// Print JSON with every field, source and confidence instead of a table.
    #[arg(long)]
    json: bool,
    /// A catalog TOML merged over the built-in default (sites, links, user regions).
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// An hourly carbon-intensity CSV (wide green-dcc, Electricity-Maps export, or
    /// lets-wait-awhile); `ZONE=FILE` names the zone of a file without a zone column.
    #[arg(long = "carbon-series", value_name = "[ZONE=]FILE")]
    carbon_series: Vec<PathBuf>,
    /// An hourly electricity-price CSV (USD/MWh), same layouts as --carbon-series.
    #[arg(long = "price-series", value_name = "[ZONE=]FILE")]
    price_series: Vec<PathBuf>,
    /// Only sites of this role: east, west, cloud or user.
    #[arg(long)]
    role: Option<String>,
    /// Only sites of this provider: edwc, aws, azure, gcp, alibaba or user.
    #[arg(long)]
    provider: Option<String>,
}

#[derive(Serialize)]
struct SeriesInfo<'a> {
    zone: &'a str,
    origin: &'a str,
    unit: &'a str,
    hours: usize,
    present: usize,
    mean: Option<f64>,
}

#[derive(Serialize)]
struct SiteOut<'a> {
    #[serde(flatten)]
    site: &'a Site,
    hourly_carbon: Option<SeriesInfo<'a>>,
    hourly_price: Option<SeriesInfo<'a>>,
    /// Why no hourly series is used, and which annual value replaces it.
    notes: Vec<String>,
}

#[derive(Serialize)]
struct Out<'a> {
    counts: BTreeMap<&'static str, usize>,
    sites: Vec<SiteOut<'a>>,
    user_regions: &'a [xisuan_catalog::UserRegion],
    diagnostics: Vec<&'a Diagnostic>,
}

fn info(s: &xisuan_catalog::HourlySeries) -> SeriesInfo<'_> {
    SeriesInfo { zone: &s.zone, origin: &s.origin, unit: &s.unit, hours: s.values.len(), present: s.present(), mean: s.mean() }
}

pub fn run(args: &SitesArgs) -> anyhow::Result<()> {
    let role = args.role.as_deref().map(Role::parse).transpose().map_err(|m| BadInput(format!("--role: {m}")))?;
    let provider = args.provider.as_deref().map(Provider::parse).transpose().map_err(|m| BadInput(format!("--provider: {m}")))?;
    let catalog = xisuan_io::load_catalog(args.catalog.as_deref(), &args.carbon_series, &args.price_series)?;
    let sites: Vec<&Site> = catalog.sites.iter().filter(|s| role.is_none_or(|r| s.role == r) && provider.is_none_or(|p| s.provider == p)).collect();
    let ids: Vec<&str> = sites.iter().map(|s| s.id.as_str()).collect();
    // Diagnostics about the shown sites, plus those about files (not about any site).
    let diagnostics: Vec<&Diagnostic> =
        catalog.diagnostics.iter().filter(|d| ids.contains(&d.location.as_str()) || catalog.site(&d.location).is_none()).collect();
    if args.json {
        print_json(&catalog, &sites, diagnostics)
    } else {
        crate::emit(&table(&catalog, &sites, &diagnostics))
    }
}

fn print_json(catalog: &Catalog, sites: &[&Site], diagnostics: Vec<&Diagnostic>) -> anyhow::Result<()> {
    let mut counts = BTreeMap::new();
    for s in sites {
        *counts.entry(s.provider.as_str()).or_insert(0) += 1;
    }
    let out = Out {
        counts,
        sites: sites
            .iter()
            .map(|s| {
                let (c, cn) = catalog.series.series_for_site(s);
                let (p, pn) = catalog.series.price_series_for_site(s);
                SiteOut {
                    site: s,
                    hourly_carbon: c.map(info),
                    hourly_price: p.map(info),
                    notes: cn.into_iter().chain(pn).map(|d| d.message).collect(),
                }
            })
            .collect(),
        user_regions: &catalog.user_regions,
        diagnostics,
    };
    crate::emit(&format!("{}\n", serde_json::to_string_pretty(&out)?))
}

fn conf_letter(c: Confidence) -> &'static str {
    match c {
        Confidence::High => "H",
        Confidence::Medium => "M",
        Confidence::Low => "L",
        Confidence::Estimated => "E",
        Confidence::Illustrative => "I",
        Confidence::User => "U",
    }
}

/// Display width, counting CJK characters as two columns so Chinese names align.
fn width(s: &str) -> usize {
    s.chars().map(|c| if c >= '\u{2E80}' { 2 } else { 1 }).sum()
}

fn fit(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    for c in s.chars() {
        if width(&out) + width(&c.to_string()) + 1 > max {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

fn table(catalog: &Catalog, sites: &[&Site], diagnostics: &[&Diagnostic]) -> String {
    let mut out = String::new();
    let header = [
        "ID",
        "NAME",
        "ROLE",
        "LAT",
        "LON",
        "gCO2e/kWh",
        "C",
        "CARBON SOURCE",
        "HOURLY",
        "USD/kWh",
        "C",
        "PUE",
        "PUE KIND",
        "CAPACITY (accelerators)",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for s in sites {
        let hourly = match catalog.series.series_for_site(s).0 {
            Some(h) => format!("yes {}", h.zone),
            None => "no".to_string(),
        };
        let capacity: Vec<String> =
            s.capacity.iter().map(|(k, v)| format!("{k}={}{}", v.value, if v.confidence == Confidence::Illustrative { "*" } else { "" })).collect();
        rows.push(vec![
            s.id.to_string(),
            fit(&s.name, 30),
            s.role.short().to_string(),
            format!("{:.2}", s.lat),
            format!("{:.2}", s.lon),
            format!("{:.0}", s.carbon_annual.value.g_per_kwh()),
            conf_letter(s.carbon_annual.confidence).to_string(),
            fit(&s.carbon_annual.source, 34),
            hourly,
            format!("{:.4}", s.price_annual.value.0),
            conf_letter(s.price_annual.confidence).to_string(),
            format!("{:.2}", s.pue.value),
            s.pue_kind.short().to_string(),
            capacity.join(" "),
        ]);
    }
    let n = header.len();
    let widths: Vec<usize> = (0..n).map(|i| rows.iter().map(|r| width(&r[i])).max().unwrap_or(0)).collect();
    let numeric = [3, 4, 5, 9, 11];
    for r in &rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            let pad = widths[i] - width(cell);
            if numeric.contains(&i) {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if i + 1 < n {
                    line.push_str(&" ".repeat(pad));
                }
            }
            if i + 1 < n {
                line.push_str("  ");
            }
        }
        outln!(out, "{}", line.trim_end());
    }
    outln!(
        out,
        "\n{} sites. C = confidence (H high, M medium, L low, E estimated, I illustrative, U user); * = illustrative capacity. Full sources: --json.",
        sites.len()
    );
    // Group identical messages so that one note about 24 Chinese sites is one line.
    let mut grouped: BTreeMap<(String, String), Vec<&str>> = BTreeMap::new();
    for d in diagnostics {
        grouped.entry((d.severity_label(), d.message.clone())).or_default().push(&d.location);
    }
    if !grouped.is_empty() {
        outln!(out, "\nDiagnostics:");
    }
    for ((sev, message), locations) in grouped {
        let at = if locations.len() > 3 { format!("{} sites ({}, …)", locations.len(), locations[..3].join(", ")) } else { locations.join(", ") };
        outln!(out, "  {sev}: {at}: {message}");
    }
    out
}

trait Label {
    fn severity_label(&self) -> String;
}

impl Label for Diagnostic {
    fn severity_label(&self) -> String {
        match self.severity {
            xisuan_model::Severity::Info => "note",
            xisuan_model::Severity::Warning => "warning",
            xisuan_model::Severity::Error => "error",
        }
        .to_string()
    }
}
