//! The http and dns monitor kinds: the probes against real loopback servers made by
//! the suite (HTTP, HTTPS with certificates made at test time, a server that never
//! answers, a UDP DNS server), then the monitors end to end through the real app
//! (WS `add`, state events, `status`), and the chat target policy on every hop.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::json;
use upbot::core::{AddRequest, Caller, Command, CoreError, Reply, Selector};
use upbot::domain::kinds::{DnsSettings, HttpMethod, HttpSettings, Keyword, RecordType, StatusList, date};
use upbot::domain::{MonitorId, State, TargetPolicy, now_ms};
use upbot::probe::dns::Resolver;
use upbot::probe::http::HttpProber;
use upbot::probe::records::RecordProber;
use upbot::probe::{Answer, Checked};

use crate::helpers::{TestApp, WAIT, spawn_app};
use crate::servers::{TestCa, dns_server, http_server, self_signed, silent_server, tls};

const T: Duration = Duration::from_secs(2);

fn policy(rules: Option<&str>) -> Arc<OnceLock<TargetPolicy>> {
    let lock = Arc::new(OnceLock::new());
    if let Some(r) = rules {
        lock.set(TargetPolicy::parse(r).unwrap()).unwrap();
    }
    lock
}

fn prober() -> HttpProber {
    HttpProber::new(Resolver::new(), policy(None))
}

fn get(url: String) -> HttpSettings {
    HttpSettings {
        url,
        method: HttpMethod::Get,
        expect: StatusList::default(),
        keyword: None,
        degraded: None,
        cert_days: 14,
        tls_verify: true,
    }
}

fn up(r: &Checked) -> &Answer {
    r.as_ref().unwrap_or_else(|e| panic!("expected an answer, got {e}"))
}

/// The failure's text, which must be one the chats get translated.
fn fail(r: Checked) -> String {
    match r {
        Ok(a) => panic!("expected a failure, got {a:?}"),
        Err(e) => {
            let text = e.to_string();
            assert!(
                upbot::i18n::reason::recognize(&text).is_some(),
                "{text:?} is not recognised for translation"
            );
            text
        }
    }
}

#[tokio::test]
async fn http_status_keyword_and_head() {
    let s = http_server("127.0.0.1", None).await;
    let p = prober();
    let ok = p.probe(&get(s.url("http", None, "/ok")), false, T).await;
    assert!(up(&ok).degraded.is_none());
    assert_eq!(
        fail(p.probe(&get(s.url("http", None, "/status/503")), false, T).await),
        "HTTP 503 Service Unavailable (expected 200-299)"
    );
    let expect = HttpSettings {
        expect: StatusList::parse("200-299,503").unwrap(),
        ..get(s.url("http", None, "/status/503"))
    };
    up(&p.probe(&expect, false, T).await);
    let kw = |k: &str| HttpSettings {
        keyword: Some(Keyword::parse(k).unwrap()),
        ..get(s.url("http", None, "/ok"))
    };
    up(&p.probe(&kw("all good"), false, T).await);
    up(&p.probe(&kw("!error"), false, T).await);
    assert_eq!(
        fail(p.probe(&kw("healthy"), false, T).await),
        "keyword \"healthy\" not found in the response"
    );
    assert_eq!(
        fail(p.probe(&kw("!good"), false, T).await),
        "keyword \"good\" found in the response (must not be)"
    );
    let head = HttpSettings {
        method: HttpMethod::Head,
        ..get(s.url("http", None, "/ok"))
    };
    up(&p.probe(&head, false, T).await);
    assert_eq!(s.hits.load(Ordering::SeqCst), 8);
}

#[tokio::test]
async fn http_redirects_are_followed_up_to_five() {
    let s = http_server("127.0.0.1", None).await;
    let p = prober();
    up(&p.probe(&get(s.url("http", None, "/redirect/5")), false, T).await);
    assert_eq!(s.hits.load(Ordering::SeqCst), 6);
    assert_eq!(
        fail(p.probe(&get(s.url("http", None, "/redirect/6")), false, T).await),
        "more than 5 redirects"
    );
    // A redirect listed in `expect` is the answer, not followed.
    let before = s.hits.load(Ordering::SeqCst);
    let own = HttpSettings {
        expect: StatusList::parse("302").unwrap(),
        ..get(s.url("http", None, "/redirect/3"))
    };
    up(&p.probe(&own, false, T).await);
    assert_eq!(s.hits.load(Ordering::SeqCst), before + 1);
}

