//! taskd_rust: the Rust peer of weir's taskd benchmark (bench/taskd/run.sh, issue 6).
//!
//!   taskd_rust [--addr 127.0.0.1:3000]
//!
//! The TaskScheduler of the "Alan builds a task scheduler" status quo story as the story ends
//! up in Rust: a hyper 0.14 `Server` (`make_service_fn` / `service_fn`,
//! `with_graceful_shutdown`), a tokio `current_thread` runtime, a bounded `tokio::sync::mpsc`
//! task queue (1024) read by one applier task, a `tokio::sync::oneshot` per request, the notifier
//! a `HashMap<u64, oneshot::Sender<String>>` behind a `std::sync::Mutex` in an `Arc`, the body
//! decoded by serde_json, 5 s request timeouts with `tokio::time::timeout`. It answers as the Go
//! peer (bench/peers/taskd_go) does:
//!
//!   POST /echo {"kind":"create","message":"hello"}  ->  200 text/plain  SUCCESS create "hello"
//!
//! Other methods on /echo: 405; other paths: 404. A body that is not JSON, or an unknown kind,
//! is answered 200 with an error text, as Go's. The message is quoted with `{:?}` (Go uses %q;
//! the two differ only for control and non-printable characters, see bench/peers/README.md).
//! Prints "listening on ADDR" once listening; SIGINT or SIGTERM: graceful shutdown (in-flight
//! requests finish), then the applier is stopped, exit 0. No per-request logging.
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Error, ErrorKind};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Method, Request, Response, Server, StatusCode};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;

const QUEUE_CAPACITY: usize = 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

// ---- request ID generator (etcd's pkg/idutil)

pub struct Generator {
    prefix: u64,
    suffix: AtomicU64,
}

impl Generator {
    /// The member ID in the top 16 bits, the low 40 bits of the start time in milliseconds
    /// shifted by 8 as the first suffix, as etcd's idutil.
    pub fn new(member_id: u64, now: Duration) -> Self {
        let unix_ms = now.as_millis() as u64;
        Self {
            prefix: member_id << (8 * 6),
            suffix: AtomicU64::new(((u64::MAX >> 24) & unix_ms) << 8),
        }
    }

    pub fn next(&self) -> u64 {
        let suffix = self.suffix.fetch_add(1, Ordering::Relaxed);
        self.prefix | (suffix & (u64::MAX >> 16))
    }
}

// ---- notifier

pub struct Notifier {
    requests: Mutex<HashMap<u64, oneshot::Sender<String>>>,
}

impl Notifier {
    pub fn new() -> Self {
        Self {
            requests: Mutex::new(HashMap::new()),
        }
    }

    pub fn register(&self, id: u64) -> io::Result<oneshot::Receiver<String>> {
        let mut requests = self.requests.lock().unwrap();
        if requests.contains_key(&id) {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("dup id {:x}", id),
            ));
        }
        let (tx, rx) = oneshot::channel();
        requests.insert(id, tx);
        Ok(rx)
    }

    pub fn trigger(&self, id: u64, x: String) -> io::Result<()> {
        let tx = match self.requests.lock().unwrap().remove(&id) {
            Some(tx) => tx,
            None => {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("request ID {} not found", id),
                ))
            }
        };
        // As Go's buffered channel: the message is left even if nobody waits for it anymore.
        let _ = tx.send(x);
        Ok(())
    }
}

// ---- echo state machine

#[derive(Debug, Default, Deserialize)]
pub struct EchoRequest {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub message: String,
}

pub struct Manager {
    mu: Mutex<()>,
}

impl Manager {
    pub fn new() -> Self {
        Self { mu: Mutex::new(()) }
    }

    pub fn apply(&self, req: &EchoRequest) -> io::Result<String> {
        let _mu = self.mu.lock().unwrap();
        match req.kind.as_str() {
            "create" => Ok(format!("SUCCESS create {:?}", req.message)),
            "delete" => Ok(format!("SUCCESS delete {:?}", req.message)),
            // Go: fmt.Errorf("unknown request %q", req) with req a *EchoRequest.
            _ => Err(Error::new(
                ErrorKind::InvalidInput,
                format!("unknown request &{{{:?} {:?}}}", req.kind, req.message),
            )),
        }
    }
}

