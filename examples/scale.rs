//! Scale benchmark: N ICMP monitors on distinct 127.x addresses plus M TCP monitors,
//! all at a 1 s interval, driven through the real app (command core, store, scheduler,
//! state machine, event stream), measured with getrusage; `fping` on the same targets
//! in the same run for a CPU-per-probe ratio; then the same run with a share of the
//! ICMP targets black-holed by an nftables rule (no false verdicts allowed); then a
//! restart that must answer `list` over the WS API quickly.
//!
//! Monitors are added over the WS API (`--conns` connections, each waiting for every
//! acknowledgement before sending its next `add`), so the adds figure is the one a WS
//! client sees: each `added` reply comes only after its store flush.
//!
//! Run (root, Linux; needs `ip`, `nft`, `fping`):
//!     cargo run --release --example scale -- --icmp 10000 --tcp 1000 --secs 20
//!     cargo run --release --example scale -- --table      # 10k, 50k, 100k ICMP: one table
//!
//! It re-executes itself inside a fresh network namespace, so probes and the drop rule
//! touch only that namespace's loopback, and deletes the namespace at the end.

#![allow(missing_docs, unreachable_pub)]

#[path = "support/mod.rs"]
mod support;

/// The server binary's allocator, so the figures are the binary's.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use support::rusage;
use upbot::domain::{MonitorId, State};

#[derive(Clone)]
struct Args {
    icmp: usize,
    tcp: usize,
    secs: u64,
    blackhole_pct: usize,
    fping: bool,
    /// WS connections the adds are spread over.
    conns: usize,
    /// Run the whole benchmark once per size (ICMP monitors), each in a fresh process,
    /// and print one table row per size.
    sizes: Vec<usize>,
    /// Keep the app's data in this dir (made if missing) instead of a temporary one.
    data: Option<String>,
    /// Only time a restart on the monitors already stored in `data`.
    restart_only: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        icmp: 10_000,
        tcp: 1_000,
        secs: 20,
        blackhole_pct: 20,
        fping: true,
        conns: 32,
        sizes: Vec::new(),
        data: None,
        restart_only: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).filter(|s| s != "--inner").collect();
    let mut it = argv.iter();
    while let Some(k) = it.next() {
        let mut text = || it.next().cloned().unwrap_or_else(|| usage());
        let num = |v: String| v.parse::<u64>().unwrap_or_else(|_| usage());
        match k.as_str() {
            "--icmp" => a.icmp = num(text()) as usize,
            "--tcp" => a.tcp = num(text()) as usize,
            "--secs" => a.secs = num(text()),
            "--blackhole-pct" => a.blackhole_pct = num(text()) as usize,
            "--conns" => a.conns = (num(text()) as usize).max(1),
            "--no-fping" => a.fping = false,
            "--sizes" => a.sizes = text().split(',').map(|v| num(v.to_string()) as usize).collect(),
            // The issue's table: ICMP only, no black-holed phase (not a table column).
            // 60 s phases: each then holds one of the minute's statistics and history
            // saves, which a shorter window may miss (100k: 20-60 MiB more peak RSS).
            "--table" => {
                a.sizes = vec![10_000, 50_000, 100_000];
                a.tcp = 0;
                a.blackhole_pct = 0;
                a.secs = 60;
            }
            "--data" => a.data = Some(text()),
            "--restart-only" => a.restart_only = true,
            "--listen" => {}
            _ => usage(),
        }
    }
    a
}

fn usage() -> ! {
    eprintln!(
        "usage: scale [--icmp N] [--tcp M] [--secs S] [--blackhole-pct P] [--no-fping] [--conns C] [--sizes N,N,…] [--table] [--data DIR [--restart-only]]"
    );
    std::process::exit(2)
}

/// The most targets fping is run on: it cannot keep 1 s rounds far past 10k
/// (its shared 16-bit sequence space, notes P16).
const FPING_MAX: usize = 10_000;

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
    let a = parse_args();
    if a.sizes.is_empty() {
        let (code, _) = outer(&a);
        std::process::exit(code);
    }
    table(&a);
}

/// One table row, as the inner run prints it for [`table`] to collect.
const ROW: &str = "ROW";

