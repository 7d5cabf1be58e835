//! The HTTP receiver end to end: push monitors created through the command core, then
//! driven over real HTTP against the running server (status codes, signatures,
//! heartbeat deadlines, restart, token rotation, alerts in the outbox, /metrics).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use upbot::core::{AddRequest, Caller, Command, CoreError, MonitorView, Reply, Selector};
use upbot::domain::{Kind, MonitorId, State};
use upbot::events::{StateEvent, Subscription};

use crate::helpers::{TestApp, WAIT, spawn_app, spawn_app_in};

/// The receiver's base URL (the configured public URL says port 0 in tests).
fn base(app: &TestApp) -> String {
    format!("http://{}", app.running.http_addr)
}

/// A URL the server showed the user, pointed at the real port.
fn local(app: &TestApp, shown: &str) -> String {
    let public = app.running.service.public_url().to_string();
    assert!(shown.starts_with(&public), "{shown} does not start with {public}");
    format!("{}{}", base(app), &shown[public.len()..])
}

fn push_req(name: &str) -> AddRequest {
    AddRequest {
        target: name.into(),
        kind: Some(Kind::Push),
        ..AddRequest::default()
    }
}

/// A push monitor with `secret`.
fn signed_req(name: &str, secret: &str) -> AddRequest {
    AddRequest {
        secret: Some(secret.into()),
        ..push_req(name)
    }
}

async fn add(app: &TestApp, caller: &Caller, req: AddRequest) -> Result<MonitorView, CoreError> {
    match app.running.service.execute(caller, Command::Add(Box::new(req))).await? {
        Reply::Added(v) => Ok(v),
        other => panic!("unexpected reply {other:?}"),
    }
}

async fn add_push(app: &TestApp, req: AddRequest) -> (MonitorView, String, String) {
    let v = add(app, &Caller::Operator, req).await.unwrap();
    let hook = local(app, v.webhook_url.as_deref().unwrap());
    let beat = local(app, v.heartbeat_url.as_deref().unwrap());
    (v, hook, beat)
}

async fn status(app: &TestApp, id: MonitorId) -> MonitorView {
    match app
        .running
        .service
        .execute(&Caller::Operator, Command::Status(Selector::Id(id)))
        .await
        .unwrap()
    {
        Reply::Status(s) => s.monitor,
        other => panic!("unexpected reply {other:?}"),
    }
}

/// Next state event of monitor `id` (bounded by [`WAIT`]).
async fn next_state(sub: &mut Subscription, id: MonitorId) -> Arc<StateEvent> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = tokio::time::timeout_at(deadline, sub.state.recv())
            .await
            .expect("a state event in time")
            .expect("event bus open");
        if ev.monitor_id == id {
            return ev;
        }
    }
}

/// Sends a request and returns (status, JSON body).
async fn send(rb: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = rb.timeout(WAIT).send().await.expect("HTTP request");
    let code = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("non-JSON answer {code} {text:?}: {e}"));
    (code, v)
}

fn hmac_hex(key: &[u8], body: &[u8]) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

