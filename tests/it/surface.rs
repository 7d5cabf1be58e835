//! The command surface under faults and abuse (issue 7 items 2, 3, 7, 8, 9, 10 in the
//! core and the WS API): push monitors through a chat migration and a bot removal,
//! concurrent add/del then a restart, the chat target policy at `/add` and at every
//! probe, chat and legacy limits, WS authentication throttling and slots, `client_info`,
//! handshake and message hardening, and legacy probes behind a resolver that never
//! answers.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use upbot::core::{AddRequest, Caller, Command, CoreError, MonitorView, Reply, Selector};
use upbot::domain::{Kind, MonitorId, State};
use upbot::push::Signal;

use crate::fake_telegram::{FakeTelegram, chat, user};
use crate::helpers::{TestApp, WAIT, WsClient, connect_with, spawn_app, spawn_app_in};

const T1: &str = "111111:AAA-one";
const B1: &str = "mon_one_bot";
/// interface.md's default chat policy (the test helper allows everything by default).
const DEFAULT_TARGETS: &str = "!127.0.0.0/8,!::1/128,!169.254.0.0/16,!fe80::/10,0.0.0.0/0,::/0";

fn chat_caller(chat_id: i64) -> Caller {
    Caller::Chat {
        chat_id,
        bot: B1.into(),
        thread_id: None,
        can_modify: true,
    }
}

async fn add(app: &TestApp, caller: &Caller, req: AddRequest) -> Result<MonitorView, CoreError> {
    match app.running.service.execute(caller, Command::Add(Box::new(req))).await? {
        Reply::Added(v) => Ok(v),
        other => panic!("unexpected reply {other:?}"),
    }
}

async fn telegram_app(allowed: &str, extra: &[(&str, &str)]) -> (FakeTelegram, TestApp) {
    let fake = FakeTelegram::start().await;
    fake.add_bot(T1, 111111, B1);
    let mut vars = vec![
        ("UPBOT_TELEGRAM_TOKENS", T1),
        ("UPBOT_TELEGRAM_API_URL", fake.url.as_str()),
        ("UPBOT_ALLOWED_CHATS", allowed),
    ];
    vars.extend_from_slice(extra);
    let app = spawn_app(&vars).await;
    (fake, app)
}

/// An admin says `text` in `chat`; returns the reply.
async fn ask(fake: &FakeTelegram, chat_id: i64, text: &str) -> String {
    fake.set_member(chat_id, 42, "administrator");
    let before = fake.sent(chat_id).len();
    fake.say(T1, chat_id, 42, text);
    fake.wait_for_nth(chat_id, before + 1).await.swap_remove(before).text
}

fn push_req(name: &str) -> AddRequest {
    AddRequest {
        target: name.into(),
        kind: Some(Kind::Push),
        heartbeat: Some(Duration::from_secs(3600)),
        ..AddRequest::default()
    }
}

#[tokio::test]
async fn push_monitors_move_with_a_chat_migration_and_alert_the_new_chat() {
    let (old, new) = (-323456789, -1001000000401);
    let (fake, app) = telegram_app(&old.to_string(), &[]).await;
    let mut notices = app.running.service.events().subscribe_notices();
    let v = add(&app, &chat_caller(old), push_req("nightly")).await.unwrap();
    let token = v.webhook_url.unwrap().rsplit('/').next().unwrap().to_string();
    fake.push_update(
        T1,
        json!({"message": {"message_id": 9, "date": 0, "chat": chat(old), "from": user(42), "migrate_to_chat_id": new}}),
    );
    let n = tokio::time::timeout(WAIT, notices.recv()).await.unwrap().unwrap();
    assert_eq!(
        (n.chat_id, n.new_chat_id, n.monitor_ids.clone()),
        (old, Some(new), vec![v.id])
    );
    // The push engine itself learned the new chat (it resolves the token to it)…
    let m = app.running.service.push_lookup(&token).expect("token still resolves");
    assert_eq!(m.chat_id, Some(new));
    // … so a report after the migration alerts the new chat, once.
    let ack = app
        .running
        .service
        .push_report(v.id, Signal::Down(Some("disk full".into())))
        .await
        .unwrap();
    assert_eq!(ack.state, State::Down);
    let a = fake.wait_for_message(new, |m| m.text.contains("<b>DOWN</b>")).await;
    assert!(a.text.contains("disk full"), "{}", a.text);
    assert!(fake.sent(old).iter().all(|m| !m.text.contains("DOWN")));
    app.stop().await;
}

