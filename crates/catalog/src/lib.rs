//! The site catalog and network model of xisuan: which data centres exist (the ten
//! "East Data, West Computing" clusters and more than a hundred cloud regions), what their
//! electricity costs and emits, how far apart they are, and how long and how much it takes to
//! move data between them.
//!
//! This crate is pure: it parses TOML and CSV *text* into validated types and holds the
//! built-in default catalog, typed in with a source and a confidence for every number. It
//! reads no file, opens no socket, asks no clock and keeps no global state; `xisuan-io`
//! reads files and hands their text here. Partial data never fails silently: it yields a
//! `Diagnostic` that the caller shows.

pub mod builtin;
mod catalog;
pub mod error;
pub mod geo;
pub mod hourly;
pub mod ids;
pub mod network;
pub mod overlay;
pub mod series;
pub mod site;

pub use catalog::{Catalog, Resolved};
pub use error::CatalogError;
pub use ids::{Provider, PueKind, Role, SiteId};
pub use network::{Link, Network, PricedOption, PricingBasis, PricingChoice, Transfer, TransferOptions};
pub use series::{HourlySeries, SeriesKind, SeriesSet};
pub use site::{Dispatch, Site, Storage, UserRegion};
