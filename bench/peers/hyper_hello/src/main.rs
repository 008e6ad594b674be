//! hyper_hello: the hyper 0.14 peer of weir's HTTP hello benchmark (bench/http/run.sh).
//!
//!   hyper_hello PORT [WORKERS]     WORKERS: 1 (default) or more
//!
//! Answers every request with `200`, `Content-Type: text/plain`, body `Hello, World!` (hyper adds
//! `content-length` and `date`), HTTP/1.1 keep-alive, pipelining with `http1_pipeline_flush`
//! (the answers to requests that are already buffered go out in one write, as TechEmpower's hyper
//! entry does). Each worker is one OS thread running its own tokio `current_thread` runtime and
//! accepting on its own listener bound to 0.0.0.0:PORT with SO_REUSEPORT (the kernel spreads the
//! connections over the listeners): no work stealing, like a weir shard. All listeners are bound
//! before "ready" is printed. SIGINT or SIGTERM: `_exit(0)` (valgrind then writes its totals).
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};

use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::Http;
use hyper::service::service_fn;
use hyper::{Body, Request, Response};
use socket2::{Domain, Socket, Type};

static HELLO: &[u8] = b"Hello, World!";

async fn hello(_req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let mut res = Response::new(Body::from(HELLO));
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(res)
}

fn listener(port: u16, reuse_port: bool) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())?;
    socket.listen(4096)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

fn worker(std_listener: std::net::TcpListener) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
        let mut http = Http::new();
        http.http1_only(true).http1_keep_alive(true).pipeline_flush(true);
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(_) => continue, // e.g. EMFILE, or a connection reset before it was accepted
            };
            let _ = stream.set_nodelay(true);
            let conn = http.serve_connection(stream, service_fn(hello));
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
}

extern "C" fn on_signal(_: libc::c_int) {
    unsafe { libc::_exit(0) }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: Option<u16> = args.get(1).and_then(|s| s.parse().ok());
    let workers: Option<usize> = match args.get(2) {
        Some(s) => s.parse().ok().filter(|&n| n >= 1),
        None => Some(1),
    };
    let (port, workers) = match (port, workers, args.len() <= 3) {
        (Some(p), Some(w), true) => (p, w),
        _ => {
            eprintln!("usage: hyper_hello PORT [WORKERS]");
            std::process::exit(2);
        }
    };
    unsafe {
        libc::signal(libc::SIGINT, on_signal as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as libc::sighandler_t);
    }
    let mut listeners = Vec::new();
    for _ in 0..workers {
        match listener(port, workers > 1) {
            Ok(l) => listeners.push(l),
            Err(e) => {
                eprintln!("hyper_hello: port {}: {}", port, e);
                std::process::exit(1);
            }
        }
    }
    println!("ready");
    let last = listeners.pop().unwrap();
    let threads: Vec<_> = listeners
        .into_iter()
        .map(|l| std::thread::spawn(move || worker(l)))
        .collect();
    worker(last);
    for t in threads {
        let _ = t.join();
    }
}
