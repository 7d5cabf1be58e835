//! On call in the chat (issue 10), end to end: the real app probing netns test hosts
//! (taken down and up with `ip link`), its real bots talking to the fake Bot API, and
//! people in a group typing commands and pressing the buttons under alerts.
//!
//! Monitors probe every second, `fails=2`, `timeout=500ms`, so a host taken down is
//! DOWN about two seconds later.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;
use upbot::core::{AddRequest, Caller, Command, Reply};
use upbot::domain::MonitorId;

use crate::fake_telegram::{FakeTelegram, Sent};
use crate::helpers::{TestApp, WAIT, WsClient, skip_without_root, spawn_app};
use crate::netns::TestHost;

const TOKEN: &str = "444444:DDD-oncall";
const BOT: &str = "mon_oncall_bot";
/// A group admin and a plain member.
const ADMIN: u64 = 1001;
const MEMBER: u64 = 77;
/// Probe settings that make a dead host DOWN in about two seconds.
const FAST: &str = "interval=1 fails=2 recovers=2 timeout=500ms";

struct Chat {
    fake: FakeTelegram,
    app: TestApp,
    g: i64,
}

/// The app with one bot serving group `g`, whose admin is [`ADMIN`].
async fn chat(g: i64, extra: &[(&str, &str)]) -> Chat {
    let fake = FakeTelegram::start().await;
    fake.add_bot(TOKEN, 444444, BOT);
    fake.set_member(g, ADMIN, "administrator");
    let allowed = g.to_string();
    let mut env = vec![
        ("UPBOT_TELEGRAM_TOKENS", TOKEN),
        ("UPBOT_TELEGRAM_API_URL", fake.url.as_str()),
        ("UPBOT_ALLOWED_CHATS", allowed.as_str()),
    ];
    env.extend_from_slice(extra);
    let app = spawn_app(&env).await;
    Chat { fake, app, g }
}

impl Chat {
    /// `user` says `text` in the group; returns the next message the chat gets (the
    /// reply: every test here waits for alerts before it types).
    async fn say(&self, user: u64, text: &str) -> Sent {
        let before = self.fake.sent(self.g).len();
        self.fake.say(TOKEN, self.g, user, text);
        self.fake.wait_for_nth(self.g, before + 1).await.swap_remove(before)
    }

    /// The admin adds a monitor; returns its id.
    async fn add(&self, args: &str) -> MonitorId {
        let r = self.say(ADMIN, &format!("/add@{BOT} {args}")).await;
        let id = r
            .text
            .split_once("Added #")
            .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
            .unwrap_or_else(|| panic!("not an add reply: {}", r.text));
        MonitorId(id)
    }

    /// Waits for a message whose text has a line about `id` containing `word`.
    async fn wait_line(&self, id: MonitorId, word: &str) -> Sent {
        self.fake
            .wait_for_message(self.g, |m| has_line(&m.text, id, word))
            .await
    }

    /// [`Chat::wait_line`] among the messages sent from `since` on.
    async fn wait_line_since(&self, id: MonitorId, word: &str, since: Instant) -> Sent {
        self.fake
            .wait_for_message(self.g, |m| m.at >= since && has_line(&m.text, id, word))
            .await
    }

