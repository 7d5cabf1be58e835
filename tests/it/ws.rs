//! The WebSocket control API over real sockets: handshake policy, every error code with
//! the connection still usable afterwards, request/reply round trips, subscriptions,
//! slow subscribers, idle timeout and shutdown.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use upbot::domain::{MonitorId, State};
use upbot::events::{ProbeEvent, StateEvent};

use crate::helpers::{WAIT, WsClient, connect_with, spawn_app};

/// Sends `ping` and expects the `pong` for it: proves the connection still works.
async fn assert_usable(c: &mut WsClient) {
    let r = c.request("ping", json!({})).await;
    assert_eq!(r["type"], "pong", "{r}");
    assert!(r["data"]["server_time"].is_string());
}

/// Sends a raw text frame and returns the next error's code (ignoring nothing else).
async fn error_code_for(c: &mut WsClient, text: &str) -> String {
    c.send_text(text).await;
    let v = c.recv().await;
    assert_eq!(v["type"], "error", "{text} → {v}");
    assert!(v["data"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    v["data"]["code"].as_str().unwrap().to_string()
}

fn probe(id: u64, chat: Option<i64>) -> ProbeEvent {
    ProbeEvent {
        monitor_id: MonitorId(id),
        chat_id: chat,
        ok: true,
        rtt_ms: Some(1.5),
        error: None,
        sent: 1,
        received: 1,
        at_ms: upbot::domain::now_ms(),
    }
}

fn state(id: u64, to: State) -> StateEvent {
    StateEvent {
        monitor_id: MonitorId(id),
        chat_id: None,
        name: format!("m{id}"),
        target: "10.0.0.1".into(),
        from: State::Pending,
        to,
        reason: "test".into(),
        announce: true,
        down_for_ms: None,
        at_ms: upbot::domain::now_ms(),
        oncall: None,
        acked_by: None,
        ack_reason: None,
        muted_until: None,
    }
}

/// Raw HTTP exchange for requests a WS client library will not send.
async fn raw_http(addr: std::net::SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(WAIT, s.read(&mut chunk)).await.unwrap().unwrap();
        buf.extend_from_slice(&chunk[..n]);
        if n == 0 || buf.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn handshake_policy_host_origin_and_plain_get() {
    let app = spawn_app(&[("UPBOT_WS_ORIGINS", "https://ops.example.com")]).await;
    let url = app.ws_url.clone();
    assert_eq!(
        connect_with(&url, &[("host", "evil.example:8765")]).await.err(),
        Some(403)
    );
    assert_eq!(
        connect_with(&url, &[("host", "127.0.0.1.nip.io")]).await.err(),
        Some(403)
    );
    assert_eq!(
        connect_with(&url, &[("origin", "https://evil.example")]).await.err(),
        Some(403)
    );
    for host in ["localhost", "localhost.:8765", "127.3.2.1", "[::1]:1"] {
        let mut c = connect_with(&url, &[("host", host)]).await.expect(host);
        assert_usable(&mut c).await;
    }
    let mut c = connect_with(&url, &[("origin", "https://ops.example.com")])
        .await
        .expect("listed origin");
    assert_usable(&mut c).await;
    // both paths serve the API
    let root = url.trim_end_matches("/ws").to_string() + "/";
    assert_usable(&mut WsClient::connect(&root).await).await;
    // a plain GET gets a hint, not a hang
    let addr = app.running.ws_addr;
    let resp = raw_http(addr, &format!("GET /ws HTTP/1.1\r\nHost: {addr}\r\n\r\n")).await;
    assert!(resp.starts_with("HTTP/1.1 426"), "{resp}");
    assert!(resp.contains("WebSocket API"), "{resp}");
    let resp = raw_http(addr, "GET /ws HTTP/1.1\r\nHost: evil.example\r\n\r\n").await;
    assert!(resp.starts_with("HTTP/1.1 403"), "{resp}");
    app.stop().await;
}

#[tokio::test]
async fn bearer_token_and_auth_message() {
    let app = spawn_app(&[("UPBOT_WS_TOKEN", "s3cret")]).await;
    let url = app.ws_url.clone();
    assert_eq!(
        connect_with(&url, &[("authorization", "Bearer wrong")]).await.err(),
        Some(401)
    );
    let mut ok = connect_with(&url, &[("authorization", "Bearer s3cret")]).await.unwrap();
    let r = ok.request("list", json!({})).await;
    assert_eq!(r["type"], "list", "{r}");

    // No header: accepted, but only ping and auth work until authenticated.
    let mut c = WsClient::connect(&url).await;
    let r = c.request("list", json!({})).await;
    assert_eq!(r["data"]["code"], "AUTHENTICATION_REQUIRED", "{r}");
    assert_eq!(
        error_code_for(&mut c, r#"{"cmd":"monitor","host":"127.0.0.1"}"#).await,
        "AUTHENTICATION_REQUIRED"
    );
    assert_eq!(
        error_code_for(&mut c, r#"{"type":"bogus"}"#).await,
        "AUTHENTICATION_REQUIRED"
    );
    assert_usable(&mut c).await;
    let r = c.request("auth", json!({"token": "nope"})).await;
    assert_eq!(r["type"], "error");
    assert_eq!(r["data"]["code"], "PERMISSION_DENIED", "{r}");
    assert_usable(&mut c).await;
    let r = c.request("list", json!({})).await;
    assert_eq!(r["data"]["code"], "AUTHENTICATION_REQUIRED", "{r}");
    let r = c.request("auth", json!({"token": "s3cret"})).await;
    assert_eq!(r["type"], "authenticated", "{r}");
    assert_eq!(r["data"]["authenticated"], true);
    let r = c.request("list", json!({})).await;
    assert_eq!(r["type"], "list", "{r}");
    app.stop().await;
}

#[tokio::test]
async fn connection_limit_answers_503() {
    let app = spawn_app(&[("UPBOT_WS_MAX_CONNECTIONS", "1")]).await;
    let mut first = app.ws().await;
    assert_usable(&mut first).await;
    assert_eq!(connect_with(&app.ws_url, &[]).await.err(), Some(503));
    first.ws.close(None).await.unwrap();
    // The permit is released when the server notices the close: poll, bounded.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut second = loop {
        match connect_with(&app.ws_url, &[]).await {
            Ok(c) => break c,
            Err(503) if tokio::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(s) => panic!("status {s}"),
        }
    };
    assert_usable(&mut second).await;
    app.stop().await;
}

#[tokio::test]
async fn every_error_code_leaves_the_connection_usable() {
    let app = spawn_app(&[]).await;
    let mut c = app.ws().await;

    // INVALID_MESSAGE_FORMAT
    for bad in ["not json", "[1,2,3]", "42", r#"{"data":{}}"#, r#"{"type":7}"#] {
        assert_eq!(error_code_for(&mut c, bad).await, "INVALID_MESSAGE_FORMAT", "{bad}");
        assert_usable(&mut c).await;
    }
    c.ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    let v = c.recv().await;
    assert_eq!(v["data"]["code"], "INVALID_MESSAGE_FORMAT", "{v}");
    assert_usable(&mut c).await;
    let big = json!({"type": "ping", "request_id": "big", "data": "x".repeat(3 << 19)}).to_string();
    assert!(big.len() > 1_500_000);
    let v = {
        c.send_text(&big).await;
        c.recv().await
    };
    assert_eq!(v["type"], "error", "oversize must not be answered with pong");
    assert_eq!(v["data"]["code"], "INVALID_MESSAGE_FORMAT");
    assert!(v["data"]["message"].as_str().unwrap().contains("1 MiB"), "{v}");
    assert_usable(&mut c).await;

    // UNKNOWN_MESSAGE_TYPE
    let r = c.request("launch", json!({})).await;
    assert_eq!(r["data"]["code"], "UNKNOWN_MESSAGE_TYPE", "{r}");
    assert_usable(&mut c).await;

    // VALIDATION_ERROR, each naming what is wrong
    for (data, needle) in [
        (json!({"target": "bad host!"}), "invalid host"),
        (json!({"target": "127.0.0.1", "chat_id": 42}), "bot"),
        (json!({"target": "127.0.0.1", "colour": "red"}), "colour"),
        (json!({"target": "127.0.0.1", "interval": "forever"}), "interval"),
        (json!({"target": "127.0.0.1", "fails": "many"}), "fails"),
    ] {
        let r = c.request("add", data.clone()).await;
        assert_eq!(r["data"]["code"], "VALIDATION_ERROR", "{data} → {r}");
        let msg = r["data"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{data} → {msg}");
        assert_usable(&mut c).await;
    }

    // NOT_FOUND
    let r = c.request("del", json!({"id": 999})).await;
    assert_eq!(r["data"]["code"], "NOT_FOUND", "{r}");
    assert_usable(&mut c).await;

    // ALREADY_EXISTS
    let r = c.request("add", json!({"target": "127.0.0.1:9"})).await;
    assert_eq!(r["type"], "added", "{r}");
    let r = c.request("add", json!({"target": "127.0.0.1:9"})).await;
    assert_eq!(r["data"]["code"], "ALREADY_EXISTS", "{r}");
    assert_usable(&mut c).await;
    app.stop().await;
}

#[tokio::test]
async fn rate_limit_errors_then_recovers() {
    let app = spawn_app(&[("UPBOT_WS_RATE", "5")]).await;
    let mut c = app.ws().await;
    for i in 0..50 {
        c.send(json!({"type": "ping", "request_id": i})).await;
    }
    let (mut pongs, mut limited) = (0, 0);
    for _ in 0..50 {
        let v = c.recv().await;
        match (v["type"].as_str(), v["data"]["code"].as_str()) {
            (Some("pong"), _) => pongs += 1,
            (Some("error"), Some("RATE_LIMIT_EXCEEDED")) => {
                assert!(v["request_id"].is_number(), "rate-limited replies echo the id: {v}");
                limited += 1
            }
            _ => panic!("unexpected {v}"),
        }
    }
    assert_eq!(pongs + limited, 50);
    assert!(limited >= 40, "burst is 5, got {pongs} pongs and {limited} errors");
    assert!(pongs >= 5, "{pongs}");
    // After the window it works again (poll: the limiter refills at 5/s).
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let r = c.request("ping", json!({})).await;
        if r["type"] == "pong" {
            break;
        }
        assert_eq!(r["data"]["code"], "RATE_LIMIT_EXCEEDED");
        assert!(tokio::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn request_ids_timestamps_and_string_ids() {
    let app = spawn_app(&[]).await;
    let mut c = app.ws().await;
    c.send_text(r#"{"type":"ping","request_id":"abc-1"}"#).await;
    let v = c.recv().await;
    assert_eq!(v["request_id"], "abc-1");
    c.send_text(r#"{"type":"ping","request_id":42}"#).await;
    let v = c.recv().await;
    assert_eq!(v["request_id"], json!(42));
    assert!(v["request_id"].is_u64());
    c.send_text(r#"{"type":"ping"}"#).await;
    let v = c.recv().await;
    assert!(v.get("request_id").is_none(), "{v}");
    humantime::parse_rfc3339(v["timestamp"].as_str().unwrap()).expect("RFC 3339 timestamp");
    humantime::parse_rfc3339(v["data"]["server_time"].as_str().unwrap()).unwrap();
    // an error echoes the request id too
    c.send_text(r#"{"type":"nope","request_id":"e1"}"#).await;
    let v = c.recv().await;
    assert_eq!(
        (v["type"].as_str(), v["request_id"].as_str()),
        (Some("error"), Some("e1"))
    );
    humantime::parse_rfc3339(v["timestamp"].as_str().unwrap()).unwrap();

    // ids and numbers as strings
    let r = c
        .request(
            "add",
            json!({"target": "127.0.0.1", "kind": "tcp", "port": "8080", "fails": "4"}),
        )
        .await;
    assert_eq!(r["type"], "added", "{r}");
    assert_eq!(
        (r["data"]["port"].as_u64(), r["data"]["fails"].as_u64()),
        (Some(8080), Some(4))
    );
    let id = r["data"]["id"].as_u64().unwrap();
    let r = c.request("status", json!({"id": id.to_string()})).await;
    assert_eq!(r["type"], "status", "{r}");
    assert_eq!(r["data"]["id"], json!(id));
    app.stop().await;
}

#[tokio::test]
async fn command_round_trip_and_chat_filter() {
    let app = spawn_app(&[]).await;
    crate::helpers::register_bot(&app.running.service, "testbot");
    let mut c = app.ws().await;
    let r = c
        .request(
            "add",
            json!({"target": "127.0.0.1:5432", "interval": "30s", "name": "db", "recovers": 1, "timeout": 1}),
        )
        .await;
    assert_eq!(r["type"], "added", "{r}");
    let m = &r["data"];
    for key in [
        "id", "kind", "target", "host", "port", "interval", "fails", "recovers", "name", "chat_id", "state", "paused",
    ] {
        assert!(m.get(key).is_some(), "monitor object lacks {key}: {m}");
    }
    assert_eq!(m["kind"], "tcp");
    assert_eq!(m["host"], "127.0.0.1");
    assert_eq!(m["port"], 5432);
    assert_eq!(m["interval"], 30.0);
    assert_eq!(m["name"], "db");
    assert_eq!(m["state"], "pending");
    assert_eq!(m["paused"], false);
    let id = m["id"].as_u64().unwrap();

    let r = c.request("add", json!({"target": "127.0.0.2", "chat_id": "42"})).await;
    assert_eq!(r["type"], "added", "{r}");
    assert_eq!(r["data"]["chat_id"], 42);
    assert_eq!(r["data"]["bot"], "testbot");
    let chat_mon = r["data"]["id"].as_u64().unwrap();

    let r = c.request("list", json!({})).await;
    assert_eq!(r["data"]["monitors"].as_array().unwrap().len(), 2);
    let r = c.request("list", json!({"chat_id": 42})).await;
    let ids: Vec<u64> = r["data"]["monitors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![chat_mon]);
    let r = c.request("list", json!({"chat_id": "43"})).await;
    assert_eq!(r["data"]["monitors"], json!([]));

    let r = c.request("status", json!({"id": id})).await;
    assert_eq!(r["type"], "status");
    assert_eq!(r["data"]["target"], "127.0.0.1:5432");
    assert!(r["data"]["stats"].is_object(), "{r}");

    let r = c.request("pause", json!({"id": id})).await;
    assert_eq!(
        (r["type"].as_str(), r["data"]["paused"].as_bool()),
        (Some("paused"), Some(true))
    );
    assert_eq!(r["data"]["state"], "paused");
    let r = c.request("resume", json!({"id": id})).await;
    assert_eq!(
        (r["type"].as_str(), r["data"]["paused"].as_bool()),
        (Some("resumed"), Some(false))
    );
    assert_eq!(r["data"]["state"], "pending");

    let r = c.request("del", json!({"id": id})).await;
    assert_eq!(r["type"], "deleted");
    assert_eq!(r["data"]["id"], json!(id));
    let r = c.request("del", json!({"id": chat_mon})).await;
    assert_eq!(r["type"], "deleted");
    let r = c.request("list", json!({})).await;
    assert_eq!(r["data"]["monitors"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn subscribe_filters_and_unsubscribe() {
    let app = spawn_app(&[]).await;
    let events = app.running.service.events().clone();
    let mut c = app.ws().await;
    let r = c
        .request(
            "subscribe",
            json!({"event_types": ["probe", "state"], "filters": {"monitor_ids": [1, "3"]}}),
        )
        .await;
    assert_eq!(r["type"], "subscribed", "{r}");
    assert_eq!(r["data"]["event_types"], json!(["probe", "state"]));
    assert_eq!(r["data"]["filters"]["monitor_ids"], json!([1, 3]));

    // Events of one channel arrive in order, so a filtered-out event published first
    // would show up before the matching one.
    events.probe(probe(2, None));
    events.probe(probe(1, None));
    let v = c.recv().await;
    assert_eq!(v["type"], "probe", "{v}");
    assert_eq!(
        v["data"],
        json!({"monitor_id": 1, "ok": true, "rtt_ms": 1.5, "error": null, "sent": 1, "received": 1})
    );
    humantime::parse_rfc3339(v["timestamp"].as_str().unwrap()).unwrap();
    events.state(state(2, State::Down));
    events.state(state(3, State::Down));
    let v = c.recv().await;
    assert_eq!(
        (v["type"].as_str(), v["data"]["monitor_id"].as_u64()),
        (Some("state"), Some(3))
    );
    assert_eq!(v["data"]["from"], "pending");
    assert_eq!(v["data"]["to"], "down");
    assert_eq!(v["data"]["reason"], "test");
    assert_usable(&mut c).await;

    // chat filter (replaces the monitor filter)
    let r = c
        .request(
            "subscribe",
            json!({"event_types": ["probe"], "filters": {"chat_ids": [-100]}}),
        )
        .await;
    assert_eq!(r["data"]["filters"], json!({"monitor_ids": null, "chat_ids": [-100]}));
    events.probe(probe(5, Some(7)));
    events.probe(probe(6, None));
    events.probe(probe(8, Some(-100)));
    let v = c.recv().await;
    assert_eq!(v["data"]["monitor_id"], 8, "{v}");

    // unsubscribe probe: state still flows, probes no longer
    let r = c.request("unsubscribe", json!({"event_types": ["probe"]})).await;
    assert_eq!(r["type"], "unsubscribed");
    assert_eq!(r["data"]["event_types"], json!(["state"]));
    events.probe(probe(8, Some(-100)));
    let mut st = state(9, State::Up);
    st.chat_id = Some(-100);
    events.state(st);
    let v = c.recv().await;
    assert_eq!(
        (v["type"].as_str(), v["data"]["monitor_id"].as_u64()),
        (Some("state"), Some(9))
    );
    assert_usable(&mut c).await;
    let r = c.request("unsubscribe", json!({})).await;
    assert_eq!(r["data"]["event_types"], json!([]));
    assert!(!events.wants_probes());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_subscriber_loses_probe_events_never_state_events() {
    let app = spawn_app(&[]).await;
    let events = app.running.service.events().clone();
    let mut c = app.ws().await;
    let r = c.request("subscribe", json!({"event_types": ["probe", "state"]})).await;
    assert_eq!(r["type"], "subscribed");

    // The client reads nothing while the burst is published.
    let started = std::time::Instant::now();
    for i in 0..200_000u64 {
        events.probe(probe(i % 100, None));
    }
    for id in [1001, 1002, 1003] {
        events.state(state(id, State::Down));
    }
    let published = started.elapsed();

    let mut states = Vec::new();
    let (mut dropped, mut probes, mut notices) = (0u64, 0u64, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for _ in 0..400_000 {
        if states.len() == 3 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "too slow");
        let v = c.recv().await;
        match v["type"].as_str() {
            Some("probe") => probes += 1,
            Some("events_dropped") => {
                let n = v["data"]["count"].as_u64().unwrap();
                assert!(n > 0);
                dropped += n;
                notices += 1;
            }
            Some("state") => states.push(v["data"]["monitor_id"].as_u64().unwrap()),
            _ => panic!("unexpected {v}"),
        }
    }
    eprintln!(
        "published 200k probes in {published:?}; delivered {probes}, dropped {dropped} ({notices} notices) in {:?}",
        started.elapsed()
    );
    assert_eq!(states, vec![1001, 1002, 1003]);
    assert!(notices >= 1 && dropped > 0, "an events_dropped notice must arrive");
    assert!(probes + dropped <= 200_000, "{probes} + {dropped}");
    assert_usable(&mut c).await;
    app.stop().await;
}

/// Reads one server frame (unmasked) from a raw socket: (opcode, payload).
async fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).await.unwrap();
    let len = match h[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            s.read_exact(&mut b).await.unwrap();
            u64::from(u16::from_be_bytes(b))
        }
        127 => {
            let mut b = [0u8; 8];
            s.read_exact(&mut b).await.unwrap();
            u64::from_be_bytes(b)
        }
        n => u64::from(n),
    };
    let mut payload = vec![0u8; len as usize];
    s.read_exact(&mut payload).await.unwrap();
    (h[0] & 0x0f, payload)
}

#[tokio::test]
async fn idle_connection_gets_a_close_frame() {
    let app = spawn_app(&[("UPBOT_WS_IDLE_TIMEOUT", "1s")]).await;
    let addr = app.running.ws_addr;
    // A raw client that never answers Pings (a WS library would answer them).
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        tokio::time::timeout(WAIT, s.read_exact(&mut b)).await.unwrap().unwrap();
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    let started = std::time::Instant::now();
    let mut pings = 0;
    let (code, reason) = loop {
        let (op, payload) = tokio::time::timeout(WAIT, read_frame(&mut s))
            .await
            .expect("a frame in time");
        match op {
            0x9 => pings += 1,
            0x8 => {
                break (
                    u16::from_be_bytes([payload[0], payload[1]]),
                    String::from_utf8_lossy(&payload[2..]).into_owned(),
                );
            }
            other => panic!("unexpected opcode {other}"),
        }
    };
    assert_eq!((code, reason.as_str()), (1000, "idle timeout"));
    assert!(pings >= 1, "the server pings before giving up");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn shutdown_sends_close_1001() {
    let app = spawn_app(&[]).await;
    let mut c = app.ws().await;
    assert_usable(&mut c).await;
    let stop = tokio::spawn(async move { app.running.stop().await });
    let frame = loop {
        let msg = tokio::time::timeout(WAIT, c.ws.next())
            .await
            .expect("close in time")
            .expect("a frame before the end")
            .expect("no error");
        if let Message::Close(f) = msg {
            break f.expect("a close frame with a code");
        }
    };
    assert_eq!(frame.code, CloseCode::Away);
    assert_eq!(frame.reason.as_str(), "server shutting down");
    tokio::time::timeout(WAIT, stop)
        .await
        .expect("shutdown in time")
        .unwrap()
        .unwrap();
}

/// A tmpfs mounted on a directory for the life of the guard (lazy unmount even on panic).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Self {
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount runs");
        assert!(st.success(), "mount tmpfs on {}", dir.display());
        Self(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test]
async fn full_disk_is_internal_error_and_the_connection_survives() {
    if crate::helpers::skip_without_root("full_disk_is_internal_error_and_the_connection_survives") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let _fs = Tmpfs::mount(dir.path(), "1m");
    let app = crate::helpers::spawn_app_in(dir, &[]).await;
    let mut c = app.ws().await;
    let mut failed = None;
    for i in 0..5_000u32 {
        let target = format!("10.{}.{}.{}", i / 62_500, i / 250 % 250, i % 250 + 1);
        let r = c
            .request(
                "add",
                json!({"target": target, "name": format!("a rather long monitor name {i}")}),
            )
            .await;
        if r["type"] == "error" {
            failed = Some((i, r));
            break;
        }
        assert_eq!(r["type"], "added", "{r}");
    }
    let (n, r) = failed.expect("a 1 MiB store fills up within 5000 monitors");
    eprintln!("store full after {n} monitors: {r}");
    assert_eq!(r["data"]["code"], "INTERNAL_ERROR", "{r}");
    let msg = r["data"]["message"].as_str().unwrap();
    assert!(!msg.contains("No space"), "details stay in the log: {msg}");
    assert_usable(&mut c).await;
    let r = c.request("list", json!({})).await;
    assert_eq!(r["data"]["monitors"].as_array().unwrap().len() as u32, n);
    // The final flush fails too; the server still stops.
    let _ = tokio::time::timeout(WAIT, app.running.stop())
        .await
        .expect("stops in time");
}

#[tokio::test]
async fn message_over_the_hard_cap_ends_only_that_connection() {
    let app = spawn_app(&[]).await;
    let mut other = app.ws().await;
    let mut c = app.ws().await;
    let huge = json!({"type": "ping", "data": "x".repeat(5 << 20)}).to_string();
    // The server stops reading at the frame header, so the send itself may fail.
    let _ = c.ws.send(Message::text(huge)).await;
    let end = tokio::time::timeout(WAIT, async {
        loop {
            match c.ws.next().await {
                Some(Ok(Message::Close(f))) => break f.map(|f| f.code),
                Some(Ok(_)) => continue,
                // A reset may overtake the close frame: the connection ended either way.
                Some(Err(_)) | None => break None,
            }
        }
    })
    .await
    .expect("the oversized connection ends");
    eprintln!("hard cap end: {end:?}");
    if let Some(code) = end {
        assert_eq!(code, CloseCode::Size);
    }
    assert_usable(&mut other).await;
    app.stop().await;
}

#[tokio::test]
async fn telegram_notices_reach_state_subscribers_through_the_chat_filter() {
    use upbot::events::{NoticeEvent, NoticeKind};
    const MINE: i64 = -1001000000301;
    let app = spawn_app(&[]).await;
    let mut c = app.ws().await;
    let r = c
        .request(
            "subscribe",
            json!({"event_types": ["state"], "filters": {"chat_ids": [MINE]}}),
        )
        .await;
    assert_eq!(r["type"], "subscribed", "{r}");
    let notice = |chat_id: i64| NoticeEvent {
        kind: NoticeKind::BotRemoved,
        bot: "mon_bot".into(),
        chat_id,
        new_chat_id: None,
        monitor_ids: vec![MonitorId(4)],
        message: "Forbidden: bot was kicked from the supergroup chat".into(),
    };
    let events = app.running.service.events();
    events.notice(notice(-1001000000999)); // another chat: filtered out
    events.notice(notice(MINE));
    // The first notice would arrive first if the filter let it through.
    let v = c.recv().await;
    assert_eq!(
        (v["type"].as_str(), v["data"]["chat_id"].as_i64()),
        (Some("notice"), Some(MINE)),
        "{v}"
    );
    assert_eq!(v["data"]["kind"], "bot_removed");
    assert_eq!(v["data"]["monitor_ids"], json!([4]));
    assert!(v["timestamp"].is_string());
    app.stop().await;
}