// ---- applier (task queue + one applier task)

pub struct ApplyRequest {
    pub echo_request: Option<EchoRequest>,
}

type RequestTuple = (u64, ApplyRequest);

pub struct Applier {
    request_timeout: Duration,
    request_id_generator: Generator,
    notifier: Arc<Notifier>,
    request_tx: mpsc::Sender<RequestTuple>,
    // Taken by start().
    request_rx: Mutex<Option<mpsc::Receiver<RequestTuple>>>,
    stop_tx: mpsc::Sender<()>,
    stop_rx: Mutex<Option<mpsc::Receiver<()>>>,
    done_tx: mpsc::Sender<()>,
    done_rx: tokio::sync::Mutex<mpsc::Receiver<()>>,
    echo_manager: Arc<Manager>,
}

impl Applier {
    pub fn new(request_timeout: Duration) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        // A random member ID without the rand crate: std's randomly keyed SipHash.
        let member_id = {
            let mut h = RandomState::new().build_hasher();
            h.write_u128(now.as_nanos());
            h.finish()
        };
        let (request_tx, request_rx) = mpsc::channel(QUEUE_CAPACITY);
        let (stop_tx, stop_rx) = mpsc::channel(1);
        let (done_tx, done_rx) = mpsc::channel(1);
        Self {
            request_timeout,
            request_id_generator: Generator::new(member_id, now),
            notifier: Arc::new(Notifier::new()),
            request_tx,
            request_rx: Mutex::new(Some(request_rx)),
            stop_tx,
            stop_rx: Mutex::new(Some(stop_rx)),
            done_tx,
            done_rx: tokio::sync::Mutex::new(done_rx),
            echo_manager: Arc::new(Manager::new()),
        }
    }

    pub fn start(&self) {
        let request_rx = self
            .request_rx
            .lock()
            .unwrap()
            .take()
            .expect("started twice");
        let stop_rx = self.stop_rx.lock().unwrap().take().expect("started twice");
        tokio::spawn(apply_async(
            self.notifier.clone(),
            request_rx,
            stop_rx,
            self.done_tx.clone(),
            self.echo_manager.clone(),
        ));
    }

    pub async fn stop(&self) -> io::Result<()> {
        match timeout(Duration::from_secs(5), self.stop_tx.send(())).await {
            Ok(Ok(())) => {}
            _ => {
                return Err(Error::new(
                    ErrorKind::TimedOut,
                    "took too long to signal stop",
                ))
            }
        }
        match timeout(Duration::from_secs(5), self.done_rx.lock().await.recv()).await {
            Ok(Some(())) => Ok(()),
            _ => Err(Error::new(
                ErrorKind::TimedOut,
                "took too long to receive done",
            )),
        }
    }

    pub async fn apply(&self, req: ApplyRequest) -> io::Result<String> {
        let req_id = self.request_id_generator.next();
        let resp_rx = self.notifier.register(req_id)?;

        match timeout(self.request_timeout, self.request_tx.send((req_id, req))).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => {
                self.notifier
                    .trigger(req_id, format!("failed to schedule {} in time", req_id))?;
            }
        }

        match timeout(self.request_timeout, resp_rx).await {
            Ok(Ok(msg)) => Ok(msg),
            Ok(Err(e)) => Err(Error::new(
                ErrorKind::Other,
                format!("failed to apply {}", e),
            )),
            Err(_) => Err(Error::new(ErrorKind::TimedOut, "apply timeout")),
        }
    }
}