#[tokio::test]
async fn http_body_is_read_at_most_1_mib() {
    let s = http_server("127.0.0.1", None).await;
    let p = prober();
    let big = s.url("http", None, "/big");
    up(&p.probe(&get(big.clone()), false, T).await);
    let kw = |k: &str| HttpSettings {
        keyword: Some(Keyword::parse(k).unwrap()),
        ..get(big.clone())
    };
    // The server sends 2 MiB and then the needle: never read.
    assert_eq!(
        fail(p.probe(&kw("needle"), false, T).await),
        "keyword \"needle\" not found in the response"
    );
    up(&p.probe(&kw("aaaa"), false, T).await);
}

#[tokio::test]
async fn http_slow_answers_are_degraded_with_the_time_and_silence_times_out() {
    let s = http_server("127.0.0.1", None).await;
    let p = prober();
    let slow = HttpSettings {
        degraded: Some(Duration::from_millis(100)),
        ..get(s.url("http", None, "/slow/300"))
    };
    let r = p.probe(&slow, false, T).await;
    let a = up(&r);
    let why = &a.degraded.as_ref().expect("slow is degraded").reason;
    assert!(a.rtt >= Duration::from_millis(300), "{a:?}");
    assert!(
        why.starts_with("slow response: 3") && why.ends_with("ms (degraded above 100ms)"),
        "{why}"
    );
    assert!(upbot::i18n::reason::recognize(why).is_some(), "{why}");
    assert_eq!(a.degraded.as_ref().unwrap().step, None);
    let quick = HttpSettings {
        degraded: Some(Duration::from_millis(1500)),
        ..get(s.url("http", None, "/ok"))
    };
    assert!(up(&p.probe(&quick, false, T).await).degraded.is_none());
    let ms500 = Duration::from_millis(500);
    assert_eq!(
        fail(p.probe(&get(s.url("http", None, "/slow/3000")), false, ms500).await),
        "timed out after 500ms"
    );
    // A server that accepts and never answers.
    let silent = silent_server().await;
    let url = format!("http://{}/", silent.addr);
    assert_eq!(fail(p.probe(&get(url), false, ms500).await), "timed out after 500ms");
    // Nothing listening.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    assert_eq!(
        fail(p.probe(&get(format!("http://127.0.0.1:{port}/")), false, T).await),
        "connection refused"
    );
}

#[tokio::test]
async fn https_certificates_are_verified_and_failures_say_why() {
    let ca = TestCa::new();
    let p = prober();
    p.set_extra_roots(vec![ca.der()]);
    let good = http_server("127.0.0.1", Some(tls(ca.leaf(&["localhost", "127.0.0.1"], -1.0, 90.0)))).await;
    let r = p
        .probe(&get(good.url("https", Some("localhost"), "/ok")), false, T)
        .await;
    assert!(up(&r).degraded.is_none(), "{r:?}");
    up(&p.probe(&get(good.url("https", None, "/ok")), false, T).await);

    let own = http_server("127.0.0.1", Some(tls(self_signed(&["localhost"])))).await;
    assert_eq!(
        fail(
            p.probe(&get(own.url("https", Some("localhost"), "/ok")), false, T)
                .await
        ),
        "certificate not trusted: unknown issuer (self-signed, or signed by a private CA)"
    );
    let expired = http_server("127.0.0.1", Some(tls(ca.leaf(&["localhost"], -30.0, -2.5)))).await;
    let why = fail(
        p.probe(&get(expired.url("https", Some("localhost"), "/ok")), false, T)
            .await,
    );
    assert!(why.starts_with("certificate expired 2 days ago ("), "{why}");
    let wrong = http_server("127.0.0.1", Some(tls(ca.leaf(&["other.test"], -1.0, 90.0)))).await;
    assert_eq!(
        fail(
            p.probe(&get(wrong.url("https", Some("localhost"), "/ok")), false, T)
                .await
        ),
        "certificate is not valid for localhost (it is for other.test)"
    );
    // Without the CA the good server is unknown too.
    assert!(
        fail(
            prober()
                .probe(&get(good.url("https", Some("localhost"), "/ok")), false, T)
                .await
        )
        .contains("unknown issuer")
    );
}