/// Runs the benchmark once per size, each in a fresh process and namespace (so the peak
/// RSS is that size's), and prints the rows together.
fn table(a: &Args) {
    let mut rows = Vec::new();
    for &n in &a.sizes {
        let mut one = a.clone();
        one.icmp = n;
        one.sizes.clear();
        let (code, lines) = outer(&one);
        if code != 0 {
            eprintln!("scale: the run with {n} monitors failed (exit {code})");
        }
        rows.extend(lines.into_iter().filter(|l| l.starts_with(ROW)));
    }
    println!();
    println!(
        "| ICMP monitors | CPU (% of one core) | CPU per probe | peak RSS | lag p99 | answered | restart to full `list` | acknowledged WS adds |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        let f: Vec<&str> = r.split('\t').skip(1).collect();
        println!("| {} |", f.join(" | "));
    }
}

/// Creates the namespace, re-runs itself inside it, and always deletes it. Returns the
/// exit code and the lines the run printed (also passed through to stdout).
fn outer(a: &Args) -> (i32, Vec<String>) {
    use std::io::BufRead;
    let ns = format!("upbot-bench-{}-{}", std::process::id(), a.icmp);
    if !sh(&format!("ip netns add {ns} && ip -n {ns} link set lo up")) {
        eprintln!("scale: cannot create network namespace {ns} (needs root and iproute2)");
        std::process::exit(1);
    }
    let exe = std::env::current_exe().expect("own path");
    let mut args = vec![
        "--inner".to_string(),
        "--icmp".into(),
        a.icmp.to_string(),
        "--tcp".into(),
        a.tcp.to_string(),
        "--secs".into(),
        a.secs.to_string(),
        "--blackhole-pct".into(),
        a.blackhole_pct.to_string(),
        "--conns".into(),
        a.conns.to_string(),
    ];
    if !a.fping {
        args.push("--no-fping".into());
    }
    if let Some(d) = &a.data {
        args.extend(["--data".into(), d.clone()]);
    }
    if a.restart_only {
        args.push("--restart-only".into());
    }
    let child = Command::new("ip")
        .args(["netns", "exec", &ns])
        .arg(exe)
        .args(&args)
        .stdout(Stdio::piped())
        .spawn();
    let mut lines = Vec::new();
    let code = match child {
        Ok(mut c) => {
            if let Some(out) = c.stdout.take() {
                for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                    println!("{line}");
                    lines.push(line);
                }
            }
            c.wait().map(|s| s.code().unwrap_or(1)).unwrap_or(1)
        }
        Err(_) => 1,
    };
    sh(&format!("ip netns pids {ns} | xargs -r kill -9; ip netns del {ns}"));
    (code, lines)
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
    /// Probes that timed out while the engine was behind (not counted toward verdicts).
    late: u64,
}

/// Empties a state receiver; returns how many events it held (lost ones included).
/// State changes seen so far by a subscriber that reads them as they come, as a WS
/// `watch` session does (a subscriber that stops reading keeps up to the channel's
/// capacity of events alive: 65,536 at 100k monitors, ~13 MiB).
#[derive(Clone, Copy, Default)]
struct Changes {
    all: usize,
    down: usize,
}

fn count_changes(
    mut states: tokio::sync::broadcast::Receiver<std::sync::Arc<upbot::events::StateEvent>>,
) -> tokio::sync::watch::Receiver<Changes> {
    use tokio::sync::broadcast::error::RecvError;
    let (tx, rx) = tokio::sync::watch::channel(Changes::default());
    tokio::spawn(async move {
        loop {
            match states.recv().await {
                Ok(ev) => tx.send_modify(|c| {
                    c.all += 1;
                    c.down += usize::from(ev.to == State::Down);
                }),
                // Kinds unknown: counted as changes (a steady phase must have none).
                Err(RecvError::Lagged(k)) => tx.send_modify(|c| c.all += k as usize),
                Err(RecvError::Closed) => return,
            }
        }
    });
    rx
}

/// Adds `targets` one after another over one WS connection, each waiting for its
/// acknowledgement; returns the new monitors' ids.
async fn add_over_ws(url: &str, targets: Vec<(String, &'static str)>) -> Vec<MonitorId> {
    use tokio_tungstenite::tungstenite::Message;
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("ws connect");
    let mut ids = Vec::with_capacity(targets.len());
    for (i, (target, kind)) in targets.into_iter().enumerate() {
        let req = serde_json::json!({
            "type": "add",
            "request_id": i.to_string(),
            "data": {"target": target, "kind": kind, "interval": "1s", "timeout": "900ms"},
        });
        ws.send(Message::text(req.to_string())).await.expect("send add");
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: serde_json::Value = serde_json::from_str(&t).expect("json");
                    if v["request_id"] != i.to_string().as_str() {
                        continue;
                    }
                    assert_eq!(v["type"], "added", "add {target} refused: {v}");
                    ids.push(MonitorId(v["data"]["id"].as_u64().expect("id")));
                    break;
                }
                Some(Ok(_)) => continue,
                other => panic!("add {target} failed: {other:?}"),
            }
        }
    }
    let _ = ws.close(None).await;
    ids
}