    /// Waits until every queued alert of the app was sent or folded.
    async fn wait_outbox_empty(&self) {
        let store = &self.app.running.store;
        let deadline = Instant::now() + WAIT;
        while store.outbox_len() > 0 {
            assert!(Instant::now() < deadline, "outbox still holds {}", store.outbox_len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Whether `text` has a line naming monitor `id` (`#7 `) that contains `word`.
fn has_line(text: &str, id: MonitorId, word: &str) -> bool {
    let tag = format!("#{id} ");
    text.lines().any(|l| l.contains(&tag) && l.contains(word))
}

/// Lines about `id` containing `word` in every message sent so far.
fn lines_about(msgs: &[Sent], id: MonitorId, word: &str) -> usize {
    msgs.iter()
        .map(|m| m.text.lines().filter(|l| has_line(l, id, word)).count())
        .sum()
}

/// Subscribes a WS client to state events of `ids`.
async fn watch(app: &TestApp, ids: &[MonitorId]) -> WsClient {
    let mut ws = app.ws().await;
    let ids: Vec<u64> = ids.iter().map(|i| i.0).collect();
    let r = ws
        .request(
            "subscribe",
            json!({"event_types": ["state"], "filters": {"monitor_ids": ids}}),
        )
        .await;
    assert_eq!(r["type"], "subscribed", "{r}");
    ws
}

/// Waits for a state event of `id` satisfying `pred`.
async fn state_event(ws: &mut WsClient, id: MonitorId, pred: impl Fn(&Value) -> bool) -> Value {
    ws.recv_until(|v| v["type"] == "state" && v["data"]["monitor_id"] == id.0 && pred(&v["data"]))
        .await
}

fn buttons(m: &Sent) -> Vec<String> {
    m.markup
        .as_ref()
        .and_then(|k| k["inline_keyboard"].as_array())
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .filter_map(|b| b["callback_data"].as_str().map(String::from))
        .collect()
}

/// Issue 10: buttons under a DOWN alert; a plain member may ack (anyone may) but not
/// mute (admins only), by button or typed; every press is answered; the ack edits the
/// alert, shows in `/list` and in WS state events, and stops the reminders of that
/// outage while another monitor's keep coming.
#[tokio::test]
async fn a_member_acks_by_button_is_refused_a_mute_and_the_reminders_stop() {
    if skip_without_root("a_member_acks_by_button_is_refused_a_mute_and_the_reminders_stop") {
        return;
    }
    let mut host = TestHost::new();
    let extra = host.add_local_range()[0];
    let c = chat(-1001000000101, &[]).await;
    let a = c.add(&format!("{} name=edge {FAST} remind=10s", host.addr())).await;
    // fails=5: its DOWN comes three seconds after edge's, in a message of its own
    let b = c
        .add(&format!(
            "{extra} name=core interval=1 fails=5 timeout=500ms remind=10s"
        ))
        .await;
    c.wait_line(a, "<b>UP</b>").await;
    c.wait_line(b, "<b>UP</b>").await;
    let mut ws = watch(&c.app, &[a]).await;

    host.set_link(false);
    let alert = c.wait_line(a, "<b>DOWN</b>").await;
    assert!(!alert.silent, "DOWN always makes a sound");
    assert_eq!(
        buttons(&alert),
        vec![format!("ack:{a}"), format!("mute:{a}:3600"), format!("pause:{a}")],
        "{alert:?}"
    );

    // A plain member may not mute: the press is answered with the reason, nothing edited.
    let q = c
        .fake
        .press(TOKEN, c.g, MEMBER, alert.message_id, &format!("mute:{a}:3600"));
    let (text, as_alert) = c.fake.wait_callback_answer(&q).await;
    assert!(as_alert && text.contains("only group administrators"), "{text}");
    assert_eq!(
        c.fake.shown(c.g, alert.message_id).unwrap().text,
        alert.text,
        "not edited"
    );
    let typed = c.say(MEMBER, &format!("/mute@{BOT} {a} 1h")).await;
    assert!(typed.text.starts_with("⛔ only group administrators"), "{}", typed.text);

    // While DOWN and neither acked nor muted: reminded after 10 s.
    let first = c.wait_line(a, "still <b>DOWN</b> for 1").await;
    assert!(has_line(&first.text, a, "edge"), "{}", first.text);

    // The member acks by button: answered, the alert edited, /list and WS show it.
    let q = c.fake.press(TOKEN, c.g, MEMBER, alert.message_id, &format!("ack:{a}"));
    let (text, as_alert) = c.fake.wait_callback_answer(&q).await;
    assert!(!as_alert && text.starts_with("✅ Acked"), "{text}");
    let edited = c
        .fake
        .wait_shown(c.g, alert.message_id, |m| m.text.contains("Acked by user77"))
        .await;
    assert!(
        edited.text.starts_with(&alert.text),
        "the alert keeps its text: {}",
        edited.text
    );
    let left: Vec<String> = edited
        .markup
        .as_ref()
        .and_then(|k| k["inline_keyboard"][0].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|b| b["callback_data"].as_str().map(String::from))
        .collect();
    assert_eq!(left, vec![format!("mute:{a}:3600"), format!("pause:{a}")]);
    let ev = state_event(&mut ws, a, |d| d["oncall"] == "ack").await;
    assert_eq!(ev["data"]["acked_by"], "user77 (@user77)", "{ev}");
    assert_eq!(ev["data"]["to"], "down");
    let list = c.say(MEMBER, &format!("/list@{BOT}")).await;
    assert!(has_line(&list.text, a, "acked by user77"), "{}", list.text);
    let acked_at = Instant::now();

    // core is not acked: its second reminder comes; edge's would have come before it.
    c.wait_line(b, "still <b>DOWN</b> for 2").await;
    let after: Vec<Sent> = c.fake.sent(c.g).into_iter().filter(|m| m.at >= acked_at).collect();
    assert_eq!(
        lines_about(&after, a, "still <b>DOWN</b>"),
        0,
        "no reminder after the ack: {after:?}"
    );
    assert_eq!(lines_about(&c.fake.sent(c.g), a, "still <b>DOWN</b>"), 1);

    // The recovery ends the ack.
    let t = Instant::now();
    host.set_link(true);
    c.wait_line_since(a, "<b>UP</b>", t).await;
    let ev = state_event(&mut ws, a, |d| d["to"] == "up").await;
    assert!(ev["data"]["acked_by"].is_null(), "{ev}");
    let view = c
        .app
        .running
        .service
        .execute(&Caller::Operator, Command::Status(upbot::core::Selector::Id(a)))
        .await;
    let Ok(Reply::Status(s)) = view else { panic!("{view:?}") };
    assert_eq!(s.monitor.acked_by, None);
    c.app.stop().await;
}

/// Issue 10: a mute holds a DOWN (probing goes on, nothing is sent), `/list` shows it,
/// and when it runs out the chat is told in one message what changed meanwhile;
/// `/unmute all` ends a mute at once with the same kind of message.
#[tokio::test]
async fn a_mute_holds_a_down_and_its_end_tells_the_chat() {
    if skip_without_root("a_mute_holds_a_down_and_its_end_tells_the_chat") {
        return;
    }
    let host = TestHost::new();
    let c = chat(-1001000000102, &[]).await;
    let a = c.add(&format!("{} name=edge {FAST}", host.addr())).await;
    c.wait_line(a, "<b>UP</b>").await;
    let member = c.say(MEMBER, &format!("/mute@{BOT} {a} 10s")).await;
    assert!(
        member.text.starts_with("⛔ only group administrators"),
        "{}",
        member.text
    );
    let muted_at = Instant::now();
    let r = c.say(ADMIN, &format!("/mute@{BOT} {a} 10s maintenance")).await;
    assert!(r.text.starts_with(&format!("🔕 Muted #{a} ")), "{}", r.text);
    assert!(r.text.contains(": maintenance."), "{}", r.text);
    let mut ws = watch(&c.app, &[a]).await;

    host.set_link(false);
    state_event(&mut ws, a, |d| d["to"] == "down").await;
    c.wait_outbox_empty().await;
    let list = c.say(ADMIN, &format!("/list@{BOT}")).await;
    assert!(has_line(&list.text, a, "🔕 muted until"), "{}", list.text);
    assert!(has_line(&list.text, a, "DOWN"), "probing went on: {}", list.text);

    // The mute runs out: one message says where the monitor stands now.
    let end = c.fake.wait_for_message(c.g, |m| m.text.contains("Mute ended")).await;
    assert!(end.at >= muted_at + Duration::from_secs(10), "not before its time");
    let during: Vec<Sent> = c
        .fake
        .sent(c.g)
        .into_iter()
        .filter(|m| m.at >= muted_at && m.at < end.at)
        .collect();
    assert_eq!(lines_about(&during, a, "<b>DOWN</b>"), 0, "held: {during:?}");
    assert!(
        end.text.starts_with("🔔 <b>Mute ended</b>: 1 monitor changed"),
        "{}",
        end.text
    );
    assert!(
        has_line(&end.text, a, "<b>DOWN</b>") && has_line(&end.text, a, "was UP"),
        "{}",
        end.text
    );
    assert_eq!(
        buttons(&end),
        vec![format!("ack:{a}"), format!("mute:{a}:3600"), format!("pause:{a}")]
    );
    // after the mute, alerts flow again
    let t = Instant::now();
    host.set_link(true);
    let up = c.wait_line_since(a, "<b>UP</b>", t).await;
    assert!(up.text.contains("back after"), "{}", up.text);

    // /unmute all ends a mute now; nothing changed meanwhile, and the chat hears that
    let r = c.say(ADMIN, &format!("/mute@{BOT} all 1h")).await;
    assert!(
        r.text.starts_with("🔕 Muted every monitor of this chat (1) until "),
        "{}",
        r.text
    );
    let r = c.say(ADMIN, &format!("/unmute@{BOT} all")).await;
    assert_eq!(r.text, "🔔 Unmuted this chat; nothing changed while it was muted.");
    c.fake
        .wait_for_message(c.g, |m| {
            m.text == "🔔 <b>Mute ended</b> for all monitors of this chat; nothing changed while it lasted."
        })
        .await;
    c.app.stop().await;
}

/// Issue 10: `/quiet on`: UP arrives without sound, DOWN with sound.
#[tokio::test]
async fn a_quiet_chat_hears_down_but_not_up() {
    if skip_without_root("a_quiet_chat_hears_down_but_not_up") {
        return;
    }
    let host = TestHost::new();
    let c = chat(-1001000000103, &[]).await;
    let member = c.say(MEMBER, &format!("/quiet@{BOT} on")).await;
    assert!(member.text.starts_with("⛔"), "admins only: {}", member.text);
    let r = c.say(ADMIN, &format!("/quiet@{BOT} on")).await;
    assert!(r.text.starts_with("🔈 Quiet mode on"), "{}", r.text);
    let a = c.add(&format!("{} name=edge {FAST}", host.addr())).await;
    let first = c.wait_line(a, "now UP").await;
    assert!(first.silent, "a first UP is quiet too");
    host.set_link(false);
    let down = c.wait_line(a, "<b>DOWN</b>").await;
    assert!(!down.silent, "DOWN always with sound");
    host.set_link(true);
    let up = c.wait_line(a, "back after").await;
    assert!(up.silent, "recovery without sound");
    assert!(up.markup.is_none(), "no buttons under an UP");
    c.app.stop().await;
}

/// Issue 10: while a parent is DOWN, its child's DOWN is not sent on its own: the
/// parent's alert counts it. Unknown parents are refused clearly.
#[tokio::test]
async fn only_the_parents_down_is_sent_and_it_counts_the_child() {
    if skip_without_root("only_the_parents_down_is_sent_and_it_counts_the_child") {
        return;
    }
    let mut host = TestHost::new();
    let behind = host.add_local_range()[0];
    let c = chat(-1001000000104, &[]).await;
    let r = c.say(ADMIN, &format!("/add@{BOT} {behind} parent=999")).await;
    assert!(
        r.text.contains("parent=999: there is no monitor #999 here"),
        "{}",
        r.text
    );
    let p = c.add(&format!("{} name=router {FAST}", host.addr())).await;
    let k = c.add(&format!("{behind} name=server {FAST} parent={p}")).await;
    c.wait_line(p, "<b>UP</b>").await;
    c.wait_line(k, "<b>UP</b>").await;
    let mut ws = watch(&c.app, &[p, k]).await;

    let down_at = Instant::now();
    host.set_link(false);
    let alert = c.wait_line(p, "<b>DOWN</b>").await;
    // both verdicts, in whichever order they come
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 2 {
        let v = ws
            .recv_until(|v| v["type"] == "state" && v["data"]["to"] == "down")
            .await;
        seen.insert(v["data"]["monitor_id"].as_u64().unwrap());
    }
    c.wait_outbox_empty().await;
    let after: Vec<Sent> = c.fake.sent(c.g).into_iter().filter(|m| m.at >= down_at).collect();
    assert_eq!(
        lines_about(&after, k, "DOWN"),
        0,
        "the child's DOWN is not sent alone: {after:?}"
    );
    let counted = after.iter().any(|m| has_line(&m.text, p, "+ 1 behind it"));
    assert!(counted, "the parent's alert counts the child: {after:?}");
    assert_eq!(buttons(&alert).first(), Some(&format!("ack:{p}")));
    let view = c
        .app
        .running
        .service
        .execute(&Caller::Operator, Command::Status(upbot::core::Selector::Id(k)))
        .await;
    let Ok(Reply::Status(s)) = view else { panic!("{view:?}") };
    assert_eq!(s.monitor.parent, Some(p));
    c.app.stop().await;
}

/// Accepts (and drops) every connection on `listener`, so probes never meet a full
/// accept queue.
fn accept_all(listener: std::net::TcpListener) -> tokio::task::JoinHandle<()> {
    let l = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            drop(s);
        }
    })
}

/// What a storm looked like in the chat.
struct StormFigures {
    messages: usize,
    max_chars: usize,
    after_first_verdict: Duration,
    after_last_verdict: Duration,
}

/// Waits until `n` monitors reached `to` (state events) and the chat was told, and
/// measures the messages sent from `since` on.
async fn storm(c: &Chat, ws: &mut WsClient, n: usize, to: &str, since: Instant) -> StormFigures {
    let mut verdicts: Vec<u64> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while verdicts.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        let v = tokio::time::timeout(left, ws.recv())
            .await
            .unwrap_or_else(|_| panic!("{} of {n} monitors {to} in 30 s", verdicts.len()));
        if v["type"] == "state" && v["data"]["to"] == to && v["data"]["oncall"].is_null() {
            let at = humantime::parse_rfc3339(v["timestamp"].as_str().unwrap()).unwrap();
            verdicts.push(at.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64);
        }
    }
    c.wait_outbox_empty().await;
    let msgs: Vec<Sent> = c.fake.sent(c.g).into_iter().filter(|m| m.at >= since).collect();
    assert!(msgs.iter().any(|m| m.text.contains(&to.to_uppercase())), "{msgs:?}");
    let last = msgs.last().expect("messages");
    // The fake's clock (Instant) and the verdicts' (wall clock ms) meet through "now".
    let wall_now = upbot::domain::now_ms();
    let last_ms = wall_now.saturating_sub(u64::try_from(last.at.elapsed().as_millis()).unwrap());
    let first_v = *verdicts.iter().min().unwrap();
    let last_v = *verdicts.iter().max().unwrap();
    StormFigures {
        messages: msgs.len(),
        max_chars: msgs.iter().map(|m| m.text.encode_utf16().count()).max().unwrap_or(0),
        after_first_verdict: Duration::from_millis(last_ms.saturating_sub(first_v)),
        after_last_verdict: Duration::from_millis(last_ms.saturating_sub(last_v)),
    }
}

