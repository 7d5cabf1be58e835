//! HTTP monitor benchmark: N http (or https) monitors at one interval against a local
//! server, each monitor a distinct site (its own loopback address 127.4.x.y, so its
//! own connection pool entry), driven through the real app; prints upbot's CPU, peak
//! RSS, open sockets, probes/s, success and schedule lag over a steady window, and the
//! server's CPU apart.
//!
//! Run (Linux, no root needed; binds N listeners on 127.4.0.0/16 in a child process):
//!     cargo run --release --example http_scale -- --http 1000 --interval 10 --secs 60
//!     cargo run --release --example http_scale -- --http 1000 --interval 10 --secs 60 --https
//!
//! With `--https` each address has its own certificate from a CA made at start,
//! trusted through `UPBOT_EXTRA_CA_FILE`, as an operator with a private CA would.

#![allow(missing_docs, unreachable_pub)]

#[path = "support/mod.rs"]
mod support;

/// The server binary's allocator, so the figures are the binary's.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::io::{BufRead, Write};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::rusage;
use upbot::core::{AddRequest, Caller, Command as Cmd};
use upbot::domain::State;

const PORT: u16 = 18443;

struct Args {
    http: usize,
    interval: u64,
    secs: u64,
    https: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        http: 1000,
        interval: 10,
        secs: 60,
        https: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(k) = it.next() {
        let mut num = || it.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or_else(|| usage());
        match k.as_str() {
            "--http" => a.http = num() as usize,
            "--interval" => a.interval = num().max(1),
            "--secs" => a.secs = num(),
            "--https" => a.https = true,
            _ => usage(),
        }
    }
    a
}

fn usage() -> ! {
    eprintln!("usage: http_scale [--http N] [--interval SECS] [--secs SECS] [--https]");
    std::process::exit(2)
}

fn addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 4, 0, 1)) + i as u32)
}

/// Current RSS in KiB (from /proc/self/statm).
fn rss_now_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

/// Open sockets of this process (fds that are sockets).
fn sockets() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .map(|l| l.to_string_lossy().starts_with("socket:"))
                        .unwrap_or(false)
                })
                .count()
        })
        .unwrap_or(0)
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--serve") {
        return serve(&argv[2..]);
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(bench(parse_args()));
}

/// The server: `--serve N [CA_PEM_OUT]`, one listener per address, answers `ok` with
/// keep-alive; prints `ready`, and its CPU seconds when its stdin closes. With a path
/// it serves TLS: it makes a CA (written there for upbot to trust) and one certificate
/// per address, as N real sites would have.
fn serve(args: &[String]) {
    let n: usize = args.first().and_then(|v| v.parse().ok()).unwrap_or(0);
    let ca = args.get(1).map(|out| {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = p.self_signed(&key).expect("CA");
        std::fs::write(out, cert.pem()).expect("write CA");
        (cert, key)
    });
    let tls = |i: usize| {
        let (ca, ca_key) = ca.as_ref()?;
        let key = rcgen::KeyPair::generate().expect("key");
        let leaf = rcgen::CertificateParams::new(vec![addr(i).to_string()])
            .expect("params")
            .signed_by(&key, ca, ca_key)
            .expect("leaf");
        let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut c = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], der)
            .expect("server cert");
        c.alpn_protocols = vec![b"http/1.1".to_vec()];
        Some(tokio_rustls::TlsAcceptor::from(Arc::new(c)))
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        for i in 0..n {
            let l = tokio::net::TcpListener::bind((addr(i), PORT)).await.expect("bind");
            let tls = tls(i);
            tokio::spawn(async move {
                while let Ok((tcp, _)) = l.accept().await {
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        let svc = hyper::service::service_fn(|_req| async {
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(
                                bytes::Bytes::from_static(b"ok"),
                            )))
                        });
                        let http = hyper::server::conn::http1::Builder::new();
                        match tls {
                            Some(a) => {
                                if let Ok(s) = a.accept(tcp).await {
                                    let _ = http.serve_connection(hyper_util::rt::TokioIo::new(s), svc).await;
                                }
                            }
                            None => {
                                let _ = http.serve_connection(hyper_util::rt::TokioIo::new(tcp), svc).await;
                            }
                        }
                    });
                }
            });
        }
        println!("ready");
        let _ = std::io::stdout().flush();
        let mut buf = String::new();
        let _ =
            tokio::io::AsyncBufReadExt::read_line(&mut tokio::io::BufReader::new(tokio::io::stdin()), &mut buf).await;
        println!("cpu {:.3}", rusage(libc::RUSAGE_SELF).0);
    });
}

