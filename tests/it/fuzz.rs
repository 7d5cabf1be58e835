//! Property tests: random WS messages, chat texts and webhook bodies go through the
//! parsers and a running server. Nothing may panic, and every input gets an answer: a
//! reply or an error code (WS), a reply text (chat), an HTTP status below 500
//! (webhooks), with the connection still usable afterwards.
//!
//! CI runs [`DEFAULT_CASES`] cases per property (a few seconds each). A longer run by
//! hand: `PROPTEST_CASES=100000 cargo test --release --test it fuzz:: -- --nocapture`.
//!
//! Network rule: nothing generated may make the server probe beyond loopback. WS `add`
//! targets come from a fixed list of loopback or invalid targets; chat monitors obey an
//! `UPBOT_CHAT_TARGETS` of loopback only (checked at `/add` and at every probe, on the
//! resolved address), and the chat's `/add` name checks use a resolver that knows no
//! name.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use upbot::core::Caller;
use upbot::telegram::commands::{self, Action, Parsed};
use upbot::telegram::format::{self, Style};

use crate::helpers::{WsClient, spawn_app};

/// Cases per property in CI.
pub const DEFAULT_CASES: u32 = 3000;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Targets that keep every probe on loopback (or never start one).
const SAFE_TARGETS: &[&str] = &[
    "127.0.0.1",
    "127.0.0.1:1",
    "[::1]:1",
    "tcp://127.0.0.2:9",
    "127.0.0.3:65535",
    "bad host!",
    "",
    " ",
    "0.0.0.0",
    "255.255.255.255",
    "127.0.0.1:0",
    "127.0.0.1:99999",
    "http://127.0.0.1",
];

const KEYS: &[&str] = &[
    "target",
    "kind",
    "port",
    "interval",
    "fails",
    "recovers",
    "timeout",
    "name",
    "chat_id",
    "thread_id",
    "bot",
    "heartbeat",
    "grace",
    "secret",
    "sign_heartbeats",
    "id",
    "event_types",
    "filters",
    "monitor_ids",
    "chat_ids",
    "token",
    "colour",
];

