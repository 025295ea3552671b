//! The `xisuan` binary: parses flags, wires the libraries together, prints, and maps errors to
//! exit codes. Nothing else lives here.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "xisuan", version, about = "Estimate, place and simulate large-model work across sites by cost and carbon")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {}
}
