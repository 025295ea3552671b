//! Typed errors of the catalog. Every error that comes from user input names the input
//! (`origin`, usually a file name), the line and the field, so the user can fix it without
//! guessing.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum CatalogError {
    /// A value that parsed but is not acceptable, e.g. a PUE of 0.8.
    #[error("{origin}:{line}: {field}: {message}")]
    Invalid { origin: String, line: usize, field: String, message: String },
    /// Text that does not parse as the format expected (TOML syntax, unknown field, wrong
    /// type, a CSV without the columns we need).
    #[error("{origin}:{line}: {message}")]
    Format { origin: String, line: usize, message: String },
    /// A name that is neither a site id nor a known city.
    #[error("unknown site or city `{name}`{hint}")]
    UnknownSite { name: String, hint: String },
}

impl CatalogError {
    pub(crate) fn unknown_site(name: &str, suggestions: &[String]) -> CatalogError {
        let hint = if suggestions.is_empty() {
            " (list them with `xisuan sites`)".to_string()
        } else {
            format!("; did you mean {}?", suggestions.join(", "))
        };
        CatalogError::UnknownSite { name: name.to_string(), hint }
    }
}

/// 1-based line number of a byte offset in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}