#[tokio::test]
async fn a_removed_bot_pauses_push_monitors_too() {
    let g = -1001000000402;
    let (fake, app) = telegram_app(&g.to_string(), &[]).await;
    let mut notices = app.running.service.events().subscribe_notices();
    let v = add(&app, &chat_caller(g), push_req("backup")).await.unwrap();
    let me = json!({"id": 111111, "is_bot": true, "first_name": "M", "username": B1});
    fake.push_update(
        T1,
        json!({"my_chat_member": {"chat": chat(g), "from": user(42), "date": 0,
            "old_chat_member": {"user": me, "status": "member"},
            "new_chat_member": {"user": me, "status": "kicked", "until_date": 0}}}),
    );
    let n = tokio::time::timeout(WAIT, notices.recv()).await.unwrap().unwrap();
    assert_eq!(n.monitor_ids, vec![v.id]);
    let push = &app.running.push;
    assert_eq!(
        push.live(v.id).unwrap().state,
        State::Paused,
        "the push engine paused it"
    );
    // A paused push monitor takes the report and does not alert.
    let ack = push.report(v.id, Signal::Down(None)).await.unwrap();
    assert_eq!(ack.state, State::Paused);
    assert_eq!(app.running.store.outbox_len(), 0, "no alert queued");
    app.stop().await;
}

