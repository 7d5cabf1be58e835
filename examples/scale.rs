//! Scale benchmark: N ICMP monitors on distinct 127.x addresses plus M TCP monitors,
//! all at a 1 s interval, driven through the real app (command core, store, scheduler,
//! state machine, event stream), measured with getrusage; `fping` on the same targets
//! in the same run for a CPU-per-probe ratio; then the same run with a share of the
//! ICMP targets black-holed by an nftables rule (no false verdicts allowed); then a
//! restart that must answer `list` over the WS API quickly.
//!
//! Run (root, Linux; needs `ip`, `nft`, `fping`):
//!     cargo run --release --example scale -- --icmp 10000 --tcp 1000 --secs 20
//!
//! It re-executes itself inside a fresh network namespace, so probes and the drop rule
//! touch only that namespace's loopback, and deletes the namespace at the end.

#![allow(missing_docs, unreachable_pub)]

#[path = "support/mod.rs"]
mod support;

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use support::rusage;
use upbot::core::{AddRequest, Caller, Command as Cmd};
use upbot::domain::{Kind, State};

struct Args {
    icmp: usize,
    tcp: usize,
    secs: u64,
    blackhole_pct: usize,
    fping: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        icmp: 10_000,
        tcp: 1_000,
        secs: 20,
        blackhole_pct: 20,
        fping: true,
    };
    let argv: Vec<String> = std::env::args().skip(1).filter(|s| s != "--inner").collect();
    let mut it = argv.iter();
    while let Some(k) = it.next() {
        let mut num = || it.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or_else(|| usage());
        match k.as_str() {
            "--icmp" => a.icmp = num() as usize,
            "--tcp" => a.tcp = num() as usize,
            "--secs" => a.secs = num(),
            "--blackhole-pct" => a.blackhole_pct = num() as usize,
            "--no-fping" => a.fping = false,
            "--listen" => {}
            _ => usage(),
        }
    }
    a
}

fn usage() -> ! {
    eprintln!("usage: scale [--icmp N] [--tcp M] [--secs S] [--blackhole-pct P] [--no-fping]");
    std::process::exit(2)
}

fn sh(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn target(i: usize) -> Ipv4Addr {
    // 127.1.0.1, 127.1.0.2, …: distinct loopback addresses, all answered by the kernel.
    Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 1, 0, 1)) + i as u32)
}

const LISTEN_PORTS: [u16; 4] = [18081, 18082, 18083, 18084];

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.iter().any(|a| a == "--listen") {
        return listen();
    }
    if argv.iter().any(|a| a == "--inner") {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        return rt.block_on(inner(parse_args()));
    }
    outer(&argv);
}

/// Creates the namespace, re-runs itself inside it, and always deletes it.
fn outer(argv: &[String]) {
    let ns = format!("upbot-bench-{}", std::process::id());
    if !sh(&format!("ip netns add {ns} && ip -n {ns} link set lo up")) {
        eprintln!("scale: cannot create network namespace {ns} (needs root and iproute2)");
        std::process::exit(1);
    }
    let exe = std::env::current_exe().expect("own path");
    let status = Command::new("ip")
        .args(["netns", "exec", &ns])
        .arg(exe)
        .arg("--inner")
        .args(&argv[1..])
        .status();
    sh(&format!("ip netns pids {ns} | xargs -r kill -9; ip netns del {ns}"));
    std::process::exit(status.map(|s| s.code().unwrap_or(1)).unwrap_or(1));
}

/// TCP listeners in a separate process, so their accept cost is not charged to upbot.
fn listen() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for port in LISTEN_PORTS {
            let l = tokio::net::TcpListener::bind(("0.0.0.0", port))
                .await
                .expect("bind listener");
            tokio::spawn(async move {
                loop {
                    if let Ok((s, _)) = l.accept().await {
                        drop(s);
                    }
                }
            });
        }
        println!("ready");
        // Ends when the parent closes our stdin.
        let mut buf = String::new();
        let _ =
            tokio::io::AsyncBufReadExt::read_line(&mut tokio::io::BufReader::new(tokio::io::stdin()), &mut buf).await;
    });
}

struct Phase {
    name: String,
    cpu_pct: f64,
    probes_per_s: f64,
    ok_pct: f64,
    lag_p50: Duration,
    lag_p99: Duration,
    lag_max: Duration,
    false_verdicts: usize,
}

