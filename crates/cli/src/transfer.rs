//! `xisuan transfer`: time and cost of moving a data set between two sites or cities, with
//! every assumption (distance, latency, bandwidth, efficiency, price basis) printed beside
//! the answer.

use crate::BadInput;
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use xisuan_catalog::{PricingBasis, PricingChoice, Transfer, TransferOptions};
use xisuan_model::{human, Bytes, Gbps, Sourced};

#[derive(Args)]
#[command(after_help = "\
Examples:
  xisuan transfer --from edwc-yrd --to edwc-zhongwei --size 45TB
  xisuan transfer --from Shanghai --to zhongwei --size 570GB --pricing per-gb
  xisuan transfer --from aws-us-east-1 --to aws-eu-central-1 --size 2PB --bandwidth-gbps 100
  xisuan transfer --from edwc-yrd --to edwc-guian --size 450TB --json

A and B are site ids (see `xisuan sites`), EDWC cluster short names (zhongwei, guian) or
well-known cities (Shanghai, Frankfurt, ...), which map to the nearest site.
Time = size × 8 / (bandwidth × efficiency). Cost is per GB (cloud egress, public network) or
a leased line per Gbps-month billed in whole months; --pricing auto takes the cheaper.
Defaults: 10 Gbit/s (illustrative) and efficiency 0.8 (estimated); override them.")]
pub struct TransferArgs {
    /// Where the data is: a site id, EDWC cluster name or city.
    #[arg(long)]
    from: String,
    /// Where it goes.
    #[arg(long)]
    to: String,
    /// How much: 50TB, 570GB, 1.5PB, 800GiB (decimal prefixes are powers of 1000).
    #[arg(long)]
    size: String,
    /// Provisioned bandwidth of the path in Gbit/s (default: the link's, or 10).
    #[arg(long = "bandwidth-gbps")]
    bandwidth_gbps: Option<f64>,
    /// Share of the line rate the transfer achieves, 0 < E ≤ 1 (default 0.8).
    #[arg(long)]
    efficiency: Option<f64>,
    /// auto (cheaper of the options), per-gb or leased-line.
    #[arg(long, default_value = "auto")]
    pricing: String,
    /// A catalog TOML merged over the built-in default (e.g. your own links and prices).
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Out<'a> {
    from_resolved: String,
    to_resolved: String,
    #[serde(flatten)]
    transfer: &'a Transfer,
    time_days: f64,
}

pub fn run(args: &TransferArgs) -> anyhow::Result<()> {
    let size = Bytes::parse(&args.size).map_err(|m| BadInput(format!("--size: {m}")))?;
    if let Some(b) = args.bandwidth_gbps {
        if !(b.is_finite() && b > 0.0) {
            return Err(BadInput(format!("--bandwidth-gbps: must be a positive number, got {b}")).into());
        }
    }
    if let Some(e) = args.efficiency {
        if !(e > 0.0 && e <= 1.0) {
            return Err(BadInput(format!("--efficiency: must be in (0, 1], got {e}")).into());
        }
    }
    let pricing = PricingChoice::parse(&args.pricing).map_err(|m| BadInput(format!("--pricing: {m}")))?;
    let catalog = xisuan_io::load_catalog(args.catalog.as_deref(), &[], &[])?;
    let opts = TransferOptions { bandwidth: args.bandwidth_gbps.map(Gbps), efficiency: args.efficiency, pricing };
    let (t, a, b) = catalog.transfer(size, &args.from, &args.to, &opts)?;
    if args.json {
        let out = Out { from_resolved: a.describe(), to_resolved: b.describe(), transfer: &t, time_days: t.time.days() };
        return crate::emit(&format!("{}\n", serde_json::to_string_pretty(&out)?));
    }
    let mut out = String::new();
    let src = |s: &Sourced<f64>| format!("[{}: {}]", s.confidence, s.source);
    outln!(out, "Transfer {} from {} to {}", human_bytes(size), t.from, t.to);
    outln!(out, "  from:        {}  ({})", a.describe(), a.site.name);
    outln!(out, "  to:          {}  ({})", b.describe(), b.site.name);
    outln!(out, "  distance:    {} km great circle", human(t.distance_km));
    outln!(out, "  latency:     {:.1} ms round trip  [{}: {}]", t.latency.value.0, t.latency.confidence, t.latency.source);
    outln!(out, "  bandwidth:   {} Gbit/s  [{}: {}]", human(t.bandwidth.value.0), t.bandwidth.confidence, t.bandwidth.source);
    outln!(out, "  efficiency:  {}  {}", t.efficiency.value, src(&t.efficiency));
    outln!(out, "  time:        {:.2} h ({:.2} days)", t.time.0, t.time.days());
    outln!(out, "  cost:        {} USD  ({})  [{}: {}]", human(t.cost.0), basis(&t.pricing.basis), t.pricing.confidence, t.pricing.source);
    outln!(out, "               {}", t.pricing.arithmetic);
    for alt in &t.alternatives {
        outln!(out, "  instead:     {} USD ({}): {}  [{}]", human(alt.cost.0), basis(&alt.basis), alt.arithmetic, alt.confidence);
    }
    for n in &t.notes {
        outln!(out, "  note:        {n}");
    }
    crate::emit(&out)
}

fn basis(b: &PricingBasis) -> &'static str {
    match b {
        PricingBasis::PerGb { .. } => "per GB",
        PricingBasis::LeasedLine { .. } => "leased line",
    }
}

fn human_bytes(b: Bytes) -> String {
    if b.0 >= 1e12 {
        format!("{} TB", human(b.terabytes()))
    } else {
        format!("{} GB", human(b.gigabytes()))
    }
}
