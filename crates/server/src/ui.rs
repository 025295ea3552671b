//! The dashboard: one page and its scripts, compiled into the binary and served by the API
//! server. Its only data source is the HTTP API (with the tenant's token); a Content Security
//! Policy of 'self' means the browser fetches nothing from anywhere else.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// (path under /ui/, content type, bytes).
const FILES: [(&str, &str, &[u8]); 7] = [
    ("index.html", "text/html; charset=utf-8", include_bytes!("../ui/index.html")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../ui/app.js")),
    ("style.css", "text/css; charset=utf-8", include_bytes!("../ui/style.css")),
    ("vendor/d3-array.min.js", "text/javascript; charset=utf-8", include_bytes!("../ui/vendor/d3-array.min.js")),
    ("vendor/d3-geo.min.js", "text/javascript; charset=utf-8", include_bytes!("../ui/vendor/d3-geo.min.js")),
    ("vendor/topojson-client.min.js", "text/javascript; charset=utf-8", include_bytes!("../ui/vendor/topojson-client.min.js")),
    ("vendor/countries-110m.json", "application/json", include_bytes!("../ui/vendor/countries-110m.json")),
];

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn file(path: &str) -> Response {
    match FILES.iter().find(|f| f.0 == path) {
        Some((_, kind, bytes)) => {
            ([(header::CONTENT_TYPE, *kind), (header::CONTENT_SECURITY_POLICY, CSP), (header::CACHE_CONTROL, "no-cache")], *bytes).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such file\n").into_response(),
    }
}

async fn index() -> Response {
    file("index.html")
}

async fn asset(Path(path): Path<String>) -> Response {
    file(&path)
}

/// `/` → the dashboard at `/ui/`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/", get(|| async { Redirect::temporary("/ui/") })).route("/ui/", get(index)).route("/ui/{*path}", get(asset))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every script, stylesheet and data file the page asks for is one the binary serves: the
    /// page can load nothing from elsewhere.
    #[test]
    fn the_page_asks_only_for_what_the_binary_serves() {
        let index = std::str::from_utf8(FILES[0].2).unwrap();
        let app = std::str::from_utf8(FILES[1].2).unwrap();
        let mut wanted = Vec::new();
        for text in [index, app] {
            for attr in ["src=\"", "href=\"", "fetch(\""] {
                for part in text.split(attr).skip(1) {
                    let target = part.split('"').next().unwrap();
                    if !target.starts_with('#') && !target.starts_with('/') && !target.contains("${") {
                        wanted.push(target.to_string());
                    }
                }
            }
        }
        assert!(wanted.len() >= 5, "{wanted:?}");
        for w in &wanted {
            assert!(!w.contains("://"), "{w} is elsewhere");
            assert!(FILES.iter().any(|f| f.0 == w), "{w} is not served");
        }
        assert!(FILES.iter().all(|f| !f.2.is_empty()));
        assert!(CSP.starts_with("default-src 'self'"));
    }
}
