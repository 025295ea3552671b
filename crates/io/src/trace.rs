//! Trace readers for the simulator: job arrivals (GAIA, Alibaba GPU 2023 pod lists, our own
//! CSV) and hourly inference demand (Azure LLM inference 2023). Each reader turns a file's
//! rows into plain records with times in hours from the trace's start; what a format does not
//! say stays `None` for the simulator's stated defaults.
//!
//! Bad rows: a row that breaks its format is an error naming the file, the line and the field
//! (`TraceError`), never a silent drop. Where a format has rows that are valid but cannot be
//! simulated (Alibaba pods that never ran, or ran on no GPU), they are skipped and counted in
//! a diagnostic.
//!
//! Units, checked against the data and GAIA's code (umassos/GAIA `src/task.py`, `load_tasks`
//! divides `arrival_time` and `length` by `TIME_FACTOR` = 5 seconds per step, and asserts a
//! length of at least 300 s): `pai_1k.csv` is in **seconds** (lengths 303 s to 214,787 s,
//! arrivals over 604,756 s = one week); `pai-100k.csv` and `azure-100k.csv` are in **hours**
//! (arrivals up to 8,759.9 = one year of hours; lengths from 0.08, below GAIA's 300-s floor
//! if they were seconds). `TimeUnit::Auto` applies that test: seconds when every length is at
//! least 300, hours otherwise.

use std::fmt;
use std::path::Path;
use xisuan_catalog::series::parse_timestamp;
use xisuan_model::limits::{MAX_BYTES, MAX_HOURS, MAX_JOB_ACCELERATORS, MAX_SERIES_HOURS};
use xisuan_model::Diagnostic;

/// The latest arrival a trace may have, hours from its start (ten years).
const MAX_ARRIVAL_H: f64 = MAX_SERIES_HOURS as f64;

/// Errors on the second use of an id, naming both lines.
fn unique_id(seen: &mut std::collections::HashMap<String, u64>, id: &str, origin: &str, line: u64, field: &str) -> Result<(), TraceError> {
    if let Some(first) = seen.insert(id.to_string(), line) {
        return Err(err(origin, line, field, format!("`{id}` was already used on line {first}; job ids must be unique")));
    }
    Ok(())
}

/// A trace layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFormat {
    /// `arrival_time,length,cpus` (umassos/GAIA `src/cluster_traces`).
    Gaia,
    /// Alibaba `openb_pod_list_*.csv` (clusterdata `cluster-trace-gpu-v2023`).
    AlibabaPod,
    /// `TIMESTAMP,ContextTokens,GeneratedTokens` (Azure LLM inference 2023).
    AzureLlm,
    /// Ours: `id,arrival_h,duration_h,gpus,site,data_gb,deadline_h,pausable` (docs/trace-format.md).
    Csv,
}

impl TraceFormat {
    pub fn parse(text: &str) -> Result<TraceFormat, String> {
        match text {
            "gaia" => Ok(TraceFormat::Gaia),
            "alibaba-pod" | "alibaba" => Ok(TraceFormat::AlibabaPod),
            "azure-llm" | "azure" => Ok(TraceFormat::AzureLlm),
            "csv" => Ok(TraceFormat::Csv),
            _ => Err(format!("`{text}` is not a trace format (gaia, alibaba-pod, azure-llm, csv)")),
        }
    }

    /// Guesses the format from the header line.
    pub fn detect(header: &str) -> Option<TraceFormat> {
        let h = header.trim_start_matches('\u{feff}').trim().to_ascii_lowercase();
        let cols: Vec<&str> = h.split(',').map(str::trim).collect();
        let has = |c: &str| cols.contains(&c);
        if has("arrival_time") && has("length") {
            Some(TraceFormat::Gaia)
        } else if has("creation_time") && has("num_gpu") {
            Some(TraceFormat::AlibabaPod)
        } else if has("timestamp") && has("contexttokens") {
            Some(TraceFormat::AzureLlm)
        } else if has("arrival_h") && has("duration_h") {
            Some(TraceFormat::Csv)
        } else {
            None
        }
    }
}

/// The unit of GAIA's `arrival_time` and `length` (see the module note).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Auto,
    Seconds,
    Hours,
}