/// Issue 10: 1,000 monitors of one chat changing at once reach it in at most 3
/// messages of at most 4,096 characters, within 5 s of the verdicts, going DOWN and
/// again coming back UP. 1,000 TCP monitors on ports 20000-20999 of one netns host,
/// whose nftables redirect every one of those ports to one listener.
#[tokio::test]
async fn a_thousand_monitors_down_and_up_reach_the_chat_in_three_messages_each() {
    if skip_without_root("a_thousand_monitors_down_and_up_reach_the_chat_in_three_messages_each") {
        return;
    }
    const N: u16 = 1000;
    let host = TestHost::new();
    crate::netns::run(&[
        "ip",
        "netns",
        "exec",
        &host.ns,
        "nft",
        "add table ip ubtredir\n\
         add chain ip ubtredir pre { type nat hook prerouting priority -100; }\n\
         add rule ip ubtredir pre tcp dport 20000-20999 redirect to :19999\n",
    ]);
    let _accepting = accept_all(host.listen(19999));
    let c = chat(-1001000000105, &[("UPBOT_CHAT_MAX_MONITORS", "2000")]).await;
    let caller = Caller::Chat {
        chat_id: c.g,
        bot: BOT.into(),
        thread_id: None,
        can_modify: true,
    };
    let adds = (0..N).map(|i| {
        let (svc, caller) = (c.app.running.service.clone(), caller.clone());
        let target = format!("{}:{}", host.addr(), 20000 + i);
        async move {
            let req = AddRequest {
                target,
                name: Some(format!("svc-{i:04}")),
                interval: Some(Duration::from_secs(1)),
                fails: Some(2),
                recovers: Some(2),
                timeout: Some(Duration::from_millis(500)),
                ..AddRequest::default()
            };
            match svc.execute(&caller, Command::Add(Box::new(req))).await {
                Ok(Reply::Added(m)) => m.id,
                other => panic!("add failed: {other:?}"),
            }
        }
    });
    let ids = futures_util::future::join_all(adds).await;
    let mut ws = watch(&c.app, &ids).await;
    // First verdicts: 1,000 "now UP" (one storm summary too).
    let t = Instant::now();
    let up0 = storm(&c, &mut ws, N.into(), "up", t).await;
    assert!(up0.messages <= 3, "first verdicts: {} messages", up0.messages);

    let t = Instant::now();
    host.set_link(false);
    let down = storm(&c, &mut ws, N.into(), "down", t).await;
    let t = Instant::now();
    host.set_link(true);
    let up = storm(&c, &mut ws, N.into(), "up", t).await;
    for (what, f) in [("DOWN", &down), ("UP", &up)] {
        eprintln!(
            "STORM {N} {what}: {} messages, longest {} characters, last message {:.2} s after the first verdict, {:.2} s after the last",
            f.messages,
            f.max_chars,
            f.after_first_verdict.as_secs_f64(),
            f.after_last_verdict.as_secs_f64()
        );
        assert!(f.messages <= 3, "{what}: {} messages", f.messages);
        assert!(f.max_chars <= 4096, "{what}: {} characters", f.max_chars);
        assert!(
            f.after_first_verdict <= Duration::from_secs(5),
            "{what}: the last message {:?} after the first verdict",
            f.after_first_verdict
        );
    }
    let last = c.fake.sent(c.g).into_iter().last().unwrap();
    assert!(last.text.contains("… and "), "a summary: {}", last.text);
    assert!(!last.silent, "sound unless the chat is quiet");
    c.app.stop().await;
}