#[tokio::test]
async fn certificates_near_expiry_are_degraded_and_expired_ones_down() {
    let ca = TestCa::new();
    let p = prober();
    p.set_extra_roots(vec![ca.der()]);
    let soon = http_server("127.0.0.1", Some(tls(ca.leaf(&["localhost"], -60.0, 5.0)))).await;
    let url = soon.url("https", Some("localhost"), "/ok");
    let r = p.probe(&get(url.clone()), false, T).await;
    let d = up(&r).degraded.clone().expect("expiring in 5 days is degraded");
    // The first step (14 days): level 1.
    assert_eq!(
        (d.reason.as_str(), d.step.map(u8::from)),
        ("certificate expires in 5 days", Some(1))
    );
    // Slow too: both reasons, the certificate's step kept.
    let both = HttpSettings {
        degraded: Some(Duration::from_millis(100)),
        ..get(soon.url("https", Some("localhost"), "/slow/200"))
    };
    let r = p.probe(&both, false, T).await;
    let d = up(&r).degraded.clone().unwrap();
    assert!(
        d.reason.starts_with("certificate expires in 5 days; slow response: "),
        "{d:?}"
    );
    let ru = upbot::i18n::reason::localize(upbot::i18n::Lang::Ru, &d.reason);
    assert!(
        ru.starts_with("сертификат истекает через 5 дней; медленный ответ: "),
        "{ru}"
    );
    assert_eq!(d.step.map(u8::from), Some(1));
    // cert_days=3: five days left is fine.
    let short = HttpSettings {
        cert_days: 3,
        ..get(url)
    };
    assert!(up(&p.probe(&short, false, T).await).degraded.is_none());

    // tls_verify=false: any certificate is accepted, its expiry is still watched.
    let lax = |url: String| HttpSettings {
        tls_verify: false,
        ..get(url)
    };
    let own = http_server("127.0.0.1", Some(tls(self_signed(&["localhost"])))).await;
    assert!(
        up(&p
            .probe(&lax(own.url("https", Some("localhost"), "/ok")), false, T)
            .await)
        .degraded
        .is_none()
    );
    let expired = http_server("127.0.0.1", Some(tls(ca.leaf(&["elsewhere.test"], -30.0, -2.5)))).await;
    let why = fail(
        p.probe(&lax(expired.url("https", Some("localhost"), "/ok")), false, T)
            .await,
    );
    let when = date(now_ms() as i64 - (2.5 * 86_400_000.0) as i64);
    assert_eq!(why, format!("certificate expired 2 days ago ({when})"));
    let soon_unverified = http_server("127.0.0.1", Some(tls(ca.leaf(&["elsewhere.test"], -1.0, 1.5)))).await;
    let r = p
        .probe(&lax(soon_unverified.url("https", Some("localhost"), "/ok")), false, T)
        .await;
    let d = up(&r).degraded.clone().unwrap();
    // The 3-day step: level 2.
    assert_eq!(
        (d.reason.as_str(), d.step.map(u8::from)),
        ("certificate expires in 2 days", Some(2))
    );
}