impl TimeUnit {
    pub fn parse(text: &str) -> Result<TimeUnit, String> {
        match text {
            "auto" => Ok(TimeUnit::Auto),
            "s" | "seconds" => Ok(TimeUnit::Seconds),
            "h" | "hours" => Ok(TimeUnit::Hours),
            _ => Err(format!("`{text}` is not a time unit (auto, s, h)")),
        }
    }
}

/// A bad row or an unreadable file: where, which field, and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceError {
    pub origin: String,
    /// 1-based line, 0 for the file as a whole.
    pub line: u64,
    pub field: String,
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.origin, self.message)
        } else {
            write!(f, "{}:{}: field `{}`: {}", self.origin, self.line, self.field, self.message)
        }
    }
}

impl std::error::Error for TraceError {}

/// One job as the trace gives it; times in hours from the trace's start.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TraceJob {
    pub id: String,
    pub arrival_h: f64,
    pub duration_h: f64,
    pub gpus: u32,
    pub site: Option<String>,
    pub data_gb: Option<f64>,
    pub deadline_h: Option<f64>,
    pub pausable: Option<bool>,
}

/// Jobs read from a trace, with what had to be said about it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobTrace {
    pub jobs: Vec<TraceJob>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Inference demand in one hour of the trace.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HourDemand {
    pub requests: u64,
    pub context_tokens: u64,
    pub generated_tokens: u64,
}

/// Hourly inference demand; `start_unix_s` is the trace's first whole UTC hour.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DemandTrace {
    pub start_unix_s: i64,
    pub hours: Vec<HourDemand>,
    pub diagnostics: Vec<Diagnostic>,
}

fn read(path: &Path) -> Result<String, TraceError> {
    std::fs::read_to_string(path).map_err(|e| TraceError {
        origin: path.display().to_string(),
        line: 0,
        field: String::new(),
        message: format!("cannot read: {e}"),
    })
}

/// Reads a job trace; `format` `None` detects it from the header.
pub fn read_jobs(path: &Path, format: Option<TraceFormat>, unit: TimeUnit) -> Result<JobTrace, TraceError> {
    parse_jobs(&read(path)?, &path.display().to_string(), format, unit)
}

/// Reads an inference demand trace (Azure LLM layout).
pub fn read_demand(path: &Path) -> Result<DemandTrace, TraceError> {
    parse_azure_llm(&read(path)?, &path.display().to_string())
}

/// A CSV reader over text with the header parsed, and helpers that name line and field.
struct Rows<'a> {
    origin: &'a str,
    header: Vec<String>,
    rdr: csv::Reader<&'a [u8]>,
}

impl<'a> Rows<'a> {
    fn new(text: &'a str, origin: &'a str) -> Result<Rows<'a>, TraceError> {
        let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
        let header = rdr
            .headers()
            .map_err(|e| err(origin, 1, "", format!("cannot read the header: {e}")))?
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
            .collect();
        Ok(Rows { origin, header, rdr })
    }
    /// Every column must be one the format knows: a misspelt column (`deadlne_h`) would
    /// otherwise drop its values silently. A column named twice is an error too.
    fn known(&self, format: &str, known: &[&str]) -> Result<(), TraceError> {
        for (i, h) in self.header.iter().enumerate() {
            if self.header[..i].contains(h) {
                return Err(err(self.origin, 1, h, "column appears twice in the header".into()));
            }
            if !known.contains(&h.as_str()) {
                return Err(err(self.origin, 1, h, format!("unknown column for the {format} format (known: {})", known.join(", "))));
            }
        }
        Ok(())
    }
    fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }
    fn need(&self, name: &str) -> Result<usize, TraceError> {
        self.col(name).ok_or_else(|| err(self.origin, 1, name, format!("missing column (header has: {})", self.header.join(","))))
    }
}

fn err(origin: &str, line: u64, field: &str, message: String) -> TraceError {
    TraceError { origin: origin.to_string(), line, field: field.to_string(), message }
}

/// A record with its line number, and typed getters that report line and field.
struct Rec<'a> {
    origin: &'a str,
    line: u64,
    rec: csv::StringRecord,
}

