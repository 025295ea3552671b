//! The `xisuan` binary: parses flags, wires the libraries together, prints, and maps errors to
//! exit codes (2 for input the user can fix, 1 for everything else). Nothing else lives here.

mod estimate;
mod hf;
mod output;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Bad input: a flag, a file or a field the user can correct. Exits with code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

#[derive(Parser)]
#[command(
    name = "xisuan",
    version,
    about = "xisuan (西算): estimate, place and simulate large-model work across sites by cost and carbon",
    long_about = "xisuan (西算, \"compute in the west\") answers, with numbers you can check:\n  \
        estimate  what training, fine-tuning or serving a model takes: FLOPs, GPU-hours, energy, cost, carbon\n\
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Estimate(cmd) => estimate::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