/// A TCP port on 127.0.0.1 that accepts while the returned task runs.
async fn port() -> (u16, tokio::task::JoinHandle<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    (port, accept_all(l))
}

/// Accepts on `port` again (the same port: the monitor's target).
fn reopen(port: u16) -> tokio::task::JoinHandle<()> {
    let l = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    l.set_nonblocking(true).unwrap();
    accept_all(l)
}

/// Issue 10, persistence: the real binary killed with SIGKILL while a mute holds one
/// monitor's DOWN and another's outage is acked; the mute runs out while it is down.
/// After the restart the chat gets the end of the mute (the held DOWN, once), the ack
/// is still there, and nothing told before is told again.
#[tokio::test]
async fn kill_9_with_a_held_mute_and_an_ack_loses_and_repeats_nothing() {
    use crate::process::{Server, port0_env};
    let g = -1001000000106;
    let fake = FakeTelegram::start().await;
    fake.add_bot(TOKEN, 444444, BOT);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let gs = g.to_string();
    let mut env = port0_env(&data).to_vec();
    env.extend([
        ("UPBOT_TELEGRAM_TOKENS", TOKEN),
        ("UPBOT_TELEGRAM_API_URL", fake.url.as_str()),
        ("UPBOT_ALLOWED_CHATS", gs.as_str()),
    ]);
    let (pa, la) = port().await;
    let (pb, lb) = port().await;
    let mut s = Server::spawn(dir.path(), &env);
    let mut ws = WsClient::connect(&s.ws_url().await).await;
    let mut add = async |name: &str, port: u16| {
        let r = ws
            .request(
                "add",
                json!({"target": format!("127.0.0.1:{port}"), "name": name, "chat_id": g,
                       "interval": 1, "fails": 2, "recovers": 1, "timeout": 0.5}),
            )
            .await;
        assert_eq!(r["type"], "added", "{r}");
        MonitorId(r["data"]["id"].as_u64().unwrap())
    };
    let a = add("alpha", pa).await;
    let b = add("beta", pb).await;
    for id in [a, b] {
        fake.wait_for_message(g, |m| has_line(&m.text, id, "<b>UP</b>")).await;
    }
    let r = ws
        .request("mute", json!({"id": a.0, "duration": "8s", "reason": "deploy"}))
        .await;
    assert_eq!(r["type"], "muted", "{r}");
    let until = humantime::parse_rfc3339(r["data"]["muted_until"].as_str().unwrap()).unwrap();
    fake.wait_for_message(g, |m| has_line(&m.text, a, "muted by the operator"))
        .await;
    let r = ws.request("subscribe", json!({"event_types": ["state"]})).await;
    assert_eq!(r["type"], "subscribed");

    la.abort();
    lb.abort();
    fake.wait_for_message(g, |m| has_line(&m.text, b, "<b>DOWN</b>")).await;
    state_event(&mut ws, a, |d| d["to"] == "down").await;
    let r = ws.request("ack", json!({"id": b.0, "reason": "on it"})).await;
    assert_eq!(
        (r["type"].as_str(), r["data"]["acked_by"].as_str()),
        (Some("acked"), Some("the operator")),
        "{r}"
    );
    fake.wait_for_message(g, |m| has_line(&m.text, b, "acked by the operator: on it"))
        .await;
    let before = fake.sent(g);
    assert_eq!(
        lines_about(&before, a, "DOWN"),
        0,
        "the mute held alpha's DOWN: {before:?}"
    );
    // Delivery is at least once: a kill between Telegram's ok and the flushed removal
    // sends that message again (README). Wait until nothing is queued, then make one
    // flushed change, so the kill below lands outside that window.
    let metrics = format!(
        "http://{}/metrics",
        s.log_text()
            .lines()
            .find(|l| l.contains("HTTP receiver listening"))
            .and_then(|l| l.split("addr=").nth(1)?.split_whitespace().next())
            .expect("the HTTP address in the log")
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let text = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
        if text.lines().any(|l| l == "upbot_alerts_queued 0") {
            break;
        }
        assert!(Instant::now() < deadline, "alerts still queued:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = ws.request("quiet", json!({"chat_id": g, "on": false})).await;
    assert_eq!(r["type"], "quiet", "{r}");

    s.signal("-KILL");
    assert_eq!(s.exit_code().await, None, "killed by a signal");
    // Restart once the mute is over: it ends at the first look after the start.
    let wait = until.duration_since(std::time::SystemTime::now()).unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(200)).await;
    let restarted = Instant::now();
    let mut s = Server::spawn(dir.path(), &env);
    let mut ws = WsClient::connect(&s.ws_url().await).await;
    let end = fake
        .wait_for_message(g, |m| m.at >= restarted && m.text.contains("Mute ended"))
        .await;
    assert!(
        has_line(&end.text, a, "<b>DOWN</b>") && has_line(&end.text, a, "was UP"),
        "{}",
        end.text
    );
    let list = ws.request("list", json!({"chat_id": g})).await;
    let monitors = list["data"]["monitors"].as_array().unwrap();
    let view = |id: MonitorId| monitors.iter().find(|m| m["id"] == id.0).unwrap().clone();
    assert_eq!(view(b)["acked_by"], "the operator", "the ack survived: {list}");
    assert_eq!(view(b)["ack_reason"], "on it");
    assert!(view(a)["muted_until"].is_null(), "{list}");
    // A button under an alert sent before the kill still works.
    let beta_down = before.iter().find(|m| has_line(&m.text, b, "<b>DOWN</b>")).unwrap();
    let q = fake.press(TOKEN, g, MEMBER, beta_down.message_id, &format!("ack:{b}"));
    let (text, as_alert) = fake.wait_callback_answer(&q).await;
    assert!(!as_alert && text.starts_with("✅ Acked"), "{text}");
    fake.wait_shown(g, beta_down.message_id, |m| m.text.contains("Acked by user77"))
        .await;
    // beta comes back: its UP is the next message, and nothing else was sent meanwhile
    let _lb = reopen(pb);
    fake.wait_for_message(g, |m| m.at >= restarted && has_line(&m.text, b, "<b>UP</b>"))
        .await;
    let after: Vec<Sent> = fake.sent(g).into_iter().filter(|m| m.at >= restarted).collect();
    let texts: Vec<&str> = after.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        after.len(),
        2,
        "only the end of the mute and beta's recovery: {texts:#?}"
    );
    assert_eq!(lines_about(&after, a, "DOWN"), 1, "alpha's DOWN told once: {texts:#?}");
    assert_eq!(lines_about(&fake.sent(g), b, "<b>DOWN</b>"), 1, "beta's DOWN not again");
    s.signal("-TERM");
    assert_eq!(s.exit_code().await, Some(0), "{}", s.log_text());
}