/// Standard Webhooks headers for `body` signed with `key` at `ts`.
fn standard(key: &[u8], id: &str, ts: i64, body: &[u8]) -> [(&'static str, String); 3] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(format!("{id}.{ts}.").as_bytes());
    m.update(body);
    let sig = base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes());
    [
        ("webhook-id", id.to_string()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", format!("v1,{sig}")),
    ]
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn post(url: &str, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
    reqwest::Client::new().post(url).body(body)
}

#[tokio::test]
async fn status_reports_answer_every_documented_code() {
    let app = spawn_app(&[]).await;
    let mut sub = app.running.service.events().subscribe();
    let (v, hook, beat) = add_push(&app, push_req("backup")).await;
    assert_eq!(
        (v.kind, v.state, v.target.as_str()),
        (Kind::Push, State::Pending, "backup")
    );
    let token = hook.rsplit('/').next().unwrap().to_string();
    assert_eq!(token.len(), 64, "256-bit hex token");
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(beat, format!("{hook}/heartbeat"));

    // up: 200 with the documented shape; the state is saved before the answer
    let (code, body) = send(post(&hook, r#"{"status":"up","message":"ok","metadata":{"run":1}}"#)).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body,
        json!({"success": true, "monitor": {"id": v.id.0, "name": "backup", "status": "up"}})
    );
    // fields in the documented order, for people who read the raw answer
    let raw = post(&hook, r#"{"status":"up"}"#)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        raw,
        format!(
            r#"{{"success":true,"monitor":{{"id":{},"name":"backup","status":"up"}}}}"#,
            v.id
        )
    );
    let saved = app.running.store.health(v.id).unwrap().unwrap();
    assert_eq!(saved.state, State::Up);
    let ev = next_state(&mut sub, v.id).await;
    assert_eq!((ev.from, ev.to, ev.announce), (State::Pending, State::Up, true));

    // degraded, then down: at once, with the message as the reason
    let (code, body) = send(post(&hook, r#"{"status":"degraded","message":"queue 80% full"}"#)).await;
    assert_eq!((code, body["monitor"]["status"].as_str()), (200, Some("degraded")));
    let ev = next_state(&mut sub, v.id).await;
    assert_eq!((ev.to, ev.reason.as_str()), (State::Degraded, "queue 80% full"));
    let (code, body) = send(post(&hook, r#"{"status": "down",  "message": "disk full"}"#)).await;
    assert_eq!((code, body["monitor"]["status"].as_str()), (200, Some("down")));
    let ev = next_state(&mut sub, v.id).await;
    assert_eq!(
        (ev.to, ev.reason.as_str(), ev.announce),
        (State::Down, "disk full", true)
    );
    assert_eq!(app.running.store.health(v.id).unwrap().unwrap().state, State::Down);

    // a heartbeat counts as up, and reports when it arrived
    let (code, body) = send(reqwest::Client::new().get(&beat)).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["success"], json!(true));
    assert_eq!(body["monitor"]["id"], json!(v.id.0));
    assert_eq!(body["monitor"]["name"], json!("backup"));
    let last = body["monitor"]["lastHeartbeat"].as_str().unwrap();
    assert!(humantime::parse_rfc3339(last).is_ok(), "{last}");
    let ev = next_state(&mut sub, v.id).await;
    assert_eq!(ev.to, State::Up);
    assert!(ev.down_for_ms.is_some(), "recovery says how long it was down");
    let (code, _) = send(post(&beat, "")).await;
    assert_eq!(code, 200);

    // 400: malformed JSON, unknown status, missing status
    for (bad, needle) in [
        (r#"{"status":"up""#, "invalid JSON"),
        ("", "invalid JSON"),
        (r#"{"message":"no status"}"#, "status"),
        (r#"{"status":"sideways"}"#, "unknown status"),
        (r#"{"status":"up","metadata":[1]}"#, "metadata"),
    ] {
        let (code, body) = send(post(&hook, bad)).await;
        assert_eq!(code, 400, "{bad:?}: {body}");
        let err = body["error"].as_str().unwrap();
        assert!(err.contains(needle), "{bad:?}: {err}");
    }

    // 404: unknown token, on every endpoint, including a prefix of the real one
    let unknown = format!("{}/webhooks/{}", base(&app), "0".repeat(64));
    for url in [
        unknown.clone(),
        format!("{unknown}/heartbeat"),
        format!("{}/webhooks/{}", base(&app), &token[..32]),
    ] {
        let (code, body) = send(post(&url, r#"{"status":"up"}"#)).await;
        assert_eq!(code, 404, "{url}");
        assert!(body["error"].is_string());
    }

    // 413: over 64 KiB (well-formed JSON, so only the size is wrong)
    let big = format!(r#"{{"status":"up","message":"{}"}}"#, "x".repeat(70 * 1024));
    let (code, body) = send(post(&hook, big)).await;
    assert_eq!(code, 413, "{body}");
    // exactly at the limit is fine
    let pad = 64 * 1024 - r#"{"status":"up","message":""}"#.len();
    let (code, _) = send(post(
        &hook,
        format!(r#"{{"status":"up","message":"{}"}}"#, "y".repeat(pad)),
    ))
    .await;
    assert_eq!(code, 200);

    // GET on the report URL: a clear 405
    let (code, body) = send(reqwest::Client::new().get(&hook)).await;
    assert_eq!(code, 405);
    assert!(body["error"].as_str().unwrap().contains("heartbeat"));

    // a paused monitor accepts reports without changing state
    app.running
        .service
        .execute(&Caller::Operator, Command::Pause(Selector::Id(v.id)))
        .await
        .unwrap();
    let (code, body) = send(post(&hook, r#"{"status":"down","message":"ignored"}"#)).await;
    assert_eq!((code, body["monitor"]["status"].as_str()), (200, Some("paused")));
    assert_eq!(status(&app, v.id).await.state, State::Paused);
    app.stop().await;
}

#[tokio::test]
async fn flooding_one_token_gets_429_with_retry_after() {
    let app = spawn_app(&[]).await;
    let (_, _, beat) = add_push(&app, push_req("chatty")).await;
    let (_, other, _) = add_push(&app, push_req("quiet")).await;
    let client = reqwest::Client::new();
    let mut codes = Vec::new();
    let mut retry_after = None;
    for _ in 0..30 {
        let resp = client.get(&beat).timeout(WAIT).send().await.unwrap();
        let code = resp.status().as_u16();
        if code == 429 && retry_after.is_none() {
            retry_after = resp
                .headers()
                .get("retry-after")
                .map(|h| h.to_str().unwrap().to_string());
            let body: Value = resp.json().await.unwrap();
            assert!(body["error"].as_str().unwrap().contains("rate limit"), "{body}");
        }
        codes.push(code);
    }
    assert!(
        codes[..20].iter().all(|c| *c == 200),
        "the burst of 20 passes: {codes:?}"
    );
    assert!(codes.contains(&429), "{codes:?}");
    let retry: u64 = retry_after.expect("Retry-After on the 429").parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // the limit is per monitor: another one is unaffected
    let (code, _) = send(post(&other, r#"{"status":"up"}"#)).await;
    assert_eq!(code, 200);
    app.stop().await;
}

#[tokio::test]
async fn signatures_simple_and_standard_webhooks() {
    let app = spawn_app(&[]).await;
    let secret = "s3cret-for-tests";
    let (v, hook, beat) = add_push(&app, signed_req("signed", secret)).await;
    assert_eq!(v.signed, Some(true));
    let body = r#"{"status": "up", "message":"signed"}"#;
    let good = hmac_hex(secret.as_bytes(), body.as_bytes());

    // missing and bad signatures: 401 with an error
    let (code, b) = send(post(&hook, body)).await;
    assert_eq!(code, 401);
    assert!(b["error"].as_str().unwrap().contains("signature"), "{b}");
    let bad = hmac_hex(b"wrong secret", body.as_bytes());
    let (code, _) = send(post(&hook, body).header("X-Webhook-Signature", &bad)).await;
    assert_eq!(code, 401);
    // signed over the re-serialised JSON instead of the raw bytes
    let reser = serde_json::to_string(&serde_json::from_str::<Value>(body).unwrap()).unwrap();
    let (code, _) =
        send(post(&hook, body).header("X-Webhook-Signature", hmac_hex(secret.as_bytes(), reser.as_bytes()))).await;
    assert_eq!(code, 401);
    assert_eq!(
        status(&app, v.id).await.state,
        State::Pending,
        "refused requests change nothing"
    );

    // good: plain hex and sha256= prefix
    let (code, b) = send(post(&hook, body).header("X-Webhook-Signature", &good)).await;
    assert_eq!((code, b["monitor"]["status"].as_str()), (200, Some("up")), "{b}");
    let (code, _) = send(post(&hook, body).header("X-Webhook-Signature", format!("sha256={good}"))).await;
    assert_eq!(code, 200);

    // Standard Webhooks with a secret without prefix: key = its bytes
    let now = unix_now();
    let hdrs = standard(secret.as_bytes(), "msg_1", now, body.as_bytes());
    let mut rb = post(&hook, body);
    for (k, val) in &hdrs {
        rb = rb.header(*k, val);
    }
    let (code, b) = send(rb).await;
    assert_eq!(code, 200, "{b}");
    // replayed: same id, same signature
    let mut rb = post(&hook, body);
    for (k, val) in &hdrs {
        rb = rb.header(*k, val);
    }
    let (code, b) = send(rb).await;
    assert_eq!(code, 401);
    assert!(b["error"].as_str().unwrap().contains("already used"), "{b}");
    // stale, both directions
    for ts in [now - 400, now + 400] {
        let mut rb = post(&hook, body);
        for (k, val) in standard(secret.as_bytes(), &format!("msg_{ts}"), ts, body.as_bytes()) {
            rb = rb.header(k, val);
        }
        let (code, b) = send(rb).await;
        assert_eq!(code, 401);
        assert!(b["error"].as_str().unwrap().contains("5 minutes"), "{b}");
    }

    // heartbeat with a secret: unsigned by default (the seeds' senders are plain
    // fetches); a signed one (empty body) is accepted too
    let (code, b) = send(reqwest::Client::new().get(&beat)).await;
    assert_eq!(code, 200, "{b}");
    let mut rb = reqwest::Client::new().get(&beat);
    for (k, val) in standard(secret.as_bytes(), "beat_1", unix_now(), b"") {
        rb = rb.header(k, val);
    }
    let (code, b) = send(rb).await;
    assert_eq!(code, 200, "{b}");

    // whsec_ secrets: Standard Webhooks uses the base64-decoded key
    let key = [7u8; 32];
    let whsec = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(key));
    let (_, hook2, _) = add_push(&app, signed_req("standard", &whsec)).await;
    let body2 = br#"{"status":"degraded","message":"slow"}"#;
    let mut rb = post(&hook2, &body2[..]);
    for (k, val) in standard(&key, "msg_a", unix_now(), body2) {
        rb = rb.header(k, val);
    }
    let (code, b) = send(rb).await;
    assert_eq!((code, b["monitor"]["status"].as_str()), (200, Some("degraded")), "{b}");
    let mut rb = post(&hook2, &body2[..]);
    for (k, val) in standard(whsec.as_bytes(), "msg_b", unix_now(), body2) {
        rb = rb.header(k, val);
    }
    let (code, _) = send(rb).await;
    assert_eq!(code, 401, "the whsec_ string itself is not the Standard Webhooks key");
    // the simple scheme signs with the secret exactly as shown (openssl -hmac "$SECRET")
    let (code, _) =
        send(post(&hook2, &body2[..]).header("X-Webhook-Signature", hmac_hex(whsec.as_bytes(), body2))).await;
    assert_eq!(code, 200);

    // a bad secret is refused at creation
    let err = add(
        &app,
        &Caller::Operator,
        AddRequest {
            secret: Some("whsec_!!!".into()),
            ..push_req("broken")
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "VALIDATION_ERROR");
    app.stop().await;
}

#[tokio::test]
async fn missed_heartbeat_goes_down_and_a_late_one_recovers() {
    let app = spawn_app(&[]).await;
    let mut sub = app.running.service.events().subscribe();
    let req = |name: &str| AddRequest {
        heartbeat: Some(Duration::from_secs(1)),
        grace: Some(Duration::from_secs(1)),
        ..push_req(name)
    };
    let created = Instant::now();
    let (silent, _, _) = add_push(&app, req("never-pinged")).await;
    let (v, _, beat) = add_push(&app, req("cron")).await;
    assert_eq!((v.heartbeat, v.grace), (Some(1.0), Some(1.0)));

    let sent = Instant::now();
    let (code, _) = send(reqwest::Client::new().get(&beat)).await;
    assert_eq!(code, 200);
    let ev = next_state(&mut sub, v.id).await;
    assert_eq!((ev.from, ev.to), (State::Pending, State::Up));

    // never pinged: DOWN heartbeat + grace after creation
    let ev = next_state(&mut sub, silent.id).await;
    assert_eq!((ev.from, ev.to, ev.announce), (State::Pending, State::Down, true));
    assert_eq!(ev.reason, "no heartbeat for 2s");
    assert!(
        created.elapsed() >= Duration::from_millis(1950),
        "{:?}",
        created.elapsed()
    );

    // pinged once: DOWN heartbeat + grace after that ping, not before
    let ev = next_state(&mut sub, v.id).await;
    let waited = sent.elapsed();
    assert_eq!((ev.from, ev.to, ev.announce), (State::Up, State::Down, true));
    assert_eq!(ev.reason, "no heartbeat for 2s");
    assert!(waited >= Duration::from_millis(1950), "went down after {waited:?}");
    assert!(waited < Duration::from_secs(4), "went down late: {waited:?}");
    let view = status(&app, v.id).await;
    assert_eq!((view.state, view.reason.as_str()), (State::Down, "no heartbeat for 2s"));

    // a late heartbeat recovers it and says how long it was down
    let (code, b) = send(post(&beat, "")).await;
    assert_eq!((code, b["monitor"]["status"].as_str()), (200, Some("up")));
    let ev = next_state(&mut sub, v.id).await;
    assert_eq!((ev.from, ev.to, ev.announce), (State::Down, State::Up, true));
    assert!(ev.down_for_ms.is_some());
    app.stop().await;
}

#[tokio::test]
async fn deadline_passed_while_stopped_goes_down_at_restart() {
    let app = spawn_app(&[]).await;
    let mut sub = app.running.service.events().subscribe();
    let (v, _, beat) = add_push(
        &app,
        AddRequest {
            heartbeat: Some(Duration::from_secs(1)),
            grace: Some(Duration::from_secs(1)),
            ..push_req("nightly")
        },
    )
    .await;
    let (code, _) = send(reqwest::Client::new().get(&beat)).await;
    assert_eq!(code, 200);
    assert_eq!(next_state(&mut sub, v.id).await.to, State::Up);
    let beat_path = beat[base(&app).len()..].to_string();
    let dir = app.stop().await;

    // upbot is down while the deadline (2 s after the heartbeat) passes; nothing can be
    // awaited here but the clock
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let app = spawn_app_in(dir, &[]).await;
    let mut sub = app.running.service.events().subscribe();
    let now = status(&app, v.id).await;
    let reason = if now.state == State::Down {
        now.reason
    } else {
        assert_eq!(
            now.state,
            State::Up,
            "the persisted state is kept until the deadline fires"
        );
        let ev = next_state(&mut sub, v.id).await;
        assert_eq!((ev.from, ev.to, ev.announce), (State::Up, State::Down, true));
        ev.reason.clone()
    };
    let secs: u64 = reason
        .strip_prefix("no heartbeat for ")
        .and_then(|s| s.strip_suffix('s'))
        .unwrap_or_else(|| panic!("reason {reason:?}"))
        .parse()
        .unwrap();
    assert!(secs >= 2, "{reason}");

    // the token survived the restart; a heartbeat brings it back
    let (code, b) = send(reqwest::Client::new().get(format!("{}{beat_path}", base(&app)))).await;
    assert_eq!((code, b["monitor"]["status"].as_str()), (200, Some("up")), "{b}");
    assert_eq!(next_state(&mut sub, v.id).await.to, State::Up);
    app.stop().await;
}

#[tokio::test]
async fn rotating_a_token_retires_the_old_urls() {
    let app = spawn_app(&[]).await;
    let (v, hook, beat) = add_push(&app, push_req("rotating")).await;
    let old_token = hook.rsplit('/').next().unwrap().to_string();
    let rotated = match app
        .running
        .service
        .execute(&Caller::Operator, Command::Rotate(Selector::Id(v.id)))
        .await
        .unwrap()
    {
        Reply::Rotated(r) => r,
        other => panic!("unexpected reply {other:?}"),
    };
    let new_hook = local(&app, rotated.webhook_url.as_deref().unwrap());
    assert_ne!(new_hook, hook);
    assert_eq!(rotated.id, v.id);
    for url in [&hook, &beat] {
        let (code, _) = send(post(url, r#"{"status":"up"}"#)).await;
        assert_eq!(code, 404, "{url}");
    }
    let (code, _) = send(post(&new_hook, r#"{"status":"up"}"#)).await;
    assert_eq!(code, 200);
    let store = &app.running.store;
    assert_eq!(store.push_token(&old_token).unwrap(), None);
    let new_token = new_hook.rsplit('/').next().unwrap();
    assert_eq!(store.push_token(new_token).unwrap(), Some(v.id));

    // only push monitors have tokens
    let tcp = add(
        &app,
        &Caller::Operator,
        AddRequest {
            target: "127.0.0.1:9".into(),
            ..AddRequest::default()
        },
    )
    .await
    .unwrap();
    let err = app
        .running
        .service
        .execute(&Caller::Operator, Command::Rotate(Selector::Id(tcp.id)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "VALIDATION_ERROR");
    assert_eq!(tcp.webhook_url, None);

    // deleting the monitor retires its token too
    app.running
        .service
        .execute(&Caller::Operator, Command::Del(Selector::Id(v.id)))
        .await
        .unwrap();
    let (code, _) = send(post(&new_hook, r#"{"status":"up"}"#)).await;
    assert_eq!(code, 404);
    assert_eq!(store.push_token(new_token).unwrap(), None);
    app.stop().await;
}

#[tokio::test]
async fn chat_push_monitor_alerts_reach_the_outbox() {
    let app = spawn_app(&[]).await;
    let service = &app.running.service;
    crate::helpers::register_bot(service, "test_bot");
    let chat = Caller::Chat {
        chat_id: 4242,
        bot: "test_bot".into(),
        thread_id: None,
        can_modify: true,
    };
    let req = AddRequest::parse_chat("push nightly heartbeat=5m grace=1m").unwrap();
    let v = add(&app, &chat, req.clone()).await.unwrap();
    assert_eq!((v.kind, v.state, v.chat_id), (Kind::Push, State::Pending, Some(4242)));
    assert_eq!((v.heartbeat, v.grace), (Some(300.0), Some(60.0)));
    assert!(v.webhook_url.is_some() && v.heartbeat_url.is_some());
    // the same name in the same chat: ALREADY_EXISTS; in another chat: fine
    assert_eq!(
        add(&app, &chat, req.clone()).await.unwrap_err().code(),
        "ALREADY_EXISTS"
    );
    let other = Caller::Chat {
        chat_id: 4343,
        bot: "test_bot".into(),
        thread_id: None,
        can_modify: true,
    };
    add(&app, &other, req).await.unwrap();
    // sane limits
    for bad in [
        "push x heartbeat=500ms",
        "push x grace=0s heartbeat=1m",
        "push x fails=3",
    ] {
        let err = add(&app, &chat, AddRequest::parse_chat(bad).unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "VALIDATION_ERROR", "{bad}: {err}");
    }
    let err = add(&app, &chat, AddRequest::parse_chat("db.lan heartbeat=5m").unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("push"), "{err}");

    let hook = local(&app, v.webhook_url.as_deref().unwrap());
    let (code, _) = send(post(&hook, r#"{"status":"down","message":"backup failed: disk full"}"#)).await;
    assert_eq!(code, 200);
    let (code, _) = send(post(&hook, r#"{"status":"up"}"#)).await;
    assert_eq!(code, 200);
    let outbox = app.running.store.outbox("test_bot").unwrap();
    assert_eq!(outbox.len(), 2, "{outbox:?}");
    let (_, down) = &outbox[0];
    assert_eq!((down.chat_id, down.monitor_id, down.kind), (4242, v.id, Kind::Push));
    assert_eq!(down.name, "nightly");
    assert_eq!(down.transition.to, State::Down);
    assert_eq!(down.transition.reason, "backup failed: disk full");
    let (_, up) = &outbox[1];
    assert_eq!(up.transition.to, State::Up);
    assert!(up.transition.down_for_ms.is_some());
    // status shows the push details to the chat
    let view = status(&app, v.id).await;
    assert!(view.last_heartbeat.is_some());
    app.stop().await;
}

/// Value of the sample `name` whose labels include `labels`.
fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            ref other => panic!("{name}: unexpected {other:?}"),
        })
}

#[tokio::test]
async fn healthz_and_metrics() {
    let app = spawn_app(&[]).await;
    let client = reqwest::Client::new();
    let (code, body) = send(client.get(format!("{}/healthz", base(&app)))).await;
    assert_eq!(code, 200);
    assert_eq!(body["status"], json!("ok"));
    assert_eq!(body["store"], json!("ok"));

    let (v, hook, _) = add_push(&app, push_req("scraped")).await;
    add_push(&app, push_req("idle")).await;
    for (body, want) in [
        (r#"{"status":"down"}"#, 200),
        (r#"{"status":"up"}"#, 200),
        ("nope", 400),
    ] {
        assert_eq!(send(post(&hook, body)).await.0, want);
    }
    let unknown = format!("{}/webhooks/{}", base(&app), "f".repeat(64));
    assert_eq!(send(post(&unknown, "{}")).await.0, 404);
    assert_eq!(status(&app, v.id).await.state, State::Up);

    let resp = client.get(format!("{}/metrics", base(&app))).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let text = resp.text().await.unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    // the 0.0.4 text format names counter families with their _total samples
    for family in [
        "upbot_monitors",
        "upbot_monitor_up",
        "upbot_probes_total",
        "upbot_probe_duration_seconds",
        "upbot_state_changes_total",
        "upbot_alerts_sent_total",
        "upbot_alerts_failed_total",
        "upbot_alerts_queued",
        "upbot_ws_connections",
        "upbot_webhook_requests_total",
        "upbot_http_connections",
        "upbot_http_connections_refused_total",
    ] {
        assert!(scrape.docs.contains_key(family), "family {family} missing in\n{text}");
    }
    let count = |code: &str| sample(&scrape, "upbot_webhook_requests_total", &[("code", code)]);
    assert_eq!(
        (count("200"), count("400"), count("404")),
        (Some(2.0), Some(1.0), Some(1.0)),
        "{text}"
    );
    assert_eq!(
        sample(&scrape, "upbot_monitors", &[("kind", "push"), ("state", "up")]),
        Some(1.0)
    );
    assert_eq!(
        sample(&scrape, "upbot_monitors", &[("kind", "push"), ("state", "pending")]),
        Some(1.0)
    );
    assert_eq!(
        sample(&scrape, "upbot_monitors", &[("kind", "ping"), ("state", "up")]),
        Some(0.0)
    );
    // pending → down → up: two state changes caused by webhooks
    assert_eq!(
        sample(&scrape, "upbot_state_changes_total", &[("to", "down")]),
        Some(1.0)
    );
    assert_eq!(sample(&scrape, "upbot_state_changes_total", &[("to", "up")]), Some(1.0));
    assert_eq!(sample(&scrape, "upbot_alerts_queued", &[]), Some(0.0));
    // hooks the other parts call show up too
    app.running.service.metrics().probe(true, Duration::from_millis(4));
    app.running.service.metrics().ws_connected();
    let text = client
        .get(format!("{}/metrics", base(&app)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    assert_eq!(sample(&scrape, "upbot_probes_total", &[("result", "ok")]), Some(1.0));
    assert_eq!(sample(&scrape, "upbot_ws_connections", &[]), Some(1.0));
    app.stop().await;
}

fn with_headers(mut rb: reqwest::RequestBuilder, hdrs: &[(&'static str, String)]) -> reqwest::RequestBuilder {
    for (k, v) in hdrs {
        rb = rb.header(*k, v);
    }
    rb
}

#[tokio::test]
async fn heartbeats_are_unsigned_unless_the_monitor_asks() {
    let app = spawn_app(&[]).await;
    let secret = "hb-secret";
    let (v, _, beat) = add_push(&app, signed_req("signed-reports", secret)).await;
    // the seeds' sender: a plain fetch, GET or POST, no signature
    let (code, b) = send(reqwest::Client::new().get(&beat)).await;
    assert_eq!((code, b["monitor"]["status"].as_str()), (200, Some("up")), "{b}");
    let (code, _) = send(post(&beat, "")).await;
    assert_eq!(code, 200);
    // saying more than "alive" still needs the secret: an unsigned Kuma-style DOWN
    // cannot page anyone
    let down = format!("{beat}?status=down&msg=forged");
    let (code, b) = send(reqwest::Client::new().get(&down)).await;
    assert_eq!(code, 401, "{b}");
    assert_eq!(status(&app, v.id).await.state, State::Up);
    let signed_get = reqwest::Client::new()
        .get(&down)
        .header("X-Webhook-Signature", hmac_hex(secret.as_bytes(), b""));
    let (code, b) = send(signed_get).await;
    assert_eq!((code, b["monitor"]["status"].as_str()), (200, Some("down")), "{b}");

    // sign_heartbeats=true: the plain heartbeat needs the signature too
    let (w, _, beat) = add_push(
        &app,
        AddRequest {
            sign_heartbeats: Some(true),
            ..signed_req("signed-beats", secret)
        },
    )
    .await;
    for rb in [reqwest::Client::new().get(&beat), post(&beat, "")] {
        let (code, b) = send(rb).await;
        assert_eq!(code, 401, "{b}");
        assert!(b["error"].as_str().unwrap().contains("signature"), "{b}");
    }
    assert_eq!(
        status(&app, w.id).await.state,
        State::Pending,
        "refused beats change nothing"
    );
    let signed = standard(secret.as_bytes(), "hb_1", unix_now(), b"");
    let (code, b) = send(with_headers(reqwest::Client::new().get(&beat), &signed)).await;
    assert_eq!((code, b["monitor"]["status"].as_str()), (200, Some("up")), "{b}");
    // and it survives a restart (the flag is stored with the monitor)
    let dir = app.stop().await;
    let app = spawn_app_in(dir, &[]).await;
    let beat = format!("{}{}", base(&app), &beat[beat.find("/webhooks/").unwrap()..]);
    let (code, _) = send(reqwest::Client::new().get(&beat)).await;
    assert_eq!(code, 401);
    app.stop().await;
}

#[tokio::test]
async fn kuma_push_form_is_a_status_report() {
    let app = spawn_app(&[]).await;
    let mut sub = app.running.service.events().subscribe();
    let (v, _, beat) = add_push(&app, push_req("kuma")).await;
    let get = |q: &str| reqwest::Client::new().get(format!("{beat}?{q}"));

    // Kuma's default push URL: a heartbeat
    let (code, b) = send(get("status=up&msg=OK&ping=")).await;
    assert_eq!((code, b["monitor"]["status"].as_str()), (200, Some("up")), "{b}");
    assert!(b["monitor"]["lastHeartbeat"].is_string(), "{b}");
    assert_eq!(next_state(&mut sub, v.id).await.to, State::Up);
    // status=down is a DOWN report with msg as the reason (it stayed up before)
    let (code, b) = send(get("status=down&msg=backup%20failed%3A%20disk%20full&ping=12")).await;
    assert_eq!((code, b["monitor"]["status"].as_str()), (200, Some("down")), "{b}");
    let ev = next_state(&mut sub, v.id).await;
    assert_eq!((ev.to, ev.reason.as_str()), (State::Down, "backup failed: disk full"));
    assert_eq!(status(&app, v.id).await.state, State::Down);
    // POST works the same, and status=up brings it back
    let (code, b) = send(reqwest::Client::new().post(format!("{beat}?status=up&msg=OK"))).await;
    assert_eq!((code, b["monitor"]["status"].as_str()), (200, Some("up")), "{b}");
    assert_eq!(next_state(&mut sub, v.id).await.to, State::Up);
    let (code, _) = send(get("status=degraded&msg=slow")).await;
    assert_eq!(code, 200);
    let ev = next_state(&mut sub, v.id).await;
    assert_eq!((ev.to, ev.reason.as_str()), (State::Degraded, "slow"));
    // bad forms: 400 with the reason, nothing changes
    for (q, needle) in [
        ("status=sideways", "unknown status"),
        ("status=down&status=up", "twice"),
        ("status=up&ping=fast", "ping"),
    ] {
        let (code, b) = send(get(q)).await;
        assert_eq!(code, 400, "{q}: {b}");
        assert!(b["error"].as_str().unwrap().contains(needle), "{q}: {b}");
    }
    assert_eq!(status(&app, v.id).await.state, State::Degraded);
    app.stop().await;
}

/// What the official standardwebhooks libraries do to sign: the key is the base64
/// decoding of the secret after `whsec_`, the content `{id}.{timestamp}.{body}`, the
/// header `v1,<base64 HMAC-SHA256>`.
fn sign_like_standardwebhooks(secret: &str, id: &str, ts: i64, body: &[u8]) -> [(&'static str, String); 3] {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("base64");
    standard(&key, id, ts, body)
}

#[tokio::test]
async fn standard_webhooks_whsec_secrets_as_the_official_libraries_use_them() {
    let app = spawn_app(&[]).await;
    // as the libraries generate them: whsec_ + base64 of 24 random bytes
    let whsec = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 24]>())
    );
    let (_, hook, beat) = add_push(
        &app,
        AddRequest {
            sign_heartbeats: Some(true),
            ..signed_req("svix-style", &whsec)
        },
    )
    .await;
    let body = br#"{"status":"down","message":"queue stuck"}"#;
    let hdrs = sign_like_standardwebhooks(&whsec, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", unix_now(), body);
    let (code, b) = send(with_headers(post(&hook, &body[..]), &hdrs)).await;
    assert_eq!((code, b["monitor"]["status"].as_str()), (200, Some("down")), "{b}");
    // signed heartbeats with the same key
    let hdrs = sign_like_standardwebhooks(&whsec, "msg_beat", unix_now(), b"");
    let (code, b) = send(with_headers(reqwest::Client::new().get(&beat), &hdrs)).await;
    assert_eq!((code, b["monitor"]["status"].as_str()), (200, Some("up")), "{b}");
    // raw (non-whsec_) secrets keep their UTF-8 bytes as the key
    let (_, raw_hook, _) = add_push(&app, signed_req("raw", "plain-raw-secret")).await;
    let hdrs = standard(b"plain-raw-secret", "msg_raw", unix_now(), body);
    let (code, b) = send(with_headers(post(&raw_hook, &body[..]), &hdrs)).await;
    assert_eq!(code, 200, "{b}");
    app.stop().await;
}

#[tokio::test]
async fn a_replayed_webhook_id_is_refused_after_a_restart() {
    let app = spawn_app(&[]).await;
    let secret = "replay-secret";
    let (_, hook, _) = add_push(&app, signed_req("replayed", secret)).await;
    let body = br#"{"status":"up"}"#;
    let hdrs = standard(secret.as_bytes(), "msg_once", unix_now(), body);
    let (code, b) = send(with_headers(post(&hook, &body[..]), &hdrs)).await;
    assert_eq!(code, 200, "{b}");
    let path = hook[base(&app).len()..].to_string();
    let dir = app.stop().await;

    let app = spawn_app_in(dir, &[]).await;
    let hook = format!("{}{path}", base(&app));
    let (code, b) = send(with_headers(post(&hook, &body[..]), &hdrs)).await;
    assert_eq!(code, 401, "{b}");
    assert!(b["error"].as_str().unwrap().contains("already used"), "{b}");
    // a new id is fine
    let fresh = standard(secret.as_bytes(), "msg_twice", unix_now(), body);
    let (code, _) = send(with_headers(post(&hook, &body[..]), &fresh)).await;
    assert_eq!(code, 200);
    app.stop().await;
}

#[tokio::test]
async fn duplicate_json_keys_are_refused() {
    let app = spawn_app(&[]).await;
    let (v, hook, _) = add_push(&app, push_req("dupes")).await;
    for body in [
        r#"{"status":"up","status":"down"}"#,
        r#"{"status":"down","message":"x","metadata":{"disk":"/","disk":"/var"}}"#,
        r#"{"status":"down","extra":1,"extra":2}"#,
    ] {
        let (code, b) = send(post(&hook, body)).await;
        assert_eq!(code, 400, "{body}: {b}");
        assert!(b["error"].as_str().unwrap().contains("duplicate"), "{body}: {b}");
    }
    assert_eq!(status(&app, v.id).await.state, State::Pending);
    app.stop().await;
}

/// Runs `promtool check metrics` on `text`: `None` when promtool is missing and the
/// test may skip (not root, not CI).
pub(crate) fn promtool_check(text: &str) -> Option<std::process::Output> {
    use std::io::Write;
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            let root = std::fs::read_to_string("/proc/self/status")
                .map(|s| {
                    s.lines()
                        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
                })
                .unwrap_or(false);
            assert!(
                !root && std::env::var_os("CI").is_none(),
                "promtool is needed (apt-get install prometheus; .ci/run installs it): {e}"
            );
            eprintln!("SKIP promtool check: promtool not installed ({e})");
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    Some(child.wait_with_output().unwrap())
}

#[tokio::test]
async fn metrics_pass_promtool_and_name_each_monitor() {
    let app = spawn_app(&[]).await;
    crate::helpers::register_bot(&app.running.service, "m_bot");
    let (up, up_hook, _) = add_push(&app, push_req("backup \"nightly\"")).await;
    let (down, down_hook, _) = add_push(
        &app,
        AddRequest {
            chat_id: Some(-100_123),
            bot: Some("m_bot".into()),
            ..push_req("queue")
        },
    )
    .await;
    let (degraded, degraded_hook, _) = add_push(&app, push_req("cache")).await;
    let (pending, _, _) = add_push(&app, push_req("new")).await;
    assert_eq!(send(post(&up_hook, r#"{"status":"up"}"#)).await.0, 200);
    assert_eq!(send(post(&down_hook, r#"{"status":"down"}"#)).await.0, 200);
    assert_eq!(send(post(&degraded_hook, r#"{"status":"degraded"}"#)).await.0, 200);
    app.running.service.metrics().probe(true, Duration::from_millis(4));

    let url = format!("{}/metrics", base(&app));
    let resp = reqwest::Client::new().get(&url).send().await.unwrap();
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    if let Some(out) = promtool_check(&text) {
        assert!(
            out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
            "promtool check metrics: {:?}\n{}{}\n--- scraped:\n{text}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let up_of = |id: MonitorId| sample(&scrape, "upbot_monitor_up", &[("id", &id.to_string())]);
    assert_eq!(up_of(up.id), Some(1.0), "{text}");
    assert_eq!(up_of(down.id), Some(0.0), "{text}");
    assert_eq!(up_of(degraded.id), Some(1.0), "degraded is reachable: {text}");
    assert_eq!(up_of(pending.id), None, "no verdict, no series: {text}");
    assert_eq!(
        sample(
            &scrape,
            "upbot_monitor_up",
            &[
                ("id", &down.id.to_string()),
                ("name", "queue"),
                ("kind", "push"),
                ("chat", "-100123")
            ]
        ),
        Some(0.0),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            r#"upbot_monitor_up{{id="{}",name="backup \"nightly\"",kind="push",chat=""}} 1"#,
            up.id
        )),
        "label values are escaped: {text}"
    );

    // OpenMetrics when asked for
    let resp = reqwest::Client::new()
        .get(&url)
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text; version=1.0.0")
    );
    let om = resp.text().await.unwrap();
    assert!(
        om.ends_with("# EOF\n") && om.contains("# TYPE upbot_probes counter"),
        "{om}"
    );
    app.stop().await;
}

/// Reads one HTTP/1.1 answer (status, body) from a raw connection.
async fn read_answer(stream: &mut tokio::net::TcpStream) -> (u16, String) {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= len {
                let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                return (code, body[..len].to_string());
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, stream.read(&mut chunk))
            .await
            .expect("an answer in time")
            .expect("read");
        assert!(
            n > 0,
            "closed before a full answer: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Waits until the server closes `stream` (EOF or reset); returns how long it took.
async fn closed_within(stream: &mut tokio::net::TcpStream, bound: Duration) -> Duration {
    use tokio::io::AsyncReadExt;
    let start = Instant::now();
    let mut chunk = [0u8; 1024];
    loop {
        match tokio::time::timeout(bound.saturating_sub(start.elapsed()), stream.read(&mut chunk)).await {
            Err(_) => panic!("still open after {bound:?}"),
            Ok(Ok(0) | Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => continue,
        }
    }
}

async fn healthz_raw(addr: std::net::SocketAddr) -> (tokio::net::TcpStream, u16, String) {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: upbot\r\n\r\n")
        .await
        .unwrap();
    let (code, body) = read_answer(&mut s).await;
    (s, code, body)
}

#[tokio::test]
async fn slowloris_sockets_are_closed_and_healthz_still_answers() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app(&[("UPBOT_HTTP_HEADER_TIMEOUT", "1s")]).await;
    let addr = app.running.http_addr;
    let mut slow = Vec::new();
    for i in 0..50 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        // a request head that never ends
        s.write_all(format!("POST /webhooks/{i} HTTP/1.1\r\nHost: upbot\r\nX-Slow: ").as_bytes())
            .await
            .unwrap();
        slow.push(s);
    }
    // sockets that send nothing at all
    for _ in 0..10 {
        slow.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    // meanwhile the receiver answers
    let (_, code, body) = healthz_raw(addr).await;
    assert_eq!(code, 200, "{body}");
    let opened = Instant::now();
    for s in &mut slow {
        closed_within(s, Duration::from_secs(5)).await;
    }
    let all_closed = opened.elapsed();
    assert!(all_closed < Duration::from_secs(4), "closed after {all_closed:?}");

    // a keep-alive connection that goes quiet is closed by the same timer
    let (mut idle, code, _) = healthz_raw(addr).await;
    assert_eq!(code, 200);
    let took = closed_within(&mut idle, Duration::from_secs(5)).await;
    assert!(
        took >= Duration::from_millis(500),
        "closed an idle connection too early: {took:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn over_the_connection_cap_new_connections_get_503_until_a_slot_frees() {
    let app = spawn_app(&[("UPBOT_HTTP_MAX_CONNECTIONS", "4"), ("UPBOT_HTTP_HEADER_TIMEOUT", "2s")]).await;
    let addr = app.running.http_addr;
    // four keep-alive connections, each answered once, hold the four slots
    let mut held = Vec::new();
    for _ in 0..4 {
        let (s, code, _) = healthz_raw(addr).await;
        assert_eq!(code, 200);
        held.push(s);
    }
    // the fifth is told, not left hanging
    let (mut fifth, code, body) = healthz_raw(addr).await;
    assert_eq!(code, 503, "{body}");
    let err: Value = serde_json::from_str(&body).unwrap();
    assert!(
        err["error"].as_str().unwrap().contains("too many connections"),
        "{body}"
    );
    closed_within(&mut fifth, Duration::from_secs(5)).await;
    // closing one frees its slot
    drop(held.pop());
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, code, _) = healthz_raw(addr).await;
        if code == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no slot freed");
        // The server frees the slot when it reads the EOF; nothing to await from here.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // the idle keep-alive ones are closed by the idle timeout, freeing their slots
    for s in &mut held {
        closed_within(s, Duration::from_secs(5)).await;
    }
    let text = reqwest::Client::new()
        .get(format!("{}/metrics", base(&app)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    assert!(
        sample(&scrape, "upbot_http_connections_refused_total", &[]).unwrap() >= 1.0,
        "{text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn start_raises_the_open_file_limit() {
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    // one below the hard limit: harmless to the other tests in this process
    rlimit::setrlimit(rlimit::Resource::NOFILE, hard.saturating_sub(1).min(soft), hard).unwrap();
    let app = spawn_app(&[]).await;
    assert_eq!(rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap().0, hard);
    app.stop().await;
}