#[tokio::test]
async fn connections_are_reused_for_a_while_and_a_dead_server_is_seen() {
    let s = http_server("127.0.0.1", None).await;
    let p = prober();
    let ok = get(s.url("http", None, "/ok"));
    for _ in 0..5 {
        up(&p.probe(&ok, false, T).await);
    }
    assert_eq!((s.hits.load(Ordering::SeqCst), s.conns.load(Ordering::SeqCst)), (5, 1));
    // A connection older than the limit is closed after its answer: probes 100 ms
    // apart (never idle long enough to expire) still open a new one.
    let short = prober().with_conn_max_age(Duration::from_millis(250));
    let before = s.conns.load(Ordering::SeqCst);
    for _ in 0..8 {
        up(&short.probe(&ok, false, T).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let opened = s.conns.load(Ordering::SeqCst) - before;
    assert!(
        (2..=5).contains(&opened),
        "{opened} connections for 8 probes over 800 ms"
    );
    // The server goes away with its connections: the next probe says so at once.
    let addr = s.addr;
    drop(s);
    let why = fail(p.probe(&get(format!("http://{addr}/ok")), false, T).await);
    assert!(
        [
            "connection refused",
            "connection closed before the response",
            "connection reset"
        ]
        .contains(&why.as_str()),
        "{why}"
    );
}

#[tokio::test]
async fn chat_policy_is_checked_on_every_hop_and_on_the_resolved_address() {
    let a = http_server("127.0.0.1", None).await;
    let b = http_server("127.0.0.2", None).await;
    let rules = "!127.0.0.2/32,0.0.0.0/0";
    let p = HttpProber::new(Resolver::new(), policy(Some(rules)));
    let hop = get(a.url("http", None, &format!("/go?to=http://127.0.0.2:{}/ok", b.addr.port())));
    assert_eq!(
        fail(p.probe(&hop, true, T).await),
        "127.0.0.2 is refused by the UPBOT_CHAT_TARGETS rule !127.0.0.2/32"
    );
    assert_eq!(b.conns.load(Ordering::SeqCst), 0, "the refused hop was never contacted");
    // The operator's monitors are not limited.
    up(&p.probe(&hop, false, T).await);
    assert_eq!(b.hits.load(Ordering::SeqCst), 1);
    // A name that resolves to a refused address (DNS rebinding) is refused at connect.
    let rebinding = Resolver::with_lookup(|_| Box::pin(async { Ok(vec!["127.0.0.2".parse().unwrap()]) }));
    let p = HttpProber::new(rebinding, policy(Some(rules)));
    let named = get(format!("http://rebind.test:{}/ok", b.addr.port()));
    assert_eq!(
        fail(p.probe(&named, true, T).await),
        "127.0.0.2 is refused by the UPBOT_CHAT_TARGETS rule !127.0.0.2/32"
    );
    assert_eq!(b.conns.load(Ordering::SeqCst), 1);
}

fn dns(rt: RecordType, expect: &str, server: std::net::SocketAddr) -> DnsSettings {
    DnsSettings {
        record_type: rt,
        expect: if expect.is_empty() {
            Vec::new()
        } else {
            DnsSettings::parse_expect(rt, expect).unwrap()
        },
        server: Some(server.to_string()),
    }
}

#[tokio::test]
async fn dns_answers_are_checked_against_expect() {
    let d = dns_server().await;
    let p = RecordProber::new(Resolver::new(), policy(None));
    for (name, rt, expect) in [
        ("a.test", RecordType::A, ""),
        ("a.test", RecordType::A, "192.0.2.10"),
        ("a.test", RecordType::A, "192.0.2.11,192.0.2.10"),
        ("mx.test", RecordType::Mx, "mail.test"),
        ("mx.test", RecordType::Mx, "10 mail.test."),
        ("txt.test", RecordType::Txt, "v=spf1 -all"),
        ("alias.test", RecordType::Cname, "a.test"),
    ] {
        let r = p.probe(name, &dns(rt, expect, d.addr), false, T).await;
        assert!(r.is_ok(), "{name} {rt} {expect}: {r:?}");
    }
    let why = fail(
        p.probe("a.test", &dns(RecordType::A, "192.0.2.99", d.addr), false, T)
            .await,
    );
    assert_eq!(why, "a.test A is 192.0.2.10, 192.0.2.11, expected 192.0.2.99");
    // Every probe asks the server (nothing is cached).
    assert_eq!(d.queries_for("a.test."), 4);
}

#[tokio::test]
async fn dns_failures_name_themselves() {
    let d = dns_server().await;
    let p = RecordProber::new(Resolver::new(), policy(None));
    let any = |rt| dns(rt, "", d.addr);
    assert_eq!(
        fail(p.probe("nx.test", &any(RecordType::A), false, T).await),
        "NXDOMAIN: nx.test does not exist"
    );
    assert_eq!(
        fail(p.probe("fail.test", &any(RecordType::A), false, T).await),
        format!("SERVFAIL from {}", d.addr)
    );
    assert_eq!(
        fail(p.probe("empty.test", &any(RecordType::A), false, T).await),
        "no A record for empty.test (empty answer)"
    );
    assert_eq!(
        fail(p.probe("a.test", &any(RecordType::Mx), false, T).await),
        "no MX record for a.test (empty answer)"
    );
    assert_eq!(
        fail(
            p.probe("drop.test", &any(RecordType::A), false, Duration::from_millis(300))
                .await
        ),
        format!("timed out after 300ms waiting for {}", d.addr)
    );
}

#[tokio::test]
async fn a_chat_monitors_dns_server_obeys_the_policy() {
    let d = dns_server().await;
    let p = RecordProber::new(Resolver::new(), policy(Some("!127.0.0.0/8,0.0.0.0/0")));
    let s = dns(RecordType::A, "", d.addr);
    assert_eq!(
        fail(p.probe("a.test", &s, true, T).await),
        "127.0.0.1 is refused by the UPBOT_CHAT_TARGETS rule !127.0.0.0/8"
    );
    assert_eq!(d.queries_for("a.test."), 0);
    assert!(p.probe("a.test", &s, false, T).await.is_ok());
}

async fn next_state(events: &mut upbot::events::Subscription, id: MonitorId) -> Arc<upbot::events::StateEvent> {
    tokio::time::timeout(WAIT, async {
        loop {
            let e = events.state.recv().await.unwrap();
            if e.monitor_id == id {
                return e;
            }
        }
    })
    .await
    .expect("a state change in time")
}

async fn status(app: &TestApp, id: MonitorId) -> upbot::core::StatusView {
    match app
        .running
        .service
        .execute(&Caller::Operator, Command::Status(Selector::Id(id)))
        .await
    {
        Ok(Reply::Status(s)) => *s,
        other => panic!("{other:?}"),
    }
}

/// An https monitor over the WS API: trusted through `UPBOT_EXTRA_CA_FILE`, its
/// certificate five days from expiry: one DEGRADED alert, not one per probe; the
/// monitor object carries the http fields; `status` has the figures.
#[tokio::test]
async fn https_monitor_end_to_end_degraded_once_by_its_certificate() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let app = spawn_app(&[("UPBOT_EXTRA_CA_FILE", ca_file.to_str().unwrap())]).await;
    let s = http_server("127.0.0.1", Some(tls(ca.leaf(&["localhost"], -60.0, 5.0)))).await;
    let mut c = app.ws().await;
    let sub = c.request("subscribe", json!({"event_types": ["state", "probe"]})).await;
    assert_eq!(sub["type"], "subscribed");
    let url = s.url("https", Some("localhost"), "/ok");
    let added = c
        .request(
            "add",
            json!({"url": url, "interval": 1, "fails": 2, "recovers": 2, "keyword": "good", "degraded": "800ms"}),
        )
        .await;
    assert_eq!(added["type"], "added", "{added}");
    let m = &added["data"];
    assert_eq!(
        (m["kind"].as_str(), m["target"].as_str()),
        (Some("http"), Some(url.as_str()))
    );
    assert_eq!(m["url"], url.as_str());
    assert_eq!(
        (m["expect"].as_str(), m["keyword"].as_str()),
        (Some("200-299"), Some("good"))
    );
    assert_eq!((m["method"].as_str(), m["degraded"].as_f64()), (Some("GET"), Some(0.8)));
    assert_eq!(
        (m["cert_days"].as_u64(), m["tls_verify"].as_bool()),
        (Some(14), Some(true))
    );
    assert!(m.get("record_type").is_none() && m.get("server").is_none(), "{m}");
    let id = m["id"].as_u64().unwrap();
    let state = c
        .recv_until(|v| v["type"] == "state" && v["data"]["monitor_id"] == id)
        .await;
    let st = &state["data"];
    assert_eq!(
        (st["from"].as_str(), st["to"].as_str()),
        (Some("pending"), Some("degraded"))
    );
    assert_eq!(st["reason"], "certificate expires in 5 days");
    // Three more probes, each DEGRADED by the same certificate: no second alert.
    let mut probes = 0;
    while probes < 3 {
        let v = c.recv().await;
        assert_ne!(v["type"], "state", "one alert only: {v}");
        if v["type"] == "probe" && v["data"]["monitor_id"] == id {
            assert_eq!(v["data"]["ok"], true, "{v}");
            probes += 1;
        }
    }
    let st = status(&app, MonitorId(id)).await;
    assert_eq!(st.monitor.state, State::Degraded);
    assert_eq!(st.monitor.reason, "certificate expires in 5 days");
    assert!(st.stats.probes >= 4 && st.stats.uptime_pct == 100.0, "{:?}", st.stats);
    app.stop().await;
}

/// A dns monitor through the command core: UP, then DOWN naming the missing record
/// once the server answers something else; http and dns monitors survive a restart.
#[tokio::test]
async fn dns_monitor_end_to_end_and_both_kinds_survive_a_restart() {
    let d = dns_server().await;
    let app = spawn_app(&[]).await;
    let mut events = app.running.service.events().subscribe();
    let req = AddRequest {
        target: "a.test".into(),
        kind: Some(upbot::domain::Kind::Dns),
        record_type: Some("A".into()),
        expect: Some("192.0.2.10".into()),
        server: Some(d.addr.to_string()),
        interval: Some(Duration::from_secs(1)),
        fails: Some(2),
        recovers: Some(1),
        ..AddRequest::default()
    };
    let v = match app
        .running
        .service
        .execute(&Caller::Operator, Command::Add(Box::new(req)))
        .await
    {
        Ok(Reply::Added(v)) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(v.target, format!("a.test A @{}", d.addr));
    assert_eq!(v.settings.record_type, Some("A"));
    assert_eq!(v.settings.expect.as_deref(), Some("192.0.2.10"));
    let e = next_state(&mut events, v.id).await;
    assert_eq!((e.from, e.to), (State::Pending, State::Up));
    *d.a_records.lock().unwrap() = vec!["192.0.2.77".parse().unwrap()];
    let e = next_state(&mut events, v.id).await;
    assert_eq!((e.from, e.to), (State::Up, State::Down));
    assert_eq!(e.reason, "a.test A is 192.0.2.77, expected 192.0.2.10");
    let http = AddRequest {
        target: "http://127.0.0.1:9/health".into(),
        keyword: Some("!error".into()),
        interval: Some(Duration::from_secs(3600)),
        ..AddRequest::default()
    };
    let h = match app
        .running
        .service
        .execute(&Caller::Operator, Command::Add(Box::new(http)))
        .await
    {
        Ok(Reply::Added(v)) => v,
        other => panic!("{other:?}"),
    };
    let dir = app.stop().await;
    let app = crate::helpers::spawn_app_in(dir, &[]).await;
    let list = match app
        .running
        .service
        .execute(&Caller::Operator, Command::List { chat_id: None })
        .await
    {
        Ok(Reply::List(l)) => l,
        other => panic!("{other:?}"),
    };
    let dns_back = list.iter().find(|m| m.id == v.id).unwrap();
    assert_eq!(
        (dns_back.state, dns_back.target.as_str()),
        (State::Down, v.target.as_str())
    );
    assert_eq!(dns_back.settings, v.settings);
    let http_back = list.iter().find(|m| m.id == h.id).unwrap();
    assert_eq!(http_back.settings, h.settings);
    assert_eq!(http_back.settings.keyword.as_deref(), Some("!error"));
    app.stop().await;
}

/// Chat-added http and dns monitors obey `UPBOT_CHAT_TARGETS` at `/add`: the URL's
/// host, and a dns monitor's server; the same URL from the operator is fine.
#[tokio::test]
async fn chat_added_http_and_dns_targets_obey_the_chat_policy() {
    let app = spawn_app(&[(
        "UPBOT_CHAT_TARGETS",
        "!127.0.0.0/8,!::1/128,!169.254.0.0/16,!fe80::/10,0.0.0.0/0,::/0",
    )])
    .await;
    crate::helpers::register_bot(&app.running.service, "mon_bot");
    let chat = Caller::Chat {
        chat_id: -1001000000901,
        bot: "mon_bot".into(),
        thread_id: None,
        can_modify: true,
    };
    let run = |caller: Caller, text: &str| {
        let req = AddRequest::parse_chat(text).unwrap();
        let svc = app.running.service.clone();
        async move { svc.execute(&caller, Command::Add(Box::new(req))).await }
    };
    for (text, rule) in [
        ("https://127.0.0.1:8443/health keyword=ok", "!127.0.0.0/8"),
        ("http://169.254.169.254/latest/meta-data/", "!169.254.0.0/16"),
        ("dns example.com server=127.0.0.53", "!127.0.0.0/8"),
        ("dns example.com type=MX server=[::1]:53", "!::1/128"),
    ] {
        match run(chat.clone(), text).await {
            Err(CoreError::Validation(m)) => {
                assert!(
                    m.to_string()
                        .contains(&format!("is refused by the UPBOT_CHAT_TARGETS rule {rule}")),
                    "{text}: {m}"
                )
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    // Without a server a chat's dns monitor asks the system resolver: allowed.
    assert!(matches!(
        run(chat.clone(), "dns example.com interval=24h").await,
        Ok(Reply::Added(_))
    ));
    assert!(matches!(
        run(Caller::Operator, "https://127.0.0.1:8443/health interval=24h").await,
        Ok(Reply::Added(_))
    ));
    app.stop().await;
}