impl Rec<'_> {
    fn text(&self, i: usize) -> &str {
        self.rec.get(i).unwrap_or("")
    }
    fn f64(&self, i: usize, field: &str) -> Result<f64, TraceError> {
        let t = self.text(i);
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(err(self.origin, self.line, field, format!("`{t}` is not a number"))),
        }
    }
    fn opt_f64(&self, i: Option<usize>, field: &str) -> Result<Option<f64>, TraceError> {
        match i {
            Some(i) if !self.text(i).is_empty() => self.f64(i, field).map(Some),
            _ => Ok(None),
        }
    }
    fn non_negative(&self, i: usize, field: &str) -> Result<f64, TraceError> {
        let v = self.f64(i, field)?;
        if v < 0.0 {
            return Err(err(self.origin, self.line, field, format!("{v} is negative")));
        }
        Ok(v)
    }
    /// `v` (in `unit`) if it is at most `max`.
    fn at_most(&self, v: f64, max: f64, field: &str, unit: &str) -> Result<f64, TraceError> {
        if v > max {
            return Err(err(self.origin, self.line, field, format!("{v} {unit} is more than xisuan accepts (at most {max} {unit})")));
        }
        Ok(v)
    }
    fn count(&self, i: usize, field: &str) -> Result<u32, TraceError> {
        let v = self.f64(i, field)?;
        if v < 0.0 || v.fract() != 0.0 || v > u32::MAX as f64 {
            return Err(err(self.origin, self.line, field, format!("`{}` is not a whole, non-negative count", self.text(i))));
        }
        Ok(v as u32)
    }
}

fn records<'a, 'r>(rows: &'r mut Rows<'a>) -> impl Iterator<Item = Result<Rec<'a>, TraceError>> + 'r
where
    'a: 'r,
{
    let origin = rows.origin;
    let width = rows.header.len();
    rows.rdr.records().map(move |r| {
        let rec = r.map_err(|e| err(origin, e.position().map(|p| p.line()).unwrap_or(0), "", e.to_string()))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.len() != width {
            return Err(err(origin, line, "", format!("the row has {} fields, the header {width}", rec.len())));
        }
        Ok(Rec { origin, line, rec })
    })
}

/// Parses a job trace from text (`origin` names it in messages).
pub fn parse_jobs(text: &str, origin: &str, format: Option<TraceFormat>, unit: TimeUnit) -> Result<JobTrace, TraceError> {
    let format = match format {
        Some(f) => f,
        None => {
            let header = text.lines().next().unwrap_or("");
            TraceFormat::detect(header)
                .ok_or_else(|| err(origin, 1, "", format!("cannot tell the trace format from the header `{header}`; pass --format")))?
        }
    };
    match format {
        TraceFormat::Gaia => parse_gaia(text, origin, unit),
        TraceFormat::AlibabaPod => parse_alibaba(text, origin),
        TraceFormat::Csv => parse_csv(text, origin),
        TraceFormat::AzureLlm => Err(err(origin, 0, "", "an Azure LLM trace is inference demand, not jobs; pass it with --inference".into())),
    }
}

fn parse_gaia(text: &str, origin: &str, unit: TimeUnit) -> Result<JobTrace, TraceError> {
    let mut rows = Rows::new(text, origin)?;
    rows.known("GAIA", &["arrival_time", "length", "cpus"])?;
    let (a, l, c) = (rows.need("arrival_time")?, rows.need("length")?, rows.need("cpus")?);
    let mut raw = Vec::new();
    for r in records(&mut rows) {
        let r = r?;
        let arrival = r.non_negative(a, "arrival_time")?;
        let length = r.f64(l, "length")?;
        if length <= 0.0 {
            return Err(err(origin, r.line, "length", format!("{length} is not a positive length")));
        }
        let cpus = r.count(c, "cpus")?;
        r.at_most(cpus as f64, MAX_JOB_ACCELERATORS as f64, "cpus", "processors")?;
        if cpus == 0 {
            return Err(err(origin, r.line, "cpus", "a job needs at least one processor".into()));
        }
        raw.push((r.line, arrival, length, cpus));
    }
    let seconds = match unit {
        TimeUnit::Seconds => true,
        TimeUnit::Hours => false,
        TimeUnit::Auto => !raw.is_empty() && raw.iter().all(|r| r.2 >= 300.0),
    };
    let k = if seconds { 1.0 / 3600.0 } else { 1.0 };
    for &(line, arrival, length, _) in &raw {
        let bound = |v: f64, max: f64, field: &str| {
            if v * k > max {
                Err(err(origin, line, field, format!("{} h is more than xisuan accepts (at most {max} h)", v * k)))
            } else {
                Ok(())
            }
        };
        bound(arrival, MAX_ARRIVAL_H, "arrival_time")?;
        bound(length, MAX_HOURS as f64, "length")?;
    }
    let mut diagnostics = vec![Diagnostic::info(
        origin,
        format!(
            "GAIA trace read in {} ({}); `cpus` taken as accelerators",
            if seconds { "seconds" } else { "hours" },
            match unit {
                TimeUnit::Auto => "detected: every length ≥ 300 means seconds, GAIA's minimum job",
                _ => "as given",
            }
        ),
    )];
    if raw.windows(2).any(|w| w[1].1 < w[0].1) {
        diagnostics.push(Diagnostic::info(origin, "rows are not in arrival order; sorted"));
    }
    let jobs = raw
        .into_iter()
        .enumerate()
        .map(|(i, (_, arr, len, cpus))| TraceJob {
            id: format!("gaia-{i}"),
            arrival_h: arr * k,
            duration_h: len * k,
            gpus: cpus,
            ..Default::default()
        })
        .collect();
    Ok(JobTrace { jobs, diagnostics })
}

