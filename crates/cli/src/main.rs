//! The `xisuan` binary: parses flags, wires the libraries together, prints, and maps errors to
//! exit codes (2 for input the user can fix, 1 for everything else). Nothing else lives here;
//! each subcommand's code is in its own file.

// Flag checks use negated comparisons (`!(x >= 0.0)`) on purpose: they also reject NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

/// Appends one formatted line to a `String` buffer (output is written once, by `emit`).
macro_rules! outln {
    ($out:expr) => {{
        $out.push('\n');
    }};
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

mod estimate;
mod export;
mod forecast;
mod hf;
mod output;
mod plan;
mod server;
mod sim_report;
mod simulate;
mod sites;
mod transfer;

use clap::{Parser, Subcommand};
use std::fmt;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "xisuan",
    version,
    about = "xisuan (西算): estimate, place and simulate large-model work across sites by cost and carbon",
    long_about = "xisuan (西算, \"compute in the west\") answers, with numbers you can check:\n  \
        estimate  what training, fine-tuning or serving a model takes: FLOPs, GPU-hours, energy, cost, carbon\n  \
        sites     the catalog: EDWC clusters and cloud regions with carbon, prices, PUE and capacity\n  \
        transfer  how long and how much moving a dataset between two sites takes\n  \
        plan      where and when each job and service should run, why, and how far from optimal\n  \
        simulate  replay a trace of arrivals under several policies\n  \
        forecast  how well day-ahead forecasts predict hourly carbon and prices, per zone\n  \
        server    the control plane (submit, jobs, cancel talk to it)\n  \
        export    a plan as Kubernetes manifests (Kueue, Karmada, MultiKueue)\n\
        Every answer prints the assumptions it rests on, with their sources; every assumption has a flag."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Estimate training, fine-tuning and serving: compute, time, energy, cost, carbon.
    #[command(subcommand)]
    Estimate(estimate::EstimateCmd),
    /// List the site catalog: EDWC clusters and cloud regions with grid carbon, electricity
    /// price, PUE and capacity, each with its source and confidence.
    Sites(sites::SitesArgs),
    /// How long and how much it takes to move data between two sites (or cities).
    Transfer(transfer::TransferArgs),
    /// Place training jobs and inference services in space and time: where, when, why, and the
    /// gap to an optimal bound, against simple baselines.
    Plan(plan::PlanArgs),
    /// Replay a trace of job arrivals against sites with hourly carbon and prices under
    /// several policies, and compare what each delivers.
    Simulate(simulate::SimulateArgs),
    /// Score day-ahead forecasts of hourly carbon and price series, per zone and model (the
    /// forecasts `simulate --forecast` plans with).
    Forecast(forecast::ForecastArgs),
    /// Run the control plane: accept work over HTTP, record every event (SQLite or
    /// PostgreSQL), plan and re-plan it, dispatch it, and serve metrics and OpenAPI.
    Server(server::ServerArgs),
    /// Submit the [[jobs]] and [[services]] of a TOML file to a server.
    Submit(server::SubmitArgs),
    /// List your jobs and services on a server.
    Jobs(server::JobsArgs),
    /// Cancel one of your jobs, or stop one of your services, on a server.
    Cancel(server::CancelArgs),
    /// Show a job's output (stdout and stderr) for one attempt, from the site it ran at.
    Logs(server::LogsArgs),
    /// List the transfers of your jobs: inputs staged, checkpoints carried, outputs copied back.
    Transfers(server::TransfersArgs),
    /// Write a plan in another scheduler's format (Kubernetes manifests for Kueue, Karmada,
    /// MultiKueue).
    #[command(subcommand)]
    Export(export::ExportCmd),
}

/// An error caused by what the user typed or pointed at (exit code 2), as opposed to a
/// failure of the program itself (exit code 1).
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Writes the output; a closed pipe (`xisuan sites | head`) is not an error.
pub fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn is_bad_input(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<BadInput>()
            || c.is::<xisuan_catalog::CatalogError>()
            || c.is::<std::io::Error>()
            || c.is::<xisuan_io::InputError>()
            || c.is::<xisuan_io::scenario::ScenarioError>()
            || c.is::<xisuan_io::trace::TraceError>()
            || c.is::<xisuan_plan::ProblemError>()
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Estimate(cmd) => estimate::run(cmd),
        Command::Sites(args) => sites::run(args),
        Command::Transfer(args) => transfer::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Forecast(args) => forecast::run(args),
        Command::Server(args) => server::serve(args),
        Command::Submit(args) => server::submit(args),
        Command::Jobs(args) => server::jobs(args),
        Command::Cancel(args) => server::cancel(args),
        Command::Logs(args) => server::logs(args),
        Command::Transfers(args) => server::transfers(args),
        Command::Export(cmd) => export::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<plan::Incomplete>().is_some() {
                ExitCode::from(3)
            } else if is_bad_input(&e) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