const WORDS: &[&str] = &[
    "30s",
    "5m",
    "1h",
    "0",
    "-1",
    "1e9",
    "#7",
    "7",
    "tcp",
    "push",
    "ping",
    "icmp",
    "true",
    "no",
    "probe",
    "state",
    "18446744073709551616",
    "-1001234567890",
    "0.5",
    "NaN",
    "whsec_AAAA",
    "whsec_!!",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
        proptest::sample::select(WORDS).prop_map(|w| Value::String(w.to_string())),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(proptest::sample::select(KEYS), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

/// A `data` object whose `target` (if any) is a safe one.
fn data() -> impl Strategy<Value = Value> {
    (
        proptest::collection::btree_map(proptest::sample::select(KEYS), json_value(), 0..6),
        proptest::sample::select(SAFE_TARGETS),
    )
        .prop_map(|(m, target)| {
            let mut m: Map<String, Value> = m.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            if m.contains_key("target") {
                m.insert("target".into(), json!(target));
            }
            Value::Object(m)
        })
}

const TYPES: &[&str] = &[
    "add",
    "del",
    "list",
    "status",
    "pause",
    "resume",
    "rotate",
    "subscribe",
    "unsubscribe",
    "ping",
    "auth",
    "client_info",
    "launch",
    "",
];

/// One WS text frame.
fn ws_text() -> impl Strategy<Value = String> {
    let envelope = (
        proptest::sample::select(TYPES),
        prop_oneof![
            Just(None),
            any::<u32>().prop_map(|n| Some(json!(n))),
            "[a-z]{1,6}".prop_map(|s| Some(json!(s)))
        ],
        prop_oneof![Just(None), data().prop_map(Some), json_value().prop_map(Some)],
    )
        .prop_map(|(ty, rid, data)| {
            let mut m = Map::new();
            m.insert("type".into(), json!(ty));
            if let Some(r) = rid {
                m.insert("request_id".into(), r);
            }
            if let Some(d) = data {
                m.insert("data".into(), d);
            }
            Value::Object(m).to_string()
        });
    let legacy = (
        prop_oneof![Just(json!("monitor")), json_value()],
        prop_oneof![
            Just(None),
            Just(Some(json!("127.0.0.1:1"))),
            Just(Some(json!(""))),
            Just(Some(json!(5)))
        ],
        prop_oneof![Just(None), json_value().prop_map(Some)],
    )
        .prop_map(|(cmd, host, interval)| {
            let mut m = Map::new();
            m.insert("cmd".into(), cmd);
            if let Some(h) = host {
                m.insert("host".into(), h);
            }
            if let Some(i) = interval {
                m.insert("interval".into(), i);
            }
            Value::Object(m).to_string()
        });
    prop_oneof![
        4 => envelope,
        1 => legacy,
        1 => "\\PC{0,60}",
        1 => json_value().prop_map(|v| v.to_string()),
        1 => "\\{\"type\":\"ping\",\"type\":\"[a-z]{1,4}\"\\}",
    ]
}

/// Whether a server message is a stream item rather than the answer to a request.
fn is_stream(v: &Value) -> bool {
    matches!(
        v["type"].as_str(),
        Some("probe" | "state" | "notice" | "events_dropped")
    ) || v.get("tcp").is_some()
}

#[test]
fn ws_messages_always_get_an_answer_and_the_connection_survives() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (app, c) = rt.block_on(async {
        let app = spawn_app(&[("UPBOT_WS_RATE", "0")]).await;
        let c = app.ws().await;
        (app, c)
    });
    // The runner wants a `Fn`: the one connection and the marker counter live in cells.
    let c = std::cell::RefCell::new(c);
    let n = std::cell::Cell::new(0u64);
    let mut runner = TestRunner::new(config());
    let result = runner.run(&ws_text(), |text| {
        n.set(n.get() + 1);
        let n = n.get();
        let mut c = c.borrow_mut();
        rt.block_on(async {
            c.send_text(&text).await;
            let marker = format!("marker-{n}");
            c.send(json!({"type": "ping", "request_id": marker})).await;
            let mut answers = 0;
            loop {
                let v = c.recv().await;
                if v["request_id"] == json!(marker) && v["type"] == "pong" {
                    break;
                }
                if !is_stream(&v) {
                    answers += 1;
                    if v["type"] == "error" {
                        let code = v["data"]["code"].as_str().unwrap_or("");
                        prop_assert!(!code.is_empty() && code != "INTERNAL_ERROR", "{text} → {v}");
                    }
                }
            }
            prop_assert!(answers >= 1, "no answer to {text:?}");
            Ok(())
        })
    });
    rt.block_on(async { app.stop().await });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// One chat message.
fn chat_text() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        proptest::sample::select(SAFE_TARGETS).prop_map(String::from),
        proptest::sample::select(WORDS).prop_map(String::from),
        (proptest::sample::select(KEYS), proptest::sample::select(WORDS)).prop_map(|(k, v)| format!("{k}={v}")),
        "\\PC{0,10}",
        Just("name=\"a b".to_string()),
        Just("1.2.3.4".to_string()),
        Just("localhost:22".to_string()),
    ];
    let command = (
        proptest::sample::select(&[
            "/add",
            "/del",
            "/list",
            "/status",
            "/pause",
            "/resume",
            "/rotate",
            "/help",
            "/start",
            "/chatid",
            "/lang",
            "/mute",
            "/remind",
            "/ack",
            "/graph",
            "/page",
            "/ADD",
            "/add@fuzz_bot",
            "/add@other_bot",
            "/nope",
        ]),
        proptest::collection::vec(word, 0..5),
        proptest::sample::select(&[" ", "\n", "  "]),
    )
        .prop_map(|(c, words, sep)| format!("{c}{sep}{}", words.join(" ")));
    prop_oneof![4 => command, 1 => "\\PC{0,80}"]
}

