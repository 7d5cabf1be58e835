//! What cluster mode costs per 1,000 monitors: CPU of an upbot node, and messages
//! through NATS, with every node probing every monitor.
//!
//! Three nodes run in this process twice over the same N TCP monitors (a local
//! listener, the default 5 s interval): first alone (no NATS; each node its own
//! monitors), then as a cluster of sites a, b, c on a NATS server this example starts.
//! The difference in this process's CPU, divided by three, is one node's cost of
//! cluster mode; NATS's messages per second come from its monitoring endpoint
//! (`/varz`: messages in plus out) and its CPU from `/proc`. Then a storm: the target
//! goes away and comes back, so every monitor goes DOWN and UP at every site, and the
//! run reports the messages it took and how long the cluster's verdicts lagged.
//!
//! Run (Linux; needs nats-server 2.10+, found as the tests find it):
//!     cargo run --release --example cluster_cost -- --monitors 1000 --secs 30

#![allow(missing_docs, unreachable_pub)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use upbot::core::{AddRequest, Caller, Command};

struct Args {
    monitors: usize,
    secs: u64,
}

fn parse_args() -> Args {
    let mut a = Args {
        monitors: 1000,
        secs: 30,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(k) = it.next() {
        let v = it.next().and_then(|v| v.parse::<u64>().ok());
        match (k.as_str(), v) {
            ("--monitors", Some(n)) => a.monitors = n as usize,
            ("--secs", Some(n)) => a.secs = n,
            _ => {
                eprintln!("usage: cluster_cost [--monitors N] [--secs S]");
                std::process::exit(2);
            }
        }
    }
    a
}

/// CPU seconds (user + system) of process `pid` so far, from `/proc`.
fn cpu_of(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    #[allow(unsafe_code)]
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz.max(1.0)
}

fn nats_binary() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("UPBOT_TEST_NATS_SERVER") {
        return p.into();
    }
    "/opt/nats-venv/bin/nats-server".into()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A TCP listener on every local address that accepts and closes; aborted to make the
/// target go away.
async fn serve(port: u16) -> tokio::task::JoinHandle<()> {
    let l = tokio::net::TcpListener::bind(("0.0.0.0", port))
        .await
        .expect("bind target");
    tokio::spawn(async move {
        while let Ok((c, _)) = l.accept().await {
            drop(c);
        }
    })
}

async fn node(dir: &std::path::Path, extra: &[(&str, String)]) -> upbot::app::Running {
    let mut vars: HashMap<String, String> = [
        ("UPBOT_DATA_DIR", dir.to_str().expect("utf-8").to_string()),
        ("UPBOT_WS_ADDR", "127.0.0.1:0".into()),
        ("UPBOT_HTTP_ADDR", "127.0.0.1:0".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in extra {
        vars.insert(k.to_string(), v.clone());
    }
    let config = upbot::config::Config::from_lookup(|k| vars.get(k).cloned()).expect("config");
    upbot::app::start(config).await.expect("node starts")
}

/// `n` TCP monitors of the target, each on its own loopback address (127.0.x.y: the
/// dedupe rule is per host and port).
async fn add(running: &upbot::app::Running, port: u16, n: usize) {
    for i in 0..n {
        let req = AddRequest {
            target: format!("127.0.{}.{}:{port}", i / 250, 1 + i % 250),
            ..AddRequest::default()
        };
        let _ = running
            .service
            .execute(&Caller::Operator, Command::Add(Box::new(req)))
            .await;
    }
}

/// Messages in plus out of the NATS server so far.
async fn nats_msgs(monitor_port: u16) -> u64 {
    let v: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{monitor_port}/varz"))
        .await
        .expect("varz")
        .json()
        .await
        .expect("varz json");
    v["in_msgs"].as_u64().unwrap_or(0) + v["out_msgs"].as_u64().unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let a = parse_args();
    let me = std::process::id().to_string();
    let target_port = free_port();
    let mut target = serve(target_port).await;

    // 1. Three nodes alone.
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let mut alone = Vec::new();
    for d in &dirs {
        let r = node(d.path(), &[]).await;
        add(&r, target_port, a.monitors).await;
        alone.push(r);
    }
    println!(
        "alone: 3 nodes × {} monitors; warming up",
        alone[0].service.monitor_count()
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (c0, t0) = (cpu_of(&me), Instant::now());
    tokio::time::sleep(Duration::from_secs(a.secs)).await;
    let alone_cpu = (cpu_of(&me) - c0) / t0.elapsed().as_secs_f64() / 3.0 * 100.0;
    for r in alone {
        r.stop().await.expect("stop");
    }

    // 2. The same as a cluster.
    let (port, mport) = (free_port(), free_port());
    let store = tempfile::tempdir().expect("dir");
    let mut nats = std::process::Command::new(nats_binary())
        .args([
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-m",
            &mport.to_string(),
            "-sd",
        ])
        .arg(store.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start nats-server (set UPBOT_TEST_NATS_SERVER)");
    let nats_pid = nats.id().to_string();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let url = format!("nats://127.0.0.1:{port}");
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let mut nodes = Vec::new();
    for (d, site) in dirs.iter().zip(["a", "b", "c"]) {
        nodes.push(
            node(
                d.path(),
                &[("UPBOT_NATS_URL", url.clone()), ("UPBOT_SITE", site.into())],
            )
            .await,
        );
    }
    add(&nodes[0], target_port, a.monitors).await;
    let n = nodes[0].service.monitor_count();
    let deadline = Instant::now() + Duration::from_secs(60);
    while nodes.iter().any(|r| r.service.monitor_count() < n) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("cluster: 3 nodes, {n} monitors each; warming up");
    tokio::time::sleep(Duration::from_secs(15)).await;
    let (c0, nc0, m0, t0) = (cpu_of(&me), cpu_of(&nats_pid), nats_msgs(mport).await, Instant::now());
    tokio::time::sleep(Duration::from_secs(a.secs)).await;
    let wall = t0.elapsed().as_secs_f64();
    let cluster_cpu = (cpu_of(&me) - c0) / wall / 3.0 * 100.0;
    let nats_cpu = (cpu_of(&nats_pid) - nc0) / wall * 100.0;
    let steady_msgs = (nats_msgs(mport).await - m0) as f64 / wall;

    // 3. A storm: the target goes away (every monitor DOWN at every site), then back.
    let states = |want: upbot::domain::State| {
        nodes[0]
            .service
            .monitor_states()
            .iter()
            .filter(|(_, s)| *s == want)
            .count()
    };
    let (m0, nc0) = (nats_msgs(mport).await, cpu_of(&nats_pid));
    target.abort();
    let _ = (&mut target).await;
    let gone = Instant::now();
    while states(upbot::domain::State::Down) < n && gone.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let down_after = gone.elapsed();
    target = serve(target_port).await;
    let back = Instant::now();
    while states(upbot::domain::State::Up) < n && back.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let up_after = back.elapsed();
    let storm_msgs = nats_msgs(mport).await - m0;
    let storm_nats_cpu = cpu_of(&nats_pid) - nc0;

    let per_k = |x: f64| x * 1000.0 / n as f64;
    println!();
    println!("| figure (per 1,000 monitors, 5 s interval, every site probes every monitor) | value |");
    println!("|---|---|");
    println!("| CPU of one node alone | {:.1} % of a core |", per_k(alone_cpu));
    println!(
        "| CPU of one node in a 3-site cluster | {:.1} % of a core |",
        per_k(cluster_cpu)
    );
    println!(
        "| cluster mode's cost per node | {:+.1} % of a core |",
        per_k(cluster_cpu - alone_cpu)
    );
    println!(
        "| NATS messages per second, steady (3 nodes) | {:.1} |",
        per_k(steady_msgs)
    );
    println!("| NATS server CPU, steady | {:.1} % of a core |", per_k(nats_cpu));
    println!(
        "| storm: every monitor DOWN then UP at 3 sites: NATS messages | {:.0} ({:.1} per monitor and transition) |",
        per_k(storm_msgs as f64),
        storm_msgs as f64 / n as f64 / 2.0
    );
    println!("| storm: NATS server CPU | {:.2} s |", per_k(storm_nats_cpu));
    println!(
        "| storm: target gone → all {n} DOWN in the cluster's verdict | {:.1} s |",
        down_after.as_secs_f64()
    );
    println!(
        "| storm: target back → all {n} UP in the cluster's verdict | {:.1} s |",
        up_after.as_secs_f64()
    );

    for r in nodes {
        r.stop().await.expect("stop");
    }
    let _ = nats.kill();
    let _ = nats.wait();
    target.abort();
}
