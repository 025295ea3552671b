//! The shared vocabulary of xisuan: physical and money units as newtypes, the provenance
//! (source and confidence) that every data value carries, and diagnostics for partial data.
//!
//! This crate knows nothing about files, clocks, solvers or the command line. Types derive
//! `serde::Serialize` so that the edge can print them; no crate of the core reads or writes JSON.

pub mod forecast;
pub mod limits;
pub mod provenance;
pub mod units;

pub use provenance::{Confidence, Diagnostic, Severity, Sourced};
pub use units::*;