#[test]
fn chat_texts_always_get_a_reply() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(spawn_app(&[("UPBOT_CHAT_TARGETS", "127.0.0.0/8,::1/128")]));
    let service = app.running.service.clone();
    // `/add` name checks: a resolver that knows no name.
    service.set_resolver(upbot::probe::dns::Resolver::with_lookup(|_| {
        Box::pin(async { Err(std::io::Error::other("Name or service not known")) })
    }));
    let mut runner = TestRunner::new(config());
    let result = runner.run(&chat_text(), |text| {
        // Every language in turn: each text renders with its placeholders filled (a
        // debug assertion checks them) in all four.
        let lang = upbot::i18n::Lang::ALL[text.len() % 4];
        let style = Style::new("fuzz_bot", false).in_lang(lang);
        let reply = match commands::parse(&text, "fuzz_bot") {
            Parsed::Text | Parsed::OtherBot => return Ok(()),
            Parsed::Unknown(w) => format::unknown_command(&w, &style),
            Parsed::Command(cmd) => match commands::action(cmd) {
                Err(e) => format::error(&e, lang),
                Ok(Action::Help { greeting }) => format::help(&style, greeting),
                Ok(Action::ChatId) => format::chat_id(lang, -1001000000999, None),
                Ok(Action::Usage(n)) => format::usage_selector(n, &style),
                Ok(Action::Core(cmd)) => {
                    let caller = Caller::Chat {
                        chat_id: -1001000000999,
                        bot: "fuzz_bot".into(),
                        thread_id: None,
                        can_modify: true,
                    };
                    match rt.block_on(service.execute(&caller, cmd)) {
                        Ok(r) => format::reply(&r, &style, upbot::domain::now_ms()),
                        Err(e) => {
                            prop_assert!(e.code() != "INTERNAL_ERROR", "{text:?} → {e}");
                            format::error(&e, lang)
                        }
                    }
                }
            },
        };
        prop_assert!(!reply.trim().is_empty(), "empty reply to {text:?}");
        prop_assert!(
            format::split_reply(&reply)
                .iter()
                .all(|m| format::tg_len(m) <= format::MAX_MESSAGE),
            "{text:?}"
        );
        Ok(())
    });
    // No chat monitor names an address outside loopback (names that did not resolve
    // at `/add` are checked again at every probe, on the address they resolve to).
    for m in app.running.store.monitors().unwrap() {
        if let Ok(ip) = m.host.parse::<std::net::IpAddr>() {
            assert!(
                ip.is_loopback() || m.kind == upbot::domain::Kind::Push,
                "outside loopback: {m:?}"
            );
        }
    }
    rt.block_on(async { app.stop().await });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// One webhook request: a body (random bytes, random JSON, or a status report) and
/// whether it goes to a real token.
fn webhook() -> impl Strategy<Value = (Vec<u8>, bool, String)> {
    let body = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (
            proptest::sample::select(&["up", "down", "degraded", "UP", "", "unknown"]),
            json_value()
        )
            .prop_map(|(s, m)| json!({"status": s, "message": m}).to_string().into_bytes()),
    ];
    (body, any::<bool>(), "[a-z0-9=&%]{0,20}")
}

#[test]
fn webhook_bodies_always_get_a_status() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(spawn_app(&[]));
    let mut c: WsClient = rt.block_on(app.ws());
    let r = rt.block_on(c.request("add", json!({"target": "fuzzed", "kind": "push", "heartbeat": 3600})));
    let hook = r["data"]["webhook_url"].as_str().unwrap().to_string();
    let token = hook.rsplit('/').next().unwrap().to_string();
    let base = format!("http://{}", app.running.http_addr);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut runner = TestRunner::new(Config {
        cases: config().cases / 2,
        ..config()
    });
    let result = runner.run(&webhook(), |(body, real, query)| {
        let tok = if real { token.clone() } else { format!("{token}x") };
        rt.block_on(async {
            let post = http
                .post(format!("{base}/webhooks/{tok}"))
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .map_err(|e| TestCaseError::fail(format!("no answer to {body:?}: {e}")))?;
            prop_assert!(post.status().as_u16() < 500, "{body:?} → {}", post.status());
            let get = http
                .get(format!("{base}/webhooks/{tok}/heartbeat?{query}"))
                .send()
                .await
                .map_err(|e| TestCaseError::fail(format!("no answer to ?{query}: {e}")))?;
            prop_assert!(get.status().as_u16() < 500, "?{query} → {}", get.status());
            Ok(())
        })
    });
    rt.block_on(async { app.stop().await });
    if let Err(e) = result {
        panic!("{e}");
    }
}
