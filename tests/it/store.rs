//! The store under faults, through the real app: a full disk (a small tmpfs, filled and
//! then freed) and a blocking pool filled by other work. The tmpfs test needs root (it
//! mounts): it runs in CI (root) and skips with a reason for a non-root developer.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;
use upbot::core::{AddRequest, Caller, Command, Reply, Selector};
use upbot::domain::{Kind, MonitorId, State};
use upbot::events::Subscription;
use upbot::push::Signal;

use crate::fake_telegram::{FakeTelegram, FaultReply, sent_from};
use crate::helpers::{LogEvent, Logs, Mount, WAIT, init_test_tracing, skip_without_root, spawn_app, test_config};

const TOKEN: &str = "444444:DDD-disk";
const BOT: &str = "mon_disk_bot";
const CHAT: i64 = -1001000000301;

/// Fills the file system holding `dir` to the last byte; returns the filler file.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    // Smaller and smaller writes take the last partial blocks too (bounded by the size
    // of the file system).
    for size in [64 * 1024, 4096, 512, 1] {
        while f.write_all(&chunk[..size]).is_ok() {}
    }
    path
}

async fn add(service: &upbot::core::Service, req: AddRequest) -> Result<MonitorId, String> {
    match service.execute(&Caller::Operator, Command::Add(Box::new(req))).await {
        Ok(Reply::Added(m)) => Ok(m.id),
        Ok(other) => panic!("unexpected reply {other:?}"),
        Err(e) => Err(e.to_string()),
    }
}

async fn state_of(service: &upbot::core::Service, id: MonitorId) -> State {
    match service
        .execute(&Caller::Operator, Command::Status(Selector::Id(id)))
        .await
    {
        Ok(Reply::Status(s)) => s.monitor.state,
        other => panic!("status: {other:?}"),
    }
}

/// The next probe result of `id`, as (ok).
async fn next_probe(sub: &mut Subscription, id: MonitorId) -> bool {
    tokio::time::timeout(WAIT, async {
        loop {
            let p = sub.probe.recv().await.expect("probe events");
            if p.monitor_id == id {
                return p.ok;
            }
        }
    })
    .await
    .expect("a probe in time")
}

/// The next state change of `id`.
async fn next_change(sub: &mut Subscription, id: MonitorId) -> Arc<upbot::events::StateEvent> {
    tokio::time::timeout(WAIT, async {
        loop {
            let ev = sub.state.recv().await.expect("state events");
            if ev.monitor_id == id {
                return ev;
            }
        }
    })
    .await
    .expect("a state change in time")
}

/// State changes of `id` queued so far.
fn states_of(sub: &mut Subscription, id: MonitorId) -> Vec<State> {
    std::iter::from_fn(|| sub.state.try_recv().ok())
        .filter(|s| s.monitor_id == id)
        .map(|s| s.to)
        .collect()
}

async fn healthz(addr: std::net::SocketAddr) -> (u16, Value) {
    let r = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .expect("GET /healthz");
    let status = r.status().as_u16();
    (status, r.json().await.expect("JSON body"))
}

/// Messages in `CHAT` about the monitor named `name` that say `word`.
fn said(fake: &FakeTelegram, name: &str, word: &str) -> usize {
    sent_from(&fake.calls(), CHAT)
        .iter()
        .filter(|s| s.text.contains(name))
        .map(|s| s.text.matches(word).count())
        .sum()
}

/// The real app on a 16 MiB tmpfs, with one bot, a TCP monitor of [`CHAT`] (1 s,
/// `fails=2`) on a listener that accepts, and a push monitor whose heartbeats are
/// durable writes (the way to meet a full disk at once). Returned once the TCP
/// monitor's first verdict reached the chat and left the outbox.
struct SmallDisk {
    mnt: Mount,
    _base: tempfile::TempDir,
    fake: FakeTelegram,
    running: upbot::app::Running,
    service: upbot::core::Service,
    sub: Subscription,
    server: tokio::task::JoinHandle<()>,
    id: MonitorId,
    /// The TCP monitor's name.
    name: String,
    push: MonitorId,
}

async fn small_disk(name: &str) -> SmallDisk {
    init_test_tracing();
    let base = tempfile::tempdir().unwrap();
    let mnt = Mount::tmpfs(&base.path().join("mnt"), "16m");
    let data = mnt.path.join("data");
    let fake = FakeTelegram::start().await;
    fake.add_bot(TOKEN, 444444, BOT);
    let config = test_config(
        &data,
        &[
            ("UPBOT_TELEGRAM_TOKENS", TOKEN),
            ("UPBOT_TELEGRAM_API_URL", &fake.url),
            ("UPBOT_ALLOWED_CHATS", "*"),
        ],
    );
    let running = upbot::app::start(config).await.expect("app starts");
    let service = running.service.clone();
    let sub = service.events().subscribe();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        while let Ok((c, _)) = listener.accept().await {
            drop(c);
        }
    });
    let id = add(
        &service,
        AddRequest {
            target: format!("127.0.0.1:{port}"),
            name: Some(name.into()),
            interval: Some(Duration::from_secs(1)),
            timeout: Some(Duration::from_millis(500)),
            fails: Some(2),
            recovers: Some(1),
            chat_id: Some(CHAT),
            bot: Some(BOT.into()),
            ..AddRequest::default()
        },
    )
    .await
    .expect("add");
    let push = add(
        &service,
        AddRequest {
            target: "writer".into(),
            kind: Some(Kind::Push),
            ..AddRequest::default()
        },
    )
    .await
    .expect("add push");
    fake.wait_until("the first verdict in the chat", |calls| {
        sent_from(calls, CHAT)
            .iter()
            .any(|s| s.text.contains(name))
            .then_some(())
    })
    .await;
    let d = SmallDisk {
        mnt,
        _base: base,
        fake,
        running,
        service,
        sub,
        server,
        id,
        name: name.to_string(),
        push,
    };
    d.wait_outbox_empty("the first verdict").await;
    d
}