async fn apply_async(
    notifier: Arc<Notifier>,
    mut request_rx: mpsc::Receiver<RequestTuple>,
    mut stop_rx: mpsc::Receiver<()>,
    done_tx: mpsc::Sender<()>,
    echo_manager: Arc<Manager>,
) {
    loop {
        tokio::select! {
            tup = request_rx.recv() => {
                let (req_id, req) = match tup {
                    Some(tup) => tup,
                    None => return,
                };
                if let Some(echo_request) = &req.echo_request {
                    let rs = match echo_manager.apply(echo_request) {
                        Ok(rs) => rs,
                        Err(e) => format!("failed to apply {}", e),
                    };
                    if let Err(e) = notifier.trigger(req_id, rs) {
                        print!("failed to trigger {}", e);
                    }
                }
            }
            _ = stop_rx.recv() => {
                let _ = done_tx.send(()).await;
                return;
            }
        }
    }
}

// ---- HTTP handler

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_PLAIN));
    resp
}

/// http.Error's answer: the text and a newline, plus X-Content-Type-Options: nosniff.
fn http_error(status: StatusCode, msg: &str) -> Response<Body> {
    let mut resp = text(status, format!("{}\n", msg));
    resp.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

async fn handle_request(
    req: Request<Body>,
    applier: Arc<Applier>,
) -> Result<Response<Body>, Infallible> {
    if req.uri().path() != "/echo" {
        return Ok(http_error(StatusCode::NOT_FOUND, "404 page not found"));
    }
    if req.method() != Method::POST {
        return Ok(http_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
        ));
    }
    let body = match hyper::body::to_bytes(req.into_body()).await {
        Ok(body) => body,
        Err(e) => {
            return Ok(text(
                StatusCode::OK,
                format!("failed to read request {}", e),
            ))
        }
    };
    // The first JSON value of the body, as Go's json.NewDecoder(req.Body).Decode (whatever
    // follows it is not read; an empty body is "EOF").
    let echo_request: EchoRequest = match serde_json::Deserializer::from_slice(&body)
        .into_iter::<EchoRequest>()
        .next()
    {
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            return Ok(text(
                StatusCode::OK,
                format!("failed to read request {}", e),
            ))
        }
        None => {
            return Ok(text(
                StatusCode::OK,
                "failed to read request EOF".to_string(),
            ))
        }
    };
    let resp = match applier
        .apply(ApplyRequest {
            echo_request: Some(echo_request),
        })
        .await
    {
        Ok(s) => text(StatusCode::OK, s),
        Err(e) => text(StatusCode::OK, format!("failed to apply request {}", e)),
    };
    Ok(resp)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

fn usage() -> ! {
    eprintln!("usage: taskd_rust [--addr HOST:PORT]   (default 127.0.0.1:3000)");
    std::process::exit(2);
}

fn parse_args() -> SocketAddr {
    let mut addr = String::from("127.0.0.1:3000");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--addr" || a == "-addr" {
            addr = args.next().unwrap_or_else(|| usage());
        } else if let Some(v) = a
            .strip_prefix("--addr=")
            .or_else(|| a.strip_prefix("-addr="))
        {
            addr = v.to_string();
        } else {
            usage();
        }
    }
    addr.parse().unwrap_or_else(|_| {
        eprintln!("taskd_rust: bad address {}", addr);
        std::process::exit(2);
    })
}

async fn serve(addr: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let applier = Arc::new(Applier::new(REQUEST_TIMEOUT));
    applier.start();

    let svc = {
        let applier = applier.clone();
        make_service_fn(move |_conn| {
            let applier = applier.clone();
            async move {
                Ok::<_, Infallible>(service_fn(move |req: Request<Body>| {
                    handle_request(req, applier.clone())
                }))
            }
        })
    };

    // TCP_NODELAY as Go's net/http (the story's hyper server leaves it off).
    let builder = Server::try_bind(&addr)?.tcp_nodelay(true).http1_only(true);
    let server = builder.serve(svc);
    println!("listening on {}", server.local_addr());
    let server = server.with_graceful_shutdown(shutdown_signal());
    if let Err(e) = server.await {
        eprintln!("taskd_rust: server error: {}", e);
    }

    applier.stop().await?;
    Ok(())
}

fn main() {
    let addr = parse_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(serve(addr)) {
        eprintln!("taskd_rust: {}", e);
        std::process::exit(1);
    }
}
