//! `xisuan forecast`: how well each forecasting model predicts hourly carbon and prices, per
//! zone, on the series given (the day-ahead error that policies planning on forecasts live
//! with; `simulate --forecast MODEL` uses the same models).

use crate::output::Table;
use crate::BadInput;
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use xisuan_catalog::series::{format_hour, HourlySeries};
use xisuan_model::forecast::{errors, Errors, Model};

#[derive(Args)]
#[command(after_help = "\
Examples:
  xisuan forecast --carbon-series ../shared/data/green_dcc/wide_2023_hourly_ci_lca_gco2_per_kwh.csv
  xisuan forecast --carbon-series FILE --price-series FILE --start 2023-06-01 --hours 720 --json

Each zone's series is forecast at every hour of the window (issue hours), for each of the next
--horizon hours, reading only the values up to the issue hour, and scored against what followed:
MAE in the series' unit, and WAPE (the absolute errors over the absolute values, %).
Models: seasonal-naive (the same hour of the last known day) and profile (the mean of the same
hour over the last seven days plus the current departure from it, decaying hour by hour at the
rate measured over the last week). Hours missing in a series are filled with the last value
before them (counted in the output). Issue hours need a week of history before them: the window
starts at least 168 h after the series does.")]
pub struct ForecastArgs {
    /// Hourly carbon-intensity series (wide, long or lets-wait-awhile CSV), one or more.
    #[arg(long = "carbon-series", value_name = "FILE")]
    carbon_series: Vec<PathBuf>,
    /// Hourly electricity-price series, one or more.
    #[arg(long = "price-series", value_name = "FILE")]
    price_series: Vec<PathBuf>,
    /// First issue hour (UTC, e.g. 2023-06-01); default one week after each series starts.
    #[arg(long)]
    start: Option<String>,
    /// Issue hours to score from --start (default: to the end of the series).
    #[arg(long)]
    hours: Option<u32>,
    /// Hours ahead each forecast covers (default 24: day-ahead).
    #[arg(long, default_value_t = 24)]
    horizon: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

const WARMUP_H: i64 = 168;

#[derive(Serialize)]
struct Row {
    zone: String,
    kind: &'static str,
    unit: String,
    source: String,
    first_issue: String,
    issue_hours: usize,
    filled_hours: usize,
    /// By model name.
    errors: std::collections::BTreeMap<&'static str, Errors>,
}

pub fn run(args: &ForecastArgs) -> anyhow::Result<()> {
    if args.carbon_series.is_empty() && args.price_series.is_empty() {
        return Err(BadInput("give --carbon-series or --price-series (or both)".into()).into());
    }
    if args.horizon == 0 || args.horizon > 24 * 14 {
        return Err(BadInput(format!("--horizon: must be 1 to 336 hours, got {}", args.horizon)).into());
    }
    let start = args.start.as_deref().map(xisuan_io::simulation::parse_start).transpose()?;
    let catalog = xisuan_io::load_catalog(None, &args.carbon_series, &args.price_series)?;
    let mut rows = Vec::new();
    for (kind, map) in [("carbon", &catalog.series.carbon), ("price", &catalog.series.price)] {
        for s in map.values() {
            rows.push(score(kind, s, start, args.hours, args.horizon as usize)?);
        }
    }
    if args.json {
        return crate::emit(&format!("{}\n", serde_json::to_string_pretty(&rows)?));
    }
    let mut t = Table::new(&["zone", "series", "unit", "issue hours", "seasonal-naive MAE", "WAPE %", "profile MAE", "WAPE %", "filled h"]);
    for r in &rows {
        let e = |m: Model| r.errors[m.name()];
        let (a, b) = (e(Model::SeasonalNaive), e(Model::Profile));
        t.row(vec![
            r.zone.clone(),
            r.kind.into(),
            r.unit.clone(),
            r.issue_hours.to_string(),
            format!("{:.2}", a.mae),
            format!("{:.1}", a.wape_pct),
            format!("{:.2}", b.mae),
            format!("{:.1}", b.wape_pct),
            r.filled_hours.to_string(),
        ]);
    }
    let mut out = format!(
        "Day-ahead forecast error ({} h ahead, issued every hour; MAE in the series' unit, WAPE = sum |error| / sum |actual|)\n",
        args.horizon
    );
    out.push_str(&t.render());
    for kind in ["carbon", "price"] {
        let of: Vec<&Row> = rows.iter().filter(|r| r.kind == kind).collect();
        if of.is_empty() {
            continue;
        }
        let median = |m: Model| {
            let mut v: Vec<f64> = of.iter().map(|r| r.errors[m.name()].wape_pct).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        out.push_str(&format!(
            "Median WAPE over {} {kind} zones: seasonal-naive {:.1}%, profile {:.1}%\n",
            of.len(),
            median(Model::SeasonalNaive),
            median(Model::Profile)
        ));
    }
    crate::emit(&out)
}

fn score(kind: &'static str, s: &HourlySeries, start: Option<i64>, hours: Option<u32>, horizon: usize) -> anyhow::Result<Row> {
    // Missing hours: the last value before them (the first present value before any).
    let first = s.values.iter().flatten().next().copied();
    let Some(mut last) = first else {
        return Err(BadInput(format!("{}: zone {}: the series has no values", s.origin, s.zone)).into());
    };
    let mut filled = 0;
    let y: Vec<f64> = s
        .values
        .iter()
        .map(|v| {
            match v {
                Some(x) => last = *x,
                None => filled += 1,
            }
            last
        })
        .collect();
    let issue0 = start.unwrap_or(s.start + WARMUP_H);
    if issue0 < s.start + WARMUP_H {
        return Err(BadInput(format!(
            "--start: zone {} ({}) starts at {}; the first issue hour must be a week later, at {} or after",
            s.zone,
            s.origin,
            format_hour(s.start),
            format_hour(s.start + WARMUP_H)
        ))
        .into());
    }
    let from = (issue0 - s.start) as usize;
    let to = match hours {
        Some(h) => from + h as usize + horizon,
        None => y.len(),
    };
    if to > y.len() || from + horizon >= to {
        return Err(BadInput(format!(
            "zone {} ({}): the window from {} needs hours up to {}, the series ends at {}",
            s.zone,
            s.origin,
            format_hour(issue0),
            format_hour(s.start + to as i64),
            format_hour(s.end())
        ))
        .into());
    }
    // Issue hours `from..to − horizon`, reading history from the series start.
    let errors = Model::ALL.into_iter().map(|m| (m.name(), errors(m, &y[..to], from, horizon))).collect();
    Ok(Row {
        zone: s.zone.clone(),
        kind,
        unit: s.unit.clone(),
        source: s.origin.clone(),
        first_issue: format_hour(issue0),
        issue_hours: to - horizon - from,
        filled_hours: filled,
        errors,
    })
}