impl SmallDisk {
    /// Fills the disk until a durable write is refused (heartbeats reach sled itself;
    /// one of them meets the full disk, and sled gives up until it is opened again).
    /// Returns the filler file.
    async fn fill(&self) -> PathBuf {
        let filler = fill(&self.mnt.path);
        let mut refused = None;
        for _ in 0..1000 {
            if let Err(e) = self.service.push_report(self.push, Signal::Heartbeat).await {
                refused = Some(e.to_string());
                break;
            }
        }
        let refused = refused.expect("the full disk refused a durable write");
        assert!(refused.contains("No space left on device"), "{refused}");
        let why = self.running.store.write_health().unwrap_err();
        assert!(why.contains("No space left on device"), "{why}");
        filler
    }

    async fn wait_outbox_empty(&self, what: &str) {
        let deadline = Instant::now() + WAIT;
        while self.running.store.outbox_len() > 0 {
            assert!(Instant::now() < deadline, "{what} never left the outbox");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (bounded by [`WAIT`]) until a DOWN of the TCP monitor is in the chat.
    async fn down_sent(&self) {
        let name = self.name.as_str();
        self.fake
            .wait_until("the DOWN alert in the chat", |calls| {
                sent_from(calls, CHAT)
                    .iter()
                    .any(|s| s.text.contains(name) && s.text.contains("DOWN"))
                    .then_some(())
            })
            .await;
    }

    async fn stop(self) {
        self.running.stop().await.expect("clean shutdown");
        drop(self.mnt);
    }
}

/// Item 1 and 10f of issue 7 end to end: while the disk is full, the DOWN verdict is
/// held back (the old state stays, nothing is announced) and `/healthz` says why; once
/// space is back the store recovers by itself and the DOWN reaches the chat, once.
#[tokio::test]
async fn a_full_disk_holds_the_down_back_and_it_is_sent_once_when_space_is_back() {
    if skip_without_root("a_full_disk_holds_the_down_back_and_it_is_sent_once_when_space_is_back") {
        return;
    }
    let name = "disk-test";
    let mut d = small_disk(name).await;
    let (id, fake) = (d.id, &d.fake);

    // The disk fills up.
    let filler = d.fill().await;
    let (code, body) = healthz(d.running.http_addr).await;
    assert_eq!((code, body["store"].as_str()), (503, Some("failing")), "{body}");
    assert!(
        body["reason"].as_str().unwrap_or_default().contains("No space left"),
        "{body}"
    );

    // The host goes down while the disk is full: the verdict is reached, and held back.
    d.server.abort();
    let mut failed = 0;
    while failed < 4 {
        if !next_probe(&mut d.sub, id).await {
            failed += 1;
        }
    }
    assert!(!states_of(&mut d.sub, id).contains(&State::Down), "nothing announced");
    assert_eq!(state_of(&d.service, id).await, State::Up, "the old state stays");
    assert_eq!(said(fake, name, "DOWN"), 0);

    // Space is back: the store recovers by itself; the DOWN is stored, then sent, once.
    std::fs::remove_file(&filler).unwrap();
    let ev = next_change(&mut d.sub, id).await;
    assert_eq!((ev.from, ev.to), (State::Up, State::Down));
    d.down_sent().await;
    assert!(d.running.store.write_health().is_ok());
    let (code, body) = healthz(d.running.http_addr).await;
    assert_eq!(code, 200, "{body}");
    // More failed probes change nothing: one DOWN, in the store and in the chat.
    for _ in 0..3 {
        next_probe(&mut d.sub, id).await;
    }
    d.wait_outbox_empty("the DOWN").await;
    assert!(states_of(&mut d.sub, id).is_empty());
    assert_eq!(said(fake, name, "DOWN"), 1, "{:?}", sent_from(&fake.calls(), CHAT));
    d.stop().await;
}

/// An alert already queued when the disk fills waits while the store cannot write (it
/// could not be recorded as delivered, and the failed store cannot even read the
/// outbox). It waits quietly: one warning, its looks at debug level; before, every
/// look logged an error and a warning and pushed the next look further back (up to
/// 30 s). It goes once when space is back.
#[tokio::test]
async fn an_alert_queued_when_the_disk_fills_waits_and_goes_once() {
    if skip_without_root("an_alert_queued_when_the_disk_fills_waits_and_goes_once") {
        return;
    }
    let name = "queued-test";
    let (logs, _recording) = Logs::capture();
    let mut d = small_disk(name).await;
    let (id, fake) = (d.id, &d.fake);
    // Telegram holds the chat for a while: the DOWN stays queued meanwhile.
    const HOLD: u32 = 5;
    fake.fail_next("sendmessage", CHAT, &[FaultReply::RetryAfter(HOLD)]);
    d.server.abort();
    let mut ev = next_change(&mut d.sub, id).await;
    if ev.from == State::Pending {
        ev = next_change(&mut d.sub, id).await; // (the first verdict's)
    }
    assert_eq!((ev.from, ev.to), (State::Up, State::Down));
    let held = fake
        .wait_until("the DOWN held by a 429", |calls| {
            calls
                .iter()
                .find(|c| c.method == "sendmessage" && !c.ok && c.body["chat_id"] == CHAT)
                .map(|c| c.at)
        })
        .await;
    // The sender took the 429 (its warning is the last it says before the disk fills).
    let filled = logs
        .wait_until("the sender's 429 warning", |events| {
            let i = events
                .iter()
                .position(|e| e.field("bot") == Some(BOT) && e.message == "alert delivery delayed")?;
            Some(i + 1)
        })
        .await;
    // The disk fills before Telegram's hold is over.
    let filler = d.fill().await;
    assert!(
        held.elapsed() < Duration::from_secs(HOLD.into()),
        "filling took too long"
    );
    assert_eq!(d.running.store.outbox_len(), 1, "the DOWN is queued");

    // Past the hold the sender looks at the store (every STORE_RETRY) and waits,
    // quietly: one warning for the whole wait, not an error and a warning per look.
    const LOOKS: usize = 3;
    let loud = |events: &[LogEvent]| -> Vec<String> {
        events[filled..]
            .iter()
            .filter(|e| e.field("bot") == Some(BOT) && e.level <= tracing::Level::WARN)
            .map(|e| e.message.clone())
            .collect()
    };
    let looked = logs.wait_until("the sender's looks at the failing store", |events| {
        let looks = events[filled..]
            .iter()
            .filter(|e| e.field("bot") == Some(BOT) && e.message == "alerts still wait for the store")
            .count();
        (looks >= LOOKS || loud(events).len() > 1).then_some(())
    });
    tokio::select! {
        () = looked => {}
        () = d.down_sent() => panic!(
            "the DOWN went while the store could not record it: {:?}",
            sent_from(&fake.calls(), CHAT)
        ),
    }
    assert_eq!(
        loud(&logs.events()),
        ["alerts wait in the outbox until the store writes again (a delivery could not be recorded)"]
    );
    assert!(d.running.store.write_health().is_err(), "still failing");
    assert_eq!(said(fake, name, "DOWN"), 0);

    // Space is back: the DOWN goes, once, and the log says the wait is over, once.
    std::fs::remove_file(&filler).unwrap();
    d.down_sent().await;
    d.wait_outbox_empty("the DOWN").await;
    assert_eq!(said(fake, name, "DOWN"), 1, "{:?}", sent_from(&fake.calls(), CHAT));
    assert_eq!(
        logs.count(tracing::Level::INFO, BOT, "the store writes again"),
        1,
        "{:?}",
        logs.events()
    );
    d.stop().await;
}

/// Item 10a of issue 7 (the store's half): work that fills tokio's blocking pool (there,
/// a storm of uncached DNS lookups) must not hold back acknowledged writes.
#[test]
fn acknowledged_adds_complete_while_the_blocking_pool_is_full() {
    const POOL: usize = 4;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(POOL)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let app = spawn_app(&[]).await;
        let (release, held) = std::sync::mpsc::channel::<()>();
        let held = Arc::new(std::sync::Mutex::new(held));
        let (started, mut running) = tokio::sync::mpsc::unbounded_channel();
        let hogs: Vec<_> = (0..POOL)
            .map(|_| {
                let (held, started) = (held.clone(), started.clone());
                tokio::task::spawn_blocking(move || {
                    let _ = started.send(());
                    // Blocks until released (the first hog waits on the channel, the
                    // others on the lock); bounded in case the test fails first.
                    let _ = held.lock().map(|rx| rx.recv_timeout(Duration::from_secs(60)));
                })
            })
            .collect();
        for _ in 0..POOL {
            running.recv().await.expect("every hog runs");
        }
        let mut ws = app.ws().await;
        for i in 1..=3 {
            let r = tokio::time::timeout(
                Duration::from_secs(5),
                ws.request("add", json!({"target": format!("127.0.7.{i}"), "interval": 60})),
            )
            .await
            .expect("an acknowledged add does not wait for the blocking pool");
            assert_eq!(r["type"], "added", "{r}");
        }
        drop(release);
        for h in hogs {
            h.await.unwrap();
        }
        app.stop().await;
    });
}