/// Runs the real `upbot` client against `url`; returns (exit code, stdout, stderr).
async fn cli(url: &str, args: &[&str]) -> (i32, String, String) {
    let out = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new(env!("CARGO_BIN_EXE_upbot"))
            .args(args)
            .args(["--server", url])
            .env_remove("UPBOT_SERVER")
            .env_remove("UPBOT_WS_TOKEN")
            .env("RUST_LOG", "off")
            .output(),
    )
    .await
    .expect("the client finishes in time")
    .expect("the binary runs");
    (
        out.status.code().expect("exited"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Issue 10 on the WS API and the CLI: `add` takes `parent` and `remind`, the monitor
/// object shows the on-call fields, `ack`/`mute`/`unmute`/`remind`/`quiet` and
/// `list` with `down`, their errors, and state events for acks and mutes.
#[tokio::test]
async fn ws_and_cli_speak_the_on_call_ops() {
    let app = spawn_app(&[]).await;
    crate::helpers::register_bot(&app.running.service, "mon_bot");
    let g = -100123;
    let url = app.ws_url.clone();
    let mut ws = app.ws().await;
    let (pp, lp) = port().await;
    let (pc, lc) = port().await;
    let add = |target: String, extra: Value| {
        let mut d = json!({"target": target, "chat_id": g, "interval": 1, "fails": 1, "recovers": 1, "timeout": 0.5});
        for (k, v) in extra.as_object().unwrap() {
            d[k] = v.clone();
        }
        d
    };
    let r = ws
        .request("add", add(format!("127.0.0.1:{pp}"), json!({"name": "router"})))
        .await;
    let p = r["data"]["id"].as_u64().unwrap();
    for k in ["acked_by", "ack_reason", "muted_until", "parent", "remind"] {
        assert!(r["data"].get(k).is_some_and(Value::is_null), "{k} in {r}");
    }
    let r = ws
        .request(
            "add",
            add(
                format!("127.0.0.1:{pc}"),
                json!({"name": "app", "parent": p, "remind": "30s"}),
            ),
        )
        .await;
    assert_eq!(
        (r["data"]["parent"].as_u64(), r["data"]["remind"].as_f64()),
        (Some(p), Some(30.0)),
        "{r}"
    );
    let c = r["data"]["id"].as_u64().unwrap();
    for (extra, needle) in [
        (json!({"parent": 999}), "parent=999: there is no monitor #999 here"),
        (json!({"remind": 5}), "remind must be between 10s and 30 days"),
    ] {
        let r = ws.request("add", add("127.0.0.1:9".into(), extra.clone())).await;
        assert_eq!(r["data"]["code"], "VALIDATION_ERROR", "{extra}: {r}");
        assert!(r["data"]["message"].as_str().unwrap().contains(needle), "{r}");
    }
    let r = ws
        .request("add", json!({"target": "127.0.0.1:9", "parent": p, "chat_id": -100124}))
        .await;
    assert!(
        r["data"]["message"].as_str().unwrap().contains("alerts another chat"),
        "{r}"
    );
    let r = ws
        .request(
            "subscribe",
            json!({"event_types": ["state"], "filters": {"chat_ids": [g]}}),
        )
        .await;
    assert_eq!(r["type"], "subscribed");
    state_event(&mut ws, MonitorId(c), |d| d["to"] == "up").await;

    // ack: only a DOWN or DEGRADED monitor
    let r = ws.request("ack", json!({"id": c})).await;
    assert_eq!(r["data"]["code"], "VALIDATION_ERROR", "{r}");
    assert!(
        r["data"]["message"]
            .as_str()
            .unwrap()
            .contains("only a DOWN or DEGRADED monitor can be acked; it is UP"),
        "{r}"
    );
    lc.abort();
    lp.abort();
    state_event(&mut ws, MonitorId(c), |d| d["to"] == "down").await;
    let (code, out, err) = cli(&url, &["ack", &c.to_string(), "--reason", "on it"]).await;
    assert_eq!(
        (code, out.trim(), err.as_str()),
        (0, format!("acked #{c} app (by the operator: on it)").as_str(), "")
    );
    let ev = state_event(&mut ws, MonitorId(c), |d| d["oncall"] == "ack").await;
    assert_eq!(
        (ev["data"]["acked_by"].as_str(), ev["data"]["ack_reason"].as_str()),
        (Some("the operator"), Some("on it"))
    );

    // mute all needs the chat; a mute shows in the events and the monitor objects
    let (code, _, err) = cli(&url, &["mute", "all", "1h"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("VALIDATION_ERROR") && err.contains("needs the chat_id"),
        "{err}"
    );
    let (code, out, err) = cli(
        &url,
        &["mute", "all", "1h", "--chat-id", &g.to_string(), "--reason", "deploy"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!("all 2 monitors of chat {g}: muted until ")),
        "{out}"
    );
    let ev = state_event(&mut ws, MonitorId(p), |d| d["oncall"] == "mute").await;
    assert!(ev["data"]["muted_until"].is_string(), "{ev}");
    let r = ws.request("list", json!({"chat_id": g, "down": true})).await;
    let down = r["data"]["monitors"].as_array().unwrap();
    assert_eq!(down.len(), 2, "{r}");
    assert!(down.iter().all(|m| m["muted_until"].is_string()), "{r}");
    assert_eq!(down.iter().find(|m| m["id"] == c).unwrap()["acked_by"], "the operator");

    // reminders: off (a string or null), at least 10 s, and required
    let (code, out, _) = cli(&url, &["remind", &c.to_string(), "off"]).await;
    assert_eq!((code, out.trim()), (0, format!("#{c} app: no reminders").as_str()));
    let (code, _, err) = cli(&url, &["remind", &c.to_string(), "5s"]).await;
    assert!(
        code == 1 && err.contains("remind must be between 10s and 30 days"),
        "{err}"
    );
    let r = ws
        .request("remind", json!({"id": "all", "chat_id": g, "duration": "1m"}))
        .await;
    assert_eq!(r["type"], "reminders", "{r}");
    assert_eq!(r["data"]["remind"], 60.0);
    let r = ws.request("remind", json!({"id": c, "duration": null})).await;
    assert!(
        r["data"]["remind"].is_null() && r["data"]["monitors"][0]["remind"].is_null(),
        "{r}"
    );
    let r = ws.request("remind", json!({"id": c})).await;
    assert!(
        r["data"]["message"].as_str().unwrap().contains("duration is required"),
        "{r}"
    );

    // unmute: the end-of-mute message is queued for the chat
    let r = ws.request("unmute", json!({"id": c})).await;
    assert!(
        r["data"]["message"]
            .as_str()
            .unwrap()
            .contains("is muted with all: unmute all ends it"),
        "{r}"
    );
    let (code, out, err) = cli(&url, &["unmute", "all", "--chat-id", &g.to_string()]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("unmuted; 2 changed while muted"), "{out}");
    let r = ws.request("unmute", json!({"id": "all", "chat_id": g})).await;
    assert!(
        r["data"]["message"].as_str().unwrap().contains("nothing is muted"),
        "{r}"
    );
    let r = ws.request("quiet", json!({"chat_id": g, "on": "on"})).await;
    assert_eq!(
        (r["type"].as_str(), r["data"]["quiet"].as_bool()),
        (Some("quiet"), Some(true)),
        "{r}"
    );
    let r = ws
        .request("mute", json!({"id": c, "duration": "1h", "chat_id": g}))
        .await;
    assert!(
        r["data"]["message"]
            .as_str()
            .unwrap()
            .contains("chat_id goes with id \"all\" only"),
        "{r}"
    );
    app.stop().await;
}