fn parse_alibaba(text: &str, origin: &str) -> Result<JobTrace, TraceError> {
    let mut rows = Rows::new(text, origin)?;
    rows.known(
        "Alibaba pod list",
        &[
            "name",
            "cpu_milli",
            "memory_mib",
            "num_gpu",
            "gpu_milli",
            "gpu_spec",
            "qos",
            "pod_phase",
            "creation_time",
            "deletion_time",
            "scheduled_time",
        ],
    )?;
    let name = rows.need("name")?;
    let ng = rows.need("num_gpu")?;
    let created = rows.need("creation_time").map_err(|mut e| {
        e.message = format!("{}; this pod list has no times (e.g. openb_pod_list_multigpu50.csv) and cannot be replayed", e.message);
        e
    })?;
    let sched = rows.need("scheduled_time")?;
    let deleted = rows.need("deletion_time")?;
    let (mut never_ran, mut no_gpu, mut running, mut zero) = (0usize, 0usize, 0usize, 0usize);
    let mut jobs = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for r in records(&mut rows) {
        let r = r?;
        unique_id(&mut seen, r.text(name), origin, r.line, "name")?;
        let gpus = r.count(ng, "num_gpu")?;
        r.at_most(gpus as f64, MAX_JOB_ACCELERATORS as f64, "num_gpu", "accelerators")?;
        let c = r.non_negative(created, "creation_time")?;
        r.at_most(c / 3600.0, MAX_ARRIVAL_H, "creation_time", "h")?;
        if gpus == 0 {
            no_gpu += 1;
            continue;
        }
        if r.text(sched).is_empty() {
            never_ran += 1;
            continue;
        }
        let s = r.non_negative(sched, "scheduled_time")?;
        if r.text(deleted).is_empty() {
            running += 1;
            continue;
        }
        let d = r.non_negative(deleted, "deletion_time")?;
        if d < s {
            return Err(err(origin, r.line, "deletion_time", format!("{d} is before scheduled_time {s}")));
        }
        if d == s {
            zero += 1;
            continue;
        }
        r.at_most((d - s) / 3600.0, MAX_HOURS as f64, "deletion_time", "h of run time")?;
        jobs.push(TraceJob { id: r.text(name).to_string(), arrival_h: c / 3600.0, duration_h: (d - s) / 3600.0, gpus, ..Default::default() });
    }
    let mut diagnostics = vec![Diagnostic::info(
        origin,
        "times in seconds from the trace start; arrival = creation_time, duration = deletion_time − scheduled_time; fractional GPUs (gpu_milli < 1000) count as whole devices",
    )];
    for (n, what) in [
        (no_gpu, "CPU-only pods (num_gpu = 0) skipped"),
        (never_ran, "pods never scheduled (no scheduled_time, e.g. Pending) skipped"),
        (running, "pods still running at the trace's end (no deletion_time) skipped: their length is unknown"),
        (zero, "pods with zero run time skipped"),
    ] {
        if n > 0 {
            diagnostics.push(Diagnostic::warning(origin, format!("{n} {what}")));
        }
    }
    jobs.sort_by(|a, b| a.arrival_h.total_cmp(&b.arrival_h));
    Ok(JobTrace { jobs, diagnostics })
}

