//! Where a number comes from and how far to trust it, and diagnostics for partial data.
//!
//! The brief's rule is that every data value carries its source and confidence. `Sourced<T>`
//! is that pairing; `Diagnostic` is how a part of the core reports data it could not use
//! without failing the whole answer.

use serde::Serialize;
use std::fmt;

/// How far a value can be trusted, in the vocabulary of `../shared/data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Read in a primary source (datasheet, paper table, official statistic).
    High,
    /// A secondary source, or a primary one not re-checked.
    Medium,
    /// Press or analyst reports, or recalled values; verify before relying on them.
    Low,
    /// Computed by a model (e.g. latency from great-circle distance), not measured.
    Estimated,
    /// A placeholder so that examples run (e.g. default GPU capacity of a site).
    Illustrative,
    /// Given by the user on the command line or in a file.
    User,
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Confidence::High => "high",
            Confidence::Medium => "medium",
            Confidence::Low => "low",
            Confidence::Estimated => "estimated",
            Confidence::Illustrative => "illustrative",
            Confidence::User => "user",
        })
    }
}

/// A value with its source and confidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    pub source: String,
    pub confidence: Confidence,
}

impl<T> Sourced<T> {
    pub fn new(value: T, source: impl Into<String>, confidence: Confidence) -> Self {
        Sourced { value, source: source.into(), confidence }
    }
    /// A value the user supplied (a flag or a file), which replaces a default.
    pub fn user(value: T, what: impl Into<String>) -> Self {
        Sourced::new(value, what, Confidence::User)
    }
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Sourced<U> {
        Sourced { value: f(self.value), source: self.source, confidence: self.confidence }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something to know (e.g. only an annual grid factor exists for this site).
    Info,
    /// Data was missing or odd and a stated fallback was used.
    Warning,
    /// Input was rejected; the result does not include it.
    Error,
}

/// A note attached to a result about data that was partial, odd or rejected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Where: a file and line, a site id, a job id.
    pub location: String,
    pub message: String,
}

impl Diagnostic {
    pub fn info(location: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Info, location: location.into(), message: message.into() }
    }
    pub fn warning(location: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, location: location.into(), message: message.into() }
    }
    pub fn error(location: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, location: location.into(), message: message.into() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Info => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{sev}: {}: {}", self.location, self.message)
    }
}