async fn measure(
    name: &str,
    running: &upbot::app::Running,
    secs: u64,
    states: &tokio::sync::watch::Receiver<Changes>,
) -> Phase {
    running.scheduler.reset_metrics();
    let before = *states.borrow();
    let (c0, _) = rusage(libc::RUSAGE_SELF);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let wall = t0.elapsed().as_secs_f64();
    let (c1, _) = rusage(libc::RUSAGE_SELF);
    let m = running.scheduler.metrics();
    // In a steady window nothing may change state: any change is a false verdict.
    let false_verdicts = states.borrow().all - before.all;
    let total = (m.probes_ok + m.probes_failed + m.probes_late) as f64;
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
        late: m.probes_late,
    }
}

async fn inner(a: Args) {
    // The binary's log output, spans included (`RUST_LOG=off` measures without them).
    upbot::app::init_tracing();
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
    let data = a
        .data
        .clone()
        .map_or_else(|| dir.path().join("data"), std::path::PathBuf::from);
    let vars: std::collections::HashMap<&str, String> = [
        ("UPBOT_DATA_DIR", data.display().to_string()),
        ("UPBOT_WS_ADDR", "127.0.0.1:0".into()),
        ("UPBOT_HTTP_ADDR", "127.0.0.1:0".into()),
    ]
    .into_iter()
    .collect();
    let config = upbot::config::Config::from_lookup(|k| vars.get(k).cloned()).expect("config");
    if a.restart_only {
        restart(config).await;
        stop_listener(listener);
        return;
    }
    let running = upbot::app::start(config.clone()).await.expect("app starts");
    let mut states = count_changes(running.service.events().subscribe().state);
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
    // Adds over the WS API, as a client would send them: `conns` connections, each
    // sending its next `add` once the previous one is acknowledged (after its flush).
    let mut targets: Vec<(String, &str)> = (0..a.icmp).map(|i| (target(i).to_string(), "ping")).collect();
    for i in 0..a.tcp {
        // Distinct targets 127.3.x.y; the listeners bind 0.0.0.0, so every loopback
        // address reaches them.
        let host = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 3, 0, 1)) + i as u32);
        let port = LISTEN_PORTS[i % LISTEN_PORTS.len()];
        targets.push((format!("{host}:{port}"), "tcp"));
    }
    let n = targets.len();
    let url = format!("ws://{}/ws", running.ws_addr);
    let t_add = Instant::now();
    let mut conns = Vec::new();
    for c in 0..a.conns {
        let mine: Vec<(String, &str)> = targets.iter().skip(c).step_by(a.conns).cloned().collect();
        let url = url.clone();
        conns.push(tokio::spawn(async move { add_over_ws(&url, mine).await }));
    }
    let mut ids = Vec::with_capacity(n);
    for h in conns {
        ids.extend(h.await.expect("add connection"));
    }
    let add_secs = t_add.elapsed().as_secs_f64();
    println!(
        "added {n} monitors over {} WS connections in {add_secs:.1} s (each acknowledged after a store flush)",
        a.conns
    );

    // Warm-up: every monitor reaches its first verdict (UP) before measuring.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut up = 0;
    while Instant::now() < deadline {
        up = ids
            .iter()
            .filter(|id| running.scheduler.live(**id).is_some_and(|(h, _)| h.state == State::Up))
            .count();
        if up == n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("{up}/{n} monitors UP after warm-up");

    let mut phases = vec![measure("steady", &running, a.secs, &states).await];
    let (_, rss_kib) = rusage(libc::RUSAGE_SELF);
    let rss_now = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .unwrap_or_default();
    let (heap_used, heap_resident) = support::heap_in_use_and_resident();
    println!(
        "after the steady phase: peak RSS {:.1} MiB, now {}; heap in use {:.1} MiB, resident in the allocator {:.1} MiB",
        rss_kib as f64 / 1024.0,
        rss_now.trim_start_matches("VmRSS:").trim(),
        heap_used as f64 / 1048576.0,
        heap_resident as f64 / 1048576.0
    );
    if std::env::var_os("SCALE_STOP_AFTER_STEADY").is_some() {
        // For a heap profiler: end here, so its peak is the steady state's.
        println!(
            "steady: {:.1} % of one core, peak RSS {:.1} MiB",
            phases[0].cpu_pct,
            rss_kib as f64 / 1024.0
        );
        std::process::exit(0);
    }

    // fping on the same ICMP targets, in the same namespace: 10k targets every 2 s is
    // the most fping 5.1 sustains (its shared 16-bit sequence space, notes P16).
    let mut fping_line = String::from("fping: skipped");
    let mut fping_us = None;
    if a.fping && a.icmp > FPING_MAX {
        fping_line = format!("fping: skipped (more than {FPING_MAX} targets)");
    }
    if a.fping && a.icmp > 0 && a.icmp <= FPING_MAX {
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
        let us = (c1 - c0) * 1e6 / fping_probes;
        fping_us = Some(us);
        let fping_us = us;
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
        let down0 = states.borrow().down;
        let _ = tokio::time::timeout(Duration::from_secs(30), states.wait_for(|c| c.down - down0 >= holed)).await;
        let down = states.borrow().down - down0;
        println!("{down}/{holed} black-holed monitors DOWN");
        phases.push(measure(&format!("{}% black-holed", a.blackhole_pct), &running, a.secs, &states).await);
        sh("nft delete table ip upbotbench");
    }

    // Restart with everything stored: time until `list` over the WS API answers.
    println!("restarting with {n} stored monitors");
    running.stop().await.expect("stop");
    let (listed, restart) = restart(config).await;
    stop_listener(listener);
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
        "{:<18} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "phase", "CPU %core", "probes/s", "success %", "lag p50", "lag p99", "lag max", "changes", "late"
    );
    for p in &phases {
        println!(
            "{:<18} {:>10.1} {:>10.0} {:>10.3} {:>9.2?} {:>9.2?} {:>9.2?} {:>8} {:>8}",
            p.name, p.cpu_pct, p.probes_per_s, p.ok_pct, p.lag_p50, p.lag_p99, p.lag_max, p.false_verdicts, p.late
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
    let steady = &phases[0];
    let us = steady.cpu_pct / 100.0 * 1e6 / steady.probes_per_s;
    let per_probe = match fping_us {
        Some(f) => format!("{us:.1} µs (fping {f:.1} µs, ratio {:.2})", us / f),
        None => format!("{us:.1} µs"),
    };
    let full = if listed == n { "" } else { " (INCOMPLETE)" };
    // One tab-separated line for `--table`/`--sizes` to collect.
    println!(
        "{ROW}\t{}\t{:.1} %\t{per_probe}\t{:.0} MiB\t{:.1} ms\t{:.3} %\t{:.2} s{full}\t{add_secs:.1} s",
        n,
        steady.cpu_pct,
        rss_kib as f64 / 1024.0,
        steady.lag_p99.as_secs_f64() * 1000.0,
        steady.ok_pct,
        restart.as_secs_f64(),
    );
}

/// Stops the TCP listener process.
fn stop_listener(mut listener: std::process::Child) {
    drop(listener.stdin.take());
    let _ = listener.kill();
    let _ = listener.wait();
}

/// Starts the app on the stored monitors of `config`, times it and prints the times:
/// returns how many monitors `list` over the WS API returned and when its whole reply
/// had arrived (from the start).
async fn restart(config: upbot::config::Config) -> (usize, Duration) {
    let t0 = Instant::now();
    let running = upbot::app::start(config).await.expect("restart");
    let started = t0.elapsed();
    let url = format!("ws://{}/ws", running.ws_addr);
    // 100k monitors make a `list` reply of tens of MiB: past tungstenite's default cap.
    let big = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(1 << 30))
        .max_frame_size(Some(1 << 30));
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(&url, Some(big), false)
        .await
        .expect("ws connect");
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        r#"{"type":"list","request_id":"l"}"#,
    ))
    .await
    .expect("send");
    // The clock stops when the reply has arrived; reading it (into a JSON tree, tens of
    // MiB at 100k) is this client's cost, not the server's.
    let (reply, restart) = loop {
        match ws.next().await {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                if t.as_str().contains(r#""request_id":"l""#) {
                    break (t, t0.elapsed());
                }
            }
            Some(Ok(_)) => continue,
            other => panic!("list failed: {other:?}"),
        }
    };
    let v: serde_json::Value = serde_json::from_str(&reply).expect("json");
    assert_eq!(v["request_id"], "l");
    let listed = v["data"]["monitors"].as_array().map_or(0, |m| m.len());
    running.stop().await.expect("stop");
    println!(
        "restart: the app was up {:.0} ms after start, `list` of {listed} monitors ({:.1} MiB) arrived at {:.0} ms",
        started.as_secs_f64() * 1000.0,
        reply.len() as f64 / 1048576.0,
        restart.as_secs_f64() * 1000.0
    );
    (listed, restart)
}