fn parse_csv(text: &str, origin: &str) -> Result<JobTrace, TraceError> {
    let mut rows = Rows::new(text, origin)?;
    rows.known("xisuan CSV (docs/trace-format.md)", &["id", "arrival_h", "duration_h", "gpus", "site", "data_gb", "deadline_h", "pausable"])?;
    let (a, d) = (rows.need("arrival_h")?, rows.need("duration_h")?);
    let (id, g, site, data, dl, p) =
        (rows.col("id"), rows.col("gpus"), rows.col("site"), rows.col("data_gb"), rows.col("deadline_h"), rows.col("pausable"));
    let mut jobs = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (i, r) in records(&mut rows).enumerate() {
        let r = r?;
        let arrival_h = r.non_negative(a, "arrival_h")?;
        r.at_most(arrival_h, MAX_ARRIVAL_H, "arrival_h", "h")?;
        let duration_h = r.f64(d, "duration_h")?;
        r.at_most(duration_h, MAX_HOURS as f64, "duration_h", "h")?;
        if duration_h <= 0.0 {
            return Err(err(origin, r.line, "duration_h", format!("{duration_h} is not a positive duration")));
        }
        let gpus = match g {
            Some(g) if !r.text(g).is_empty() => r.count(g, "gpus")?,
            _ => 1,
        };
        if gpus == 0 {
            return Err(err(origin, r.line, "gpus", "a job needs at least one accelerator".into()));
        }
        r.at_most(gpus as f64, MAX_JOB_ACCELERATORS as f64, "gpus", "accelerators")?;
        let data_gb = r.opt_f64(data, "data_gb")?;
        if let Some(v) = data_gb {
            r.at_most(v, MAX_BYTES / 1e9, "data_gb", "GB")?;
        }
        if data_gb.is_some_and(|v| v < 0.0) {
            return Err(err(origin, r.line, "data_gb", "must not be negative".into()));
        }
        let deadline_h = r.opt_f64(dl, "deadline_h")?;
        if let Some(v) = deadline_h {
            r.at_most(v, 2.0 * MAX_ARRIVAL_H, "deadline_h", "h")?;
        }
        if deadline_h.is_some_and(|v| v < arrival_h + duration_h) {
            return Err(err(origin, r.line, "deadline_h", "is before arrival_h + duration_h: the job could never meet it".into()));
        }
        let pausable = match p.map(|p| r.text(p).to_ascii_lowercase()) {
            None => None,
            Some(t) if t.is_empty() => None,
            Some(t) => Some(match t.as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => return Err(err(origin, r.line, "pausable", format!("`{t}` is not true/false"))),
            }),
        };
        let id = id.map(|c| r.text(c).to_string()).filter(|s| !s.is_empty()).unwrap_or_else(|| format!("job-{i}"));
        unique_id(&mut seen, &id, origin, r.line, "id")?;
        jobs.push(TraceJob {
            id,
            arrival_h,
            duration_h,
            gpus,
            site: site.map(|c| r.text(c).to_string()).filter(|s| !s.is_empty()),
            data_gb,
            deadline_h,
            pausable,
        });
    }
    jobs.sort_by(|a, b| a.arrival_h.total_cmp(&b.arrival_h));
    Ok(JobTrace { jobs, diagnostics: Vec::new() })
}

