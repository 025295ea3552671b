//! The adapter of xisuan that touches files: it reads catalog overlays, hourly series and
//! cost matrices from disk and hands their text to the pure parsers of `xisuan-catalog`.
//! Nothing here interprets data; it only finds, reads and names files, so that every
//! diagnostic and error can say which file it is about.

// Validation uses negated comparisons (`!(x >= 0.0)`) on purpose: they also reject NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

#[doc(hidden)]
pub mod fuzz;
pub mod scenario;
pub mod simulation;
pub mod trace;
pub mod world;

use anyhow::Context;

/// A mistake in what the user gave (a flag, a file, a value), as opposed to a failure of the
/// program; the binary exits with code 2 for it.
#[derive(Debug)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}
use std::path::{Path, PathBuf};
use xisuan_catalog::series::zone_hint_from_file_name;
use xisuan_catalog::{Catalog, Provider, SeriesKind};

/// Builds the catalog: the built-in default, then the overlay TOML (if any), then the
/// carbon and price series files. A series path may be written `ZONE=PATH` to name the zone
/// of a file that has no zone column; otherwise the zone is taken from a zone column, or
/// guessed from the file name (`DE-LU_2023_hourly.csv`, `fr_ci.csv`).
pub fn load_catalog(overlay: Option<&Path>, carbon_series: &[PathBuf], price_series: &[PathBuf]) -> anyhow::Result<Catalog> {
    let mut catalog = Catalog::builtin();
    if let Some(path) = overlay {
        let text = read(path)?;
        catalog.merge_toml(&text, &display(path))?;
    }
    for spec in carbon_series {
        add_series(&mut catalog, spec, SeriesKind::Carbon)?;
    }
    for spec in price_series {
        add_series(&mut catalog, spec, SeriesKind::Price)?;
    }
    Ok(catalog)
}

/// Reads one series file (see `load_catalog` for the `ZONE=PATH` form) into the catalog.
pub fn add_series(catalog: &mut Catalog, spec: &Path, kind: SeriesKind) -> anyhow::Result<usize> {
    let (zone, path) = split_zone(spec);
    let text = read(&path)?;
    let hint = zone.or_else(|| zone_hint_from_file_name(&path.to_string_lossy()));
    Ok(catalog.add_series_text(&text, &display(&path), kind, hint.as_deref())?)
}

/// Reads a provider's inter-region cost matrix (green-dcc layout) into the catalog.
pub fn add_cost_matrix(catalog: &mut Catalog, path: &Path, provider: Provider) -> anyhow::Result<usize> {
    let text = read(path)?;
    Ok(catalog.load_cost_matrix_csv(&text, &display(path), provider)?)
}

/// Splits `ZONE=PATH` when the part before `=` looks like a zone key and `PATH` is not an
/// existing file as a whole (so a file name that contains `=` still works).
fn split_zone(spec: &Path) -> (Option<String>, PathBuf) {
    split_zone_with(spec, Path::exists)
}

/// `split_zone` with `exists` telling whether a path names a file.
pub(crate) fn split_zone_with(spec: &Path, exists: impl Fn(&Path) -> bool) -> (Option<String>, PathBuf) {
    let s = spec.to_string_lossy();
    if !exists(spec) {
        if let Some((zone, rest)) = s.split_once('=') {
            let looks_like_zone =
                !zone.is_empty() && zone.len() <= 16 && zone.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
            if looks_like_zone {
                return (Some(zone.to_string()), PathBuf::from(rest));
            }
        }
    }
    (None, spec.to_path_buf())
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The name diagnostics use for a file: its path as given.
fn display(path: &Path) -> String {
    path.display().to_string()
}

/// Finds the shared data folder (`shared/data`): `$XISUAN_DATA_DIR` first, then walking up
/// from the current directory and from this crate's source directory looking for
/// `shared/data` or `../shared/data`. No machine's absolute path is assumed.
pub fn shared_data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("XISUAN_DATA_DIR") {
        let p = PathBuf::from(dir);
        if p.is_dir() {
            return Some(p);
        }
    }
    let starts = [std::env::current_dir().ok(), Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")))];
    for start in starts.into_iter().flatten() {
        for dir in start.ancestors() {
            for candidate in [dir.join("shared/data"), dir.join("../shared/data")] {
                if candidate.join("README.md").is_file() {
                    return Some(candidate);
                }
            }
        }
    }
    None
}
