//! Outbox drain benchmark: how long the real app takes to deliver a backlog of queued
//! alerts through its real bot to a fake Bot API on 127.0.0.1 that answers at once.
//!
//! By default Telegram's pacing is turned off (`Config::telegram_pacing`), so the
//! figure is what upbot itself costs per alert (store reads, decoding, batching, the
//! flushed removal after each message), not Telegram's limits. Two shapes: every alert
//! to one chat, and the same number spread over many chats (one bot). `--paced` keeps
//! Telegram's limits (private chats, so the drain takes seconds, not the 20-a-minute
//! of groups): the wall time is then Telegram's, and the CPU time shows what each
//! wake-up of the sender costs while a backlog drains slowly.
//!
//! Run (release; a few seconds per shape):
//!     cargo run --release --example outbox_drain -- --alerts 10000 --chats 1,100
//!     cargo run --release --example outbox_drain -- --alerts 10000 --chats 100 --paced

#![allow(missing_docs, unreachable_pub, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::post;
use serde_json::{Value, json};
use upbot::domain::{Health, Monitor, State as MonState, Transition, now_ms};
use upbot::store::{Alert, Store};

const TOKEN: &str = "123456:BENCH";
const BOT: &str = "bench_bot";

struct Args {
    alerts: usize,
    chats: Vec<usize>,
    paced: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        alerts: 10_000,
        chats: vec![1, 100],
        paced: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(k) = it.next() {
        if k == "--paced" {
            a.paced = true;
            continue;
        }
        let v = it.next().unwrap_or_else(|| usage());
        match k.as_str() {
            "--alerts" => a.alerts = v.parse().unwrap_or_else(|_| usage()),
            "--chats" => a.chats = v.split(',').map(|c| c.parse().unwrap_or_else(|_| usage())).collect(),
            _ => usage(),
        }
    }
    a
}

fn usage() -> ! {
    eprintln!("usage: outbox_drain [--alerts N] [--chats 1,100] [--paced]");
    std::process::exit(2)
}

/// CPU seconds (user + system) this process has used so far.
#[allow(unsafe_code)]
fn cpu_seconds() -> f64 {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a complete rusage into the pointer it is given.
    let ru = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr());
        ru.assume_init()
    };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

/// What the fake Bot API counts.
#[derive(Default)]
struct Counts {
    messages: AtomicUsize,
    lines: AtomicUsize,
}

/// The fake Bot API: just enough for a bot to start, poll and send.
async fn api(
    State(c): State<Arc<Counts>>,
    Path((_bot, method)): Path<(String, String)>,
    body: Bytes,
) -> axum::Json<Value> {
    let body: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    let result = match method.to_ascii_lowercase().as_str() {
        "getme" => json!({"id": 123456, "is_bot": true, "first_name": "Bench", "username": BOT,
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "has_main_web_app": false}),
        "getwebhookinfo" => json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0}),
        "getupdates" => {
            tokio::time::sleep(Duration::from_millis(500)).await;
            json!([])
        }
        "sendmessage" => {
            let text = body["text"].as_str().unwrap_or_default();
            c.messages.fetch_add(1, Ordering::Relaxed);
            c.lines.fetch_add(
                text.lines().filter(|l| l.contains("<b>DOWN</b>")).count(),
                Ordering::Relaxed,
            );
            json!({"message_id": 1, "date": 0, "chat": {"id": body["chat_id"], "type": "supergroup"}, "text": text})
        }
        _ => json!(true),
    };
    axum::Json(json!({"ok": true, "result": result}))
}

/// Writes `alerts` queued alerts spread over `chats` chats (one monitor per chat), the
/// way the scheduler writes them, into a store at `dir`.
async fn fill(dir: &std::path::Path, alerts: usize, chats: usize, paced: bool) {
    let store = Store::open(dir).unwrap();
    let now = now_ms();
    let mut monitors = Vec::new();
    for c in 0..chats {
        let id = store.next_id().unwrap();
        // Paused, so the scheduler never probes it during the run.
        let m: Monitor = serde_json::from_value(json!({
            "id": id, "kind": "ping", "host": format!("192.0.2.{}", c % 250 + 1),
            "interval": 86_400_000u64, "timeout": 2000, "fails": 3, "recovers": 2,
            "name": format!("host-{c:03}.example.com"),
            // paced: private chats (1 a second each, no 20-a-minute group cap)
            "chat_id": if paced { 1_000 + c as i64 } else { -1_001_000_000_000i64 - c as i64 },
            "bot": BOT, "paused": true, "created_ms": now,
        }))
        .unwrap();
        store.put_monitor(&m, &Health::new(now)).await.unwrap();
        monitors.push(m);
    }
    for i in 0..alerts {
        let m = &monitors[i % chats];
        let mut h = Health::new(now);
        h.state = MonState::Down;
        let t = Transition {
            from: MonState::Up,
            to: MonState::Down,
            reason: "3 of 3 pings lost".into(),
            at_ms: now,
            announce: true,
            down_for_ms: None,
        };
        let alert = Alert::for_transition(m, &t).unwrap();
        store.record_transition(m.id, &h, Some(&alert)).unwrap();
    }
    store.flush().await.unwrap();
    assert_eq!(store.outbox_len(), alerts);
}

async fn run(alerts: usize, chats: usize, paced: bool) {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), alerts, chats, paced).await;
    let t = Instant::now();
    drop(Store::open(dir.path()).unwrap());
    let open = t.elapsed();

    let counts = Arc::new(Counts::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/{bot}/{method}", post(api))
        .with_state(counts.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let vars: std::collections::HashMap<&str, String> = [
        ("UPBOT_DATA_DIR", dir.path().display().to_string()),
        ("UPBOT_WS_ADDR", "127.0.0.1:0".into()),
        ("UPBOT_HTTP_ADDR", "127.0.0.1:0".into()),
        ("UPBOT_TELEGRAM_TOKENS", TOKEN.into()),
        ("UPBOT_TELEGRAM_API_URL", url),
        ("UPBOT_ALLOWED_CHATS", "*".into()),
    ]
    .into_iter()
    .collect();
    let mut config = upbot::config::Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    config.telegram_pacing = paced;

    let (t0, cpu0) = (Instant::now(), cpu_seconds());
    let running = upbot::app::start(config).await.unwrap();
    let store = running.store.clone();
    let started = t0.elapsed();
    let deadline = Instant::now() + Duration::from_secs(600);
    while store.outbox_len() > 0 || counts.lines.load(Ordering::Relaxed) < alerts {
        assert!(
            Instant::now() < deadline,
            "not drained in 10 min: {} left",
            store.outbox_len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (took, cpu) = (t0.elapsed(), cpu_seconds() - cpu0);
    println!(
        "{alerts} alerts to {chats} chat(s){}: drained in {:.3} s (app start {:.3} s; store open {:.3} s), {} messages, {:.0} alerts/s, CPU {:.2} s",
        if paced { ", paced" } else { "" },
        took.as_secs_f64(),
        started.as_secs_f64(),
        open.as_secs_f64(),
        counts.messages.load(Ordering::Relaxed),
        alerts as f64 / took.as_secs_f64(),
        cpu
    );
    running.stop().await.unwrap();
    server.abort();
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    for chats in args.chats {
        run(args.alerts, chats, args.paced).await;
    }
}