/// Parses the Azure LLM inference trace into hourly buckets (UTC hours).
pub fn parse_azure_llm(text: &str, origin: &str) -> Result<DemandTrace, TraceError> {
    let mut rows = Rows::new(text, origin)?;
    rows.known("Azure LLM inference", &["timestamp", "contexttokens", "generatedtokens"])?;
    let (t, c, g) = (rows.need("timestamp")?, rows.need("contexttokens")?, rows.need("generatedtokens")?);
    let mut samples = Vec::new();
    for r in records(&mut rows) {
        let r = r?;
        let secs = parse_timestamp(r.text(t)).map_err(|m| err(origin, r.line, "TIMESTAMP", m))?;
        samples.push((secs, r.count(c, "ContextTokens")? as u64, r.count(g, "GeneratedTokens")? as u64));
    }
    let Some(first) = samples.iter().map(|s| s.0).min() else {
        return Err(err(origin, 0, "", "no requests".into()));
    };
    let start = first.div_euclid(3600) * 3600;
    let last = samples.iter().map(|s| s.0).max().unwrap_or(first);
    if (last - start) / 3600 >= MAX_SERIES_HOURS {
        return Err(err(
            origin,
            0,
            "TIMESTAMP",
            format!("requests span {} hours; at most {MAX_SERIES_HOURS} (ten years) are read", (last - start) / 3600 + 1),
        ));
    }
    let mut hours = vec![HourDemand::default(); ((last - start) / 3600 + 1) as usize];
    for (s, ctx, gen) in samples {
        let h = &mut hours[((s - start) / 3600) as usize];
        h.requests += 1;
        // Saturate rather than wrap: 2^64 tokens in an hour is beyond any trace.
        h.context_tokens = h.context_tokens.saturating_add(ctx);
        h.generated_tokens = h.generated_tokens.saturating_add(gen);
    }
    let diagnostics = vec![Diagnostic::info(
        origin,
        format!(
            "{} requests in {} UTC hour(s) from {}",
            hours.iter().map(|h| h.requests).sum::<u64>(),
            hours.len(),
            xisuan_catalog::series::format_hour(start / 3600)
        ),
    )];
    Ok(DemandTrace { start_unix_s: start, hours, diagnostics })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaia_units_are_detected() {
        let secs = parse_jobs("arrival_time,length,cpus\n0.0,3600,1\n7200,1800,2\n", "s.csv", None, TimeUnit::Auto).unwrap();
        assert_eq!((secs.jobs[1].arrival_h, secs.jobs[1].duration_h, secs.jobs[1].gpus), (2.0, 0.5, 2));
        let hours = parse_jobs("arrival_time,length,cpus\n0.5,0.25,1\n", "h.csv", Some(TraceFormat::Gaia), TimeUnit::Auto).unwrap();
        assert_eq!(hours.jobs[0].duration_h, 0.25);
    }

    #[test]
    fn a_bad_row_names_file_line_and_field() {
        let e = parse_jobs("arrival_time,length,cpus\n0,400,1\n5,abc,1\n", "t.csv", None, TimeUnit::Auto).unwrap_err();
        assert_eq!(e.to_string(), "t.csv:3: field `length`: `abc` is not a number");
        let e = parse_jobs("id,arrival_h,duration_h,deadline_h\na,1,2,2.5\n", "u.csv", None, TimeUnit::Auto).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "deadline_h"));
    }

    #[test]
    fn csv_defaults_are_left_to_the_simulator() {
        let t = parse_jobs("arrival_h,duration_h\n1.5,2\n", "c.csv", None, TimeUnit::Auto).unwrap();
        assert_eq!(t.jobs[0], TraceJob { id: "job-0".into(), arrival_h: 1.5, duration_h: 2.0, gpus: 1, ..Default::default() });
    }

    #[test]
    fn alibaba_skips_are_counted() {
        let text = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n\
            p0,1,1,1,1000,,LS,Running,0,7200,0\n\
            p1,1,1,0,0,,LS,Running,10,20,10\n\
            p2,1,1,2,1000,,BE,Pending,30,40,\n\
            p3,1,1,1,1000,,LS,Running,50,,60\n";
        let t = parse_jobs(text, "a.csv", None, TimeUnit::Auto).unwrap();
        assert_eq!(t.jobs.len(), 1);
        assert_eq!(t.jobs[0].duration_h, 2.0);
        let warned: Vec<&str> = t.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert!(warned.iter().any(|m| m.starts_with("1 CPU-only")));
        assert!(warned.iter().any(|m| m.starts_with("1 pods never scheduled")));
        assert!(warned.iter().any(|m| m.starts_with("1 pods still running")));
    }

    #[test]
    fn azure_requests_fall_into_utc_hours() {
        let d = parse_azure_llm(
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:59:59.9,10,1\n2023-11-16 19:00:00.5,20,2\n2023-11-16 19:10:00,5,5\n",
            "z.csv",
        )
        .unwrap();
        assert_eq!(d.hours.len(), 2);
        assert_eq!(d.hours[1], HourDemand { requests: 2, context_tokens: 25, generated_tokens: 7 });
    }
}
