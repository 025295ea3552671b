//! What the benches share: a real `xisuan server` on a thread of its own.

use std::time::{Duration, Instant};
use xisuan_server::client::Client;

/// Starts `xisuan server` with `config` on a free loopback port (its `listen` is set here) and
/// the admin token `bench-admin`, and waits until it is ready. Returns its URL and the admin's
/// client.
pub fn start(config: xisuan_server::Config) -> (String, Client) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = xisuan_server::Config { listen: format!("127.0.0.1:{port}"), ..config };
    std::env::set_var("XISUAN_ADMIN_TOKEN", "bench-admin");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        rt.block_on(xisuan_server::serve(config)).unwrap();
    });
    let url = format!("http://127.0.0.1:{port}");
    let admin = Client::new(&url, Some("bench-admin".into()));
    let t0 = Instant::now();
    while admin.get("/readyz").is_err() {
        assert!(t0.elapsed().as_secs() < 60, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (url, admin)
}
