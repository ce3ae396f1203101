//! Benchmark baseline: a minimal axum server that answers every GET with the bytes of one file and
//! every POST with the bytes of another, with TCP_NODELAY like OPM. OPM's hot path is compared
//! with this in the same run (`bench/resolve-render.sh`).
//!
//! Usage: `opm-bench-baseline ADDR GET_BODY_FILE POST_BODY_FILE`

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::routing::any;
use axum::serve::ListenerExt;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, get_file, post_file] = args.as_slice() else {
        eprintln!("usage: opm-bench-baseline ADDR GET_BODY_FILE POST_BODY_FILE");
        std::process::exit(2);
    };
    let get_body: Arc<[u8]> = std::fs::read(get_file)?.into();
    let post_body: Arc<[u8]> = std::fs::read(post_file)?.into();
    let app = Router::new().fallback(any(move |method: axum::http::Method| {
        let body = if method == axum::http::Method::POST { post_body.clone() } else { get_body.clone() };
        async move { ([(header::CONTENT_TYPE, "application/json")], body.to_vec()) }
    }));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("baseline listening on http://{}", listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}