async fn bench(a: Args) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut vars: std::collections::HashMap<&str, String> = [
        ("UPBOT_DATA_DIR", dir.path().join("data").display().to_string()),
        ("UPBOT_WS_ADDR", "127.0.0.1:0".into()),
        ("UPBOT_HTTP_ADDR", "127.0.0.1:0".into()),
    ]
    .into_iter()
    .collect();
    let exe = std::env::current_exe().expect("own path");
    let mut server = Command::new(exe);
    server.arg("--serve").arg(a.http.to_string());
    if a.https {
        let ca_pem = dir.path().join("ca.pem");
        server.arg(&ca_pem);
        vars.insert("UPBOT_EXTRA_CA_FILE", ca_pem.display().to_string());
    }
    let mut server = server
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("server");
    let mut server_out = std::io::BufReader::new(server.stdout.take().expect("stdout"));
    let mut line = String::new();
    server_out.read_line(&mut line).expect("server ready");

    let config = upbot::config::Config::from_lookup(|k| vars.get(k).cloned()).expect("config");
    // The binary's log output, spans included (`RUST_LOG=off` measures without them).
    upbot::app::init_tracing();
    let running = upbot::app::start(config).await.expect("app starts");
    let rss_idle = rss_now_kib();
    let socks_idle = sockets();
    let mut states = running.service.events().subscribe().state;
    let scheme = if a.https { "https" } else { "http" };
    let t_add = Instant::now();
    let mut adds = Vec::new();
    for i in 0..a.http {
        let svc = running.service.clone();
        let req = AddRequest {
            target: format!("{scheme}://{}:{PORT}/health", addr(i)),
            keyword: Some("ok".into()),
            interval: Some(Duration::from_secs(a.interval)),
            ..AddRequest::default()
        };
        adds.push(tokio::spawn(async move {
            svc.execute(&Caller::Operator, Cmd::Add(Box::new(req)))
                .await
                .expect("add")
        }));
    }
    for h in adds {
        h.await.expect("add task");
    }
    println!(
        "added {} {scheme} monitors in {:.1} s",
        a.http,
        t_add.elapsed().as_secs_f64()
    );
    let deadline = Instant::now() + Duration::from_secs(a.interval * 4 + 10);
    let mut up = 0;
    while up < a.http && Instant::now() < deadline {
        if let Ok(Ok(ev)) = tokio::time::timeout(Duration::from_secs(1), states.recv()).await {
            if ev.to == State::Up {
                up += 1;
            }
        }
    }
    println!("{up}/{} monitors UP after warm-up", a.http);

    running.scheduler.reset_metrics();
    while states.try_recv().is_ok() {}
    let (c0, _) = rusage(libc::RUSAGE_SELF);
    let t0 = Instant::now();
    let mut socks_max = 0;
    let mut rss_max = 0;
    while t0.elapsed() < Duration::from_secs(a.secs) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        socks_max = socks_max.max(sockets());
        rss_max = rss_max.max(rss_now_kib());
    }
    let wall = t0.elapsed().as_secs_f64();
    let (c1, peak_kib) = rusage(libc::RUSAGE_SELF);
    let m = running.scheduler.metrics();
    let mut changes = 0;
    while states.try_recv().is_ok() {
        changes += 1;
    }
    let socks_end = sockets();
    running.stop().await.expect("stop");
    drop(server.stdin.take());
    line.clear();
    let _ = server_out.read_line(&mut line);
    let server_cpu: f64 = line
        .trim()
        .strip_prefix("cpu ")
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    let _ = server.wait();

    let total = (m.probes_ok + m.probes_failed) as f64;
    let cpu = (c1 - c0) / wall * 100.0;
    println!();
    println!(
        "upbot http benchmark: {} {scheme} monitors (distinct addresses), every {} s, {} s steady window, {} cores",
        a.http,
        a.interval,
        a.secs,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "CPU {cpu:.2} % of one core ({:.0} µs per probe); {:.1} probes/s; success {:.3} %; state changes {changes}",
        (c1 - c0) * 1e6 / total.max(1.0),
        total / wall,
        if total > 0.0 {
            m.probes_ok as f64 * 100.0 / total
        } else {
            0.0
        },
    );
    println!(
        "schedule lag p50 / p99 / max: {:.2?} / {:.2?} / {:.2?}",
        m.lag_p50, m.lag_p99, m.lag_max
    );
    println!(
        "RSS: {:.1} MiB idle before the adds, {:.1} MiB max in the window, {:.1} MiB peak over the run ({:.1} KiB per monitor over idle)",
        rss_idle as f64 / 1024.0,
        rss_max as f64 / 1024.0,
        peak_kib as f64 / 1024.0,
        rss_max.saturating_sub(rss_idle) as f64 / a.http.max(1) as f64
    );
    println!("open sockets: {socks_idle} before the adds, {socks_max} max in the window, {socks_end} at its end");
    println!("server process: {server_cpu:.2} s CPU over the whole run (not counted above)");
}