async fn listed(s: &upbot::core::Service) -> Vec<MonitorId> {
    match s.execute(&Caller::Operator, Command::List { chat_id: None }).await {
        Ok(Reply::List(l)) => l.into_iter().map(|m| m.id).collect(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_add_and_del_of_the_same_ids_leave_no_ghost_after_a_restart() {
    let app = spawn_app(&[]).await;
    let service = app.running.service.clone();
    let mut tasks = Vec::new();
    for i in 1..=60u64 {
        let s = service.clone();
        tasks.push(tokio::spawn(async move {
            let req = AddRequest {
                target: format!("192.0.2.{i}"),
                interval: Some(Duration::from_secs(3600)),
                ..AddRequest::default()
            };
            let _ = s.execute(&Caller::Operator, Command::Add(Box::new(req))).await;
        }));
        // The id this add will most likely get, deleted while its write is in flight.
        for _ in 0..3 {
            let s = service.clone();
            tasks.push(tokio::spawn(async move {
                let _ = s
                    .execute(&Caller::Operator, Command::Del(Selector::Id(MonitorId(i))))
                    .await;
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let before = listed(&service).await;
    for id in 1..=80 {
        let probed = app.running.scheduler.monitor(MonitorId(id)).is_some();
        assert_eq!(
            probed,
            before.contains(&MonitorId(id)),
            "#{id}: probed but not listed, or the reverse"
        );
    }
    drop(service);
    let dir = app.stop().await;
    let app = spawn_app_in(dir, &[]).await;
    let after = listed(&app.running.service).await;
    assert_eq!(after, before, "a restart brings back exactly what was listed");
    eprintln!("{} of 60 monitors survived the deletes", after.len());
    app.stop().await;
}

#[tokio::test]
async fn chat_targets_are_refused_at_add_naming_the_rule_and_the_operator_is_not_limited() {
    let g = -1001000000403;
    let (fake, app) = telegram_app(
        &g.to_string(),
        &[
            ("UPBOT_CHAT_TARGETS", DEFAULT_TARGETS),
            ("UPBOT_CHAT_MAX_MONITORS", "2"),
        ],
    )
    .await;
    let r = ask(&fake, g, "/add 127.0.0.1").await;
    assert!(
        r.contains("127.0.0.1 is refused by the UPBOT_CHAT_TARGETS rule !127.0.0.0/8"),
        "{r}"
    );
    let r = ask(&fake, g, "/add localhost:22").await;
    assert!(
        r.contains("refused by the UPBOT_CHAT_TARGETS rule"),
        "a name resolving to loopback: {r}"
    );
    let r = ask(&fake, g, "/add 169.254.169.254").await;
    assert!(r.contains("!169.254.0.0/16"), "{r}");
    for bad in ["0.0.0.0", "255.255.255.255", "[::]:80"] {
        let r = ask(&fake, g, &format!("/add {bad}")).await;
        assert!(r.contains("not a host address"), "{bad}: {r}");
    }
    // The limit per chat.
    for ip in ["192.0.2.1", "192.0.2.2"] {
        let r = ask(&fake, g, &format!("/add {ip} interval=24h")).await;
        assert!(r.starts_with("✅ Added"), "{r}");
    }
    let r = ask(&fake, g, "/add 192.0.2.3").await;
    assert!(r.contains("UPBOT_CHAT_MAX_MONITORS allows (2)"), "{r}");
    // The operator may watch loopback, also for that chat.
    let mut c = app.ws().await;
    let r = c.request("add", json!({"target": "127.0.0.1:1", "chat_id": g})).await;
    assert_eq!(r["type"], "added", "{r}");
    app.stop().await;
}

#[tokio::test]
async fn every_probe_of_a_chat_monitor_checks_the_resolved_address() {
    let g = -1001000000404;
    let app = spawn_app(&[("UPBOT_CHAT_TARGETS", DEFAULT_TARGETS)]).await;
    crate::helpers::register_bot(&app.running.service, B1);
    // DNS rebinding: at /add the name resolves to a public address…
    app.running
        .service
        .set_resolver(upbot::probe::dns::Resolver::with_lookup(|_| {
            Box::pin(async { Ok(vec!["192.0.2.10".parse().unwrap()]) })
        }));
    let mut probes = app.running.service.events().subscribe().probe;
    let v = add(
        &app,
        &chat_caller(g),
        AddRequest {
            target: "localhost:9".into(),
            interval: Some(Duration::from_secs(1)),
            ..AddRequest::default()
        },
    )
    .await
    .unwrap();
    // … and at probe time to loopback: the probe is refused, naming the rule.
    let ev = tokio::time::timeout(WAIT, async {
        loop {
            let p = probes.recv().await.unwrap();
            if p.monitor_id == v.id {
                return p;
            }
        }
    })
    .await
    .unwrap();
    assert!(!ev.ok);
    let err = ev.error.clone().unwrap();
    assert!(err.contains("is refused by the UPBOT_CHAT_TARGETS rule"), "{err}");
    app.stop().await;
}

#[tokio::test]
async fn legacy_monitors_are_limited_per_connection_and_in_all() {
    let app = spawn_app(&[]).await;
    let mut conns = Vec::new();
    for _ in 0..4 {
        let mut c = app.ws().await;
        for i in 0..256 {
            c.send_text(&format!(
                r#"{{"cmd":"monitor","host":"127.0.0.1:{}","interval":86400}}"#,
                1000 + i
            ))
            .await;
        }
        let mut started = 0;
        while started < 256 {
            if c.recv_text().await.starts_with(r#"{"info":"Iniciando"#) {
                started += 1;
            }
        }
        c.send_text(r#"{"cmd":"monitor","host":"127.0.0.1:2","interval":86400}"#)
            .await;
        let t = loop {
            let t = c.recv_text().await;
            if !t.starts_with(r#"{"host""#) {
                break t;
            }
        };
        assert_eq!(
            t, r#"{"error":"limite de monitores atingido"}"#,
            "257th on one connection"
        );
        conns.push(c);
    }
    let mut fifth = app.ws().await;
    fifth
        .send_text(r#"{"cmd":"monitor","host":"127.0.0.1:3","interval":86400}"#)
        .await;
    assert_eq!(
        fifth.recv_text().await,
        r#"{"error":"limite de monitores atingido"}"#,
        "1,025th in all"
    );
    fifth
        .send_text(r#"{"cmd":"monitor","host":"127.0.0.1:3","interval":0.5}"#)
        .await;
    assert_eq!(fifth.recv_text().await, r#"{"error":"intervalo invalido"}"#);
    // A connection that leaves gives its share back.
    drop(conns.pop());
    let deadline = Instant::now() + WAIT;
    loop {
        fifth
            .send_text(r#"{"cmd":"monitor","host":"127.0.0.1:3","interval":86400}"#)
            .await;
        let t = fifth.recv_text().await;
        if t.starts_with(r#"{"info":"Iniciando"#) {
            break;
        }
        assert!(Instant::now() < deadline, "slots never came back: {t}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn legacy_probes_behind_a_resolver_that_never_answers_do_not_hold_up_acknowledged_writes() {
    let app = spawn_app(&[]).await;
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    app.running.service.set_resolver(
        upbot::probe::dns::Resolver::with_lookup(move |_| {
            s.fetch_add(1, Ordering::SeqCst);
            Box::pin(std::future::pending())
        })
        .with_bound(upbot::core::service::MAX_LOOKUPS_IN_FLIGHT),
    );
    let mut legacy = app.ws().await;
    for i in 0..256 {
        legacy
            .send_text(&format!(
                r#"{{"cmd":"monitor","host":"h{i}.nx.invalid:1","interval":1}}"#
            ))
            .await;
    }
    let mut infos = 0;
    while infos < 256 {
        if legacy.recv_text().await.starts_with(r#"{"info""#) {
            infos += 1;
        }
    }
    let mut c = app.ws().await;
    for i in 0..5 {
        let t = Instant::now();
        let r = c.request("add", json!({"target": format!("192.0.2.{}", i + 1)})).await;
        assert_eq!(r["type"], "added", "{r}");
        assert!(t.elapsed() < Duration::from_secs(2), "add took {:?}", t.elapsed());
    }
    let n = started.load(Ordering::SeqCst);
    assert!(
        n <= upbot::core::service::MAX_LOOKUPS_IN_FLIGHT,
        "{n} lookups in flight at once, bound {}",
        upbot::core::service::MAX_LOOKUPS_IN_FLIGHT
    );
    app.stop().await;
}

#[tokio::test]
async fn failed_tokens_are_throttled_then_even_the_right_one_waits() {
    let app = spawn_app(&[("UPBOT_WS_TOKEN", "s3cret")]).await;
    let url = app.ws_url.clone();
    for _ in 0..upbot::ws::AUTH_FAILURE_BURST {
        assert_eq!(
            connect_with(&url, &[("authorization", "Bearer guess")]).await.err(),
            Some(401)
        );
    }
    // One more failure is past the burst: the address must wait, right token or not.
    assert_eq!(
        connect_with(&url, &[("authorization", "Bearer guess")]).await.err(),
        Some(401)
    );
    assert_eq!(
        connect_with(&url, &[("authorization", "Bearer s3cret")]).await.err(),
        Some(429)
    );
    // The auth message is throttled the same way.
    let mut c = WsClient::connect(&url).await;
    let r = c.request("auth", json!({"token": "s3cret"})).await;
    assert_eq!(r["data"]["code"], "RATE_LIMIT_EXCEEDED", "{r}");
    app.stop().await;
}

#[tokio::test]
async fn unauthenticated_clients_are_closed_in_time_and_cannot_take_every_slot() {
    let app = spawn_app(&[
        ("UPBOT_WS_TOKEN", "s3cret"),
        ("UPBOT_WS_MAX_CONNECTIONS", "4"),
        ("UPBOT_WS_AUTH_TIMEOUT", "1s"),
    ])
    .await;
    let url = app.ws_url.clone();
    // A quarter of 4: one unauthenticated slot.
    let mut idle = WsClient::connect(&url).await;
    assert_eq!(connect_with(&url, &[]).await.err(), Some(503));
    // Clients with the token still get in.
    let mut ok = connect_with(&url, &[("authorization", "Bearer s3cret")]).await.unwrap();
    assert_eq!(ok.request("list", json!({})).await["type"], "list");
    // The silent one is closed once its time is up.
    let t = Instant::now();
    let code = loop {
        match tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut idle.ws))
            .await
            .unwrap()
        {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(f))) => break f.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            _ => break None,
        }
    };
    assert_eq!(code, Some(1008));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // Its slot is free again; authenticating by message keeps the connection open.
    let deadline = Instant::now() + WAIT;
    let mut c = loop {
        match connect_with(&url, &[]).await {
            Ok(c) => break c,
            Err(503) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(s) => panic!("{s}"),
        }
    };
    assert_eq!(
        c.request("auth", json!({"token": "s3cret"})).await["type"],
        "authenticated"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        c.request("ping", json!({})).await["type"],
        "pong",
        "authenticated: not closed"
    );
    // … and it gave its unauthenticated slot back.
    let mut another = connect_with(&url, &[]).await.unwrap();
    assert_eq!(another.request("ping", json!({})).await["type"], "pong");
    app.stop().await;
}

#[tokio::test]
async fn client_info_is_answered_with_connection_status() {
    let app = spawn_app(&[]).await;
    let mut c = app.ws().await;
    let _other = app.ws().await;
    let r = c
        .request(
            "client_info",
            json!({"client": "dashboard", "version": "2.1", "ua": "Mozilla"}),
        )
        .await;
    assert_eq!(r["type"], "connection_status", "{r}");
    let d = &r["data"];
    assert_eq!(d["status"], "connected");
    assert_eq!(d["server_version"], env!("CARGO_PKG_VERSION"));
    humantime::parse_rfc3339(d["server_time"].as_str().unwrap()).unwrap();
    assert_eq!(d["client_count"], 2);
    assert!(d["uptime_seconds"].is_u64());
    assert!(d["features"].as_array().unwrap().iter().any(|f| f == "add"));
    app.stop().await;
}

#[tokio::test]
async fn hardening_second_host_header_duplicate_keys_and_non_unicast_targets() {
    let app = spawn_app(&[]).await;
    let addr = app.running.ws_addr;
    // A second Host header is refused before the upgrade.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nHost: evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(WAIT, s.read(&mut buf)).await.unwrap().unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(
        head.starts_with("HTTP/1.1 403") || head.starts_with("HTTP/1.1 400"),
        "{head}"
    );
    // Host 0.0.0.0 (the old client's documented default) is this machine.
    let url = format!("ws://0.0.0.0:{}/ws", addr.port());
    let mut c = WsClient::connect(&url).await;
    assert_eq!(c.request("ping", json!({})).await["type"], "pong");
    // Duplicate keys: refused, not last-wins; the connection survives.
    c.send_text(r#"{"type":"add","request_id":"d1","data":{"target":"192.0.2.1","target":"127.0.0.1"}}"#)
        .await;
    let v = c.recv().await;
    assert_eq!(v["data"]["code"], "INVALID_MESSAGE_FORMAT", "{v}");
    assert!(
        v["data"]["message"]
            .as_str()
            .unwrap()
            .contains("duplicate key \"target\""),
        "{v}"
    );
    for bad in ["0.0.0.0", "255.255.255.255", "::", "224.0.0.1"] {
        let r = c.request("add", json!({"target": bad})).await;
        assert_eq!(r["data"]["code"], "VALIDATION_ERROR", "{bad}: {r}");
    }
    assert_eq!(c.request("list", json!({})).await["data"]["monitors"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn sign_heartbeats_is_taken_by_ws_and_chat_and_stored() {
    let g = -1001000000405;
    let (fake, app) = telegram_app(&g.to_string(), &[]).await;
    let mut c = app.ws().await;
    let r = c
        .request(
            "add",
            json!({"target": "nightly", "kind": "push", "secret": "s3", "sign_heartbeats": true}),
        )
        .await;
    assert_eq!(r["type"], "added", "{r}");
    assert_eq!(r["data"]["sign_heartbeats"], true);
    let id = MonitorId(r["data"]["id"].as_u64().unwrap());
    let stored = app.running.store.monitor(id).unwrap().unwrap();
    assert!(stored.push.unwrap().sign_heartbeats);
    let r = c.request("add", json!({"target": "weekly", "kind": "push"})).await;
    assert_eq!(r["data"]["sign_heartbeats"], false, "unsigned heartbeats by default");
    let r = c
        .request("add", json!({"target": "x", "kind": "push", "sign_heartbeats": true}))
        .await;
    assert_eq!(r["data"]["code"], "VALIDATION_ERROR", "{r}");
    let r = ask(&fake, g, "/add push backup secret=abc sign_heartbeats=true").await;
    assert!(r.starts_with("✅ Added"), "{r}");
    let m = app
        .running
        .store
        .monitors()
        .unwrap()
        .into_iter()
        .find(|m| m.host == "backup")
        .unwrap();
    assert!(m.push.unwrap().sign_heartbeats && m.chat_added);
    app.stop().await;
}

#[tokio::test]
async fn cli_reads_http_as_ws_and_0_0_0_0_as_this_machine() {
    let app = spawn_app(&[]).await;
    let port = app.running.ws_addr.port();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_upbot"))
        .args(["list-mon", &format!("--server_address=http://0.0.0.0:{port}")])
        .env_remove("UPBOT_SERVER")
        .env_remove("UPBOT_WS_TOKEN")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ID"));
    app.stop().await;
}
