//! The estimator: what it takes to train, fine-tune or serve a model on given hardware, and
//! what it costs and emits, with every assumption printed beside the answer.
//!
//! Pure: no I/O, no clock, no randomness. Inputs are validated values with their provenance
//! (`Sourced`); outputs are values (`TrainEstimate`, `ServeEstimate`, `Choice`) that the edge
//! prints. This crate knows nothing about flags, files or JSON.

// Validation uses negated comparisons (`!(x >= 0.0)`) on purpose: they also reject NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod arch;
pub mod choose;
pub mod hardware;
pub mod serve;
pub mod train;

pub use arch::Architecture;
pub use hardware::{find as find_accelerator, Accelerator, ACCELERATORS};
pub use serve::{estimate_serve, Demand, ServeEstimate, ServeInput};
pub use train::{estimate_train, CostModel, Method, TrainEstimate, TrainInput, TrainPrecision};

use serde::Serialize;
use xisuan_model::{Confidence, Sourced};

/// A value the answer depends on, printed with the answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assumption {
    pub name: String,
    pub value: String,
    pub unit: String,
    pub source: String,
    pub confidence: Confidence,
}

impl Assumption {
    pub fn new(name: &str, value: &str, unit: &str, source: &str, confidence: Confidence) -> Self {
        Assumption { name: name.into(), value: value.into(), unit: unit.into(), source: source.into(), confidence }
    }
    pub fn num(name: &str, value: f64, unit: &str, source: &str, confidence: Confidence) -> Self {
        Assumption::new(name, &xisuan_model::units::human(value), unit, source, confidence)
    }
    pub fn sourced(name: &str, v: &Sourced<f64>, unit: &str) -> Self {
        Assumption::num(name, v.value, unit, &v.source, v.confidence)
    }
}

/// An input the estimator cannot use, naming the field (the command-line flag without `--`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("--{field}: {message}")]
pub struct InputError {
    pub field: String,
    pub message: String,
}

impl InputError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        InputError { field: field.into(), message: message.into() }
    }
}