async fn measure(
    name: &str,
    running: &upbot::app::Running,
    secs: u64,
    states: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<upbot::events::StateEvent>>,
) -> Phase {
    running.scheduler.reset_metrics();
    while states.try_recv().is_ok() {}
    let (c0, _) = rusage(libc::RUSAGE_SELF);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let wall = t0.elapsed().as_secs_f64();
    let (c1, _) = rusage(libc::RUSAGE_SELF);
    let m = running.scheduler.metrics();
    let mut false_verdicts = 0;
    // In a steady window nothing may change state: any change is a false verdict.
    while states.try_recv().is_ok() {
        false_verdicts += 1;
    }
    let total = (m.probes_ok + m.probes_failed) as f64;
    Phase {
        name: name.to_string(),
        cpu_pct: (c1 - c0) / wall * 100.0,
        probes_per_s: total / wall,
        ok_pct: if total > 0.0 {
            m.probes_ok as f64 * 100.0 / total
        } else {
            0.0
        },
        lag_p50: m.lag_p50,
        lag_p99: m.lag_p99,
        lag_max: m.lag_max,
        false_verdicts,
    }
}

async fn inner(a: Args) {
    let exe = std::env::current_exe().expect("own path");
    let mut listener = Command::new(exe)
        .arg("--listen")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("listener");
    {
        use std::io::BufRead;
        let mut line = String::new();
        let out = listener.stdout.take().expect("stdout");
        std::io::BufReader::new(out)
            .read_line(&mut line)
            .expect("listener ready");
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let vars: std::collections::HashMap<&str, String> = [
        ("UPBOT_DATA_DIR", dir.path().join("data").display().to_string()),
        ("UPBOT_WS_ADDR", "127.0.0.1:0".into()),
        ("UPBOT_HTTP_ADDR", "127.0.0.1:0".into()),
    ]
    .into_iter()
    .collect();
    let config = upbot::config::Config::from_lookup(|k| vars.get(k).cloned()).expect("config");
    let running = upbot::app::start(config.clone()).await.expect("app starts");
    let mut states = running.service.events().subscribe().state;
    // A subscriber on the probe stream too, as a WS `watch` client would be.
    let mut probes = running.service.events().subscribe().probe;
    // It drains in batches, as a busy WS session does, rather than being woken for
    // each of ~10k events a second.
    let probe_reader = tokio::spawn(async move {
        let mut n = 0u64;
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            loop {
                match probes.try_recv() {
                    Ok(_) => n += 1,
                    Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::TryRecvError::Empty) => break,
                    Err(_) => return n,
                }
            }
        }
    });
    let t_add = Instant::now();
    let add = |target: String, kind: Kind| {
        let svc = running.service.clone();
        async move {
            let req = AddRequest {
                target,
                kind: Some(kind),
                interval: Some(Duration::from_secs(1)),
                timeout: Some(Duration::from_millis(900)),
                ..AddRequest::default()
            };
            svc.execute(&Caller::Operator, Cmd::Add(Box::new(req)))
                .await
                .expect("add")
        }
    };
    let mut adds = Vec::new();
    for i in 0..a.icmp {
        adds.push(tokio::spawn(add(target(i).to_string(), Kind::Ping)));
    }
    for i in 0..a.tcp {
        // Distinct targets 127.3.x.y; the listeners bind 0.0.0.0, so every loopback
        // address reaches them.
        let host = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 3, 0, 1)) + i as u32);
        let port = LISTEN_PORTS[i % LISTEN_PORTS.len()];
        adds.push(tokio::spawn(add(format!("{host}:{port}"), Kind::Tcp)));
    }
    for h in adds {
        h.await.expect("add task");
    }
    let n = a.icmp + a.tcp;
    println!(
        "added {n} monitors in {:.1} s (each acknowledged after a store flush)",
        t_add.elapsed().as_secs_f64()
    );

    // Warm-up: every monitor reaches its first verdict (UP) before measuring.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut up = 0;
    while up < n && Instant::now() < deadline {
        if let Ok(Ok(ev)) = tokio::time::timeout(Duration::from_secs(1), states.recv()).await {
            if ev.to == State::Up {
                up += 1;
            }
        }
    }
    println!("{up}/{n} monitors UP after warm-up");

    let mut phases = vec![measure("steady", &running, a.secs, &mut states).await];
    let (_, rss_kib) = rusage(libc::RUSAGE_SELF);

    // fping on the same ICMP targets, in the same namespace: 10k targets every 2 s is
    // the most fping 5.1 sustains (its shared 16-bit sequence space, notes P16).
    let mut fping_line = String::from("fping: skipped");
    if a.fping && a.icmp > 0 {
        let list = dir.path().join("targets.txt");
        let text: String = (0..a.icmp).map(|i| format!("{}\n", target(i))).collect();
        std::fs::write(&list, text).expect("targets file");
        let count = (a.secs / 2).max(1);
        let (c0, _) = rusage(libc::RUSAGE_CHILDREN);
        let t0 = Instant::now();
        let st = Command::new("fping")
            .args(["-q", "-c", &count.to_string(), "-p", "2000", "-i", "0.05", "-f"])
            .arg(&list)
            .stderr(Stdio::null())
            .status();
        let wall = t0.elapsed().as_secs_f64();
        let (c1, _) = rusage(libc::RUSAGE_CHILDREN);
        let fping_probes = (a.icmp as u64 * count) as f64;
        let fping_us = (c1 - c0) * 1e6 / fping_probes;
        let steady = &phases[0];
        let ours_us = steady.cpu_pct / 100.0 * 1e6 / steady.probes_per_s;
        fping_line = format!(
            "fping 5.1 ({} targets every 2 s, {count} rounds, exit {:?}): {:.2} s CPU in {:.1} s = {:.1} µs/probe; upbot = {:.1} µs/probe (ratio upbot/fping {:.2}; upbot also runs TCP, store, state machine and events)",
            a.icmp,
            st.ok().and_then(|s| s.code()),
            c1 - c0,
            wall,
            fping_us,
            ours_us,
            ours_us / fping_us
        );
    }

    // Black-hole a share of the ICMP targets: an nftables rule drops their echo requests
    // on arrival, so the probes time out (a drop on output would fail the send instead).
    let holed = a.icmp * a.blackhole_pct / 100;
    if holed > 0 {
        let last = target(holed - 1);
        let ok = sh(&format!(
            "nft 'add table ip upbotbench; add chain ip upbotbench inp {{ type filter hook input priority 0; policy accept; }}; add rule ip upbotbench inp ip daddr {}-{last} meta l4proto icmp drop'",
            target(0)
        ));
        assert!(ok, "nft rule");
        // Wait for exactly the black-holed monitors to go DOWN.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut down = 0;
        while down < holed && Instant::now() < deadline {
            if let Ok(Ok(ev)) = tokio::time::timeout(Duration::from_secs(1), states.recv()).await {
                if ev.to == State::Down {
                    down += 1;
                }
            }
        }
        println!("{down}/{holed} black-holed monitors DOWN");
        phases.push(
            measure(
                &format!("{}% black-holed", a.blackhole_pct),
                &running,
                a.secs,
                &mut states,
            )
            .await,
        );
        sh("nft delete table ip upbotbench");
    }

    // Restart with everything stored: time until `list` over the WS API answers.
    running.stop().await.expect("stop");
    let t0 = Instant::now();
    let running = upbot::app::start(config).await.expect("restart");
    let url = format!("ws://{}/ws", running.ws_addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.expect("ws connect");
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        r#"{"type":"list","request_id":"l"}"#,
    ))
    .await
    .expect("send");
    let listed = loop {
        match ws.next().await {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                let v: serde_json::Value = serde_json::from_str(&t).expect("json");
                if v["request_id"] == "l" {
                    break v["data"]["monitors"].as_array().map_or(0, |m| m.len());
                }
            }
            Some(Ok(_)) => continue,
            other => panic!("list failed: {other:?}"),
        }
    };
    let restart = t0.elapsed();
    running.stop().await.expect("stop");
    drop(listener.stdin.take());
    let _ = listener.kill();
    let _ = listener.wait();
    probe_reader.abort();

    println!();
    println!(
        "upbot scale benchmark: {} ICMP + {} TCP monitors, 1 s interval, {} s per phase, {} cores",
        a.icmp,
        a.tcp,
        a.secs,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<18} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9} {:>8}",
        "phase", "CPU %core", "probes/s", "success %", "lag p50", "lag p99", "lag max", "changes"
    );
    for p in &phases {
        println!(
            "{:<18} {:>10.1} {:>10.0} {:>10.3} {:>9.2?} {:>9.2?} {:>9.2?} {:>8}",
            p.name, p.cpu_pct, p.probes_per_s, p.ok_pct, p.lag_p50, p.lag_p99, p.lag_max, p.false_verdicts
        );
    }
    println!("peak RSS: {:.1} MiB", rss_kib as f64 / 1024.0);
    println!("{fping_line}");
    println!(
        "restart with {listed} stored monitors: WS `list` answered {:.0} ms after start",
        restart.as_secs_f64() * 1000.0
    );
    if holed > 0 {
        let expect = 100.0 * (n - holed) as f64 / n as f64;
        println!(
            "black-holed phase: expected success {expect:.3} % (all {holed} holed targets fail, all others succeed)"
        );
    }
}
