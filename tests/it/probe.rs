//! Probing end to end: the real app, real ICMP to 127.0.0.0/8 and ::1, real TCP
//! listeners, and network-namespace hosts that go down, come back and lose packets.
//! Waits are on events (state changes, probe results), each bounded by `WAIT`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use upbot::core::{AddRequest, Caller, Command, Reply, Selector, StatusView};
use upbot::domain::{MonitorId, State};
use upbot::events::{ProbeEvent, StateEvent, Subscription};

use crate::helpers::{TestApp, WAIT, skip_without_root, spawn_app, spawn_app_in};
use crate::netns::TestHost;

/// Everything the bus said since the watch started.
pub(crate) struct Watch {
    sub: Subscription,
    pub(crate) probes: Vec<Arc<ProbeEvent>>,
    pub(crate) states: Vec<Arc<StateEvent>>,
}

impl Watch {
    pub(crate) fn new(app: &TestApp) -> Self {
        Self {
            sub: app.running.service.events().subscribe(),
            probes: Vec::new(),
            states: Vec::new(),
        }
    }

    /// Takes whatever is queued without waiting.
    pub(crate) fn drain(&mut self) {
        while let Ok(p) = self.sub.probe.try_recv() {
            self.probes.push(p);
        }
        while let Ok(s) = self.sub.state.try_recv() {
            self.states.push(s);
        }
        // A state change is published after its probe: pick up that probe too.
        while let Ok(p) = self.sub.probe.try_recv() {
            self.probes.push(p);
        }
    }

    /// Collects events until `done` holds; panics after `WAIT`.
    pub(crate) async fn until(&mut self, what: &str, done: impl Fn(&Watch) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            self.drain();
            if done(self) {
                return;
            }
            tokio::select! {
                r = self.sub.probe.recv() => self.probes.push(r.expect("probe channel open, not lagging")),
                r = self.sub.state.recv() => self.states.push(r.expect("state channel open")),
                () = tokio::time::sleep_until(deadline) => panic!("timed out waiting for {what}"),
            }
        }
    }

    pub(crate) fn probes_of(&self, id: MonitorId) -> Vec<&ProbeEvent> {
        self.probes
            .iter()
            .filter(|p| p.monitor_id == id)
            .map(|p| &**p)
            .collect()
    }

    pub(crate) fn states_of(&self, id: MonitorId) -> Vec<&StateEvent> {
        self.states
            .iter()
            .filter(|s| s.monitor_id == id)
            .map(|s| &**s)
            .collect()
    }

    /// Length of the run of `ok` results that ends with the probe at `at_ms`.
    pub(crate) fn trailing_run(&self, id: MonitorId, at_ms: u64, ok: bool) -> usize {
        let probes = self.probes_of(id);
        let upto: Vec<_> = probes.iter().filter(|p| p.at_ms <= at_ms).collect();
        upto.iter().rev().take_while(|p| p.ok == ok).count()
    }
}

pub(crate) fn request(target: &str) -> AddRequest {
    AddRequest {
        target: target.into(),
        interval: Some(Duration::from_secs(1)),
        timeout: Some(Duration::from_millis(500)),
        fails: Some(3),
        recovers: Some(2),
        ..AddRequest::default()
    }
}

pub(crate) async fn add(app: &TestApp, req: AddRequest) -> MonitorId {
    let target = req.target.clone();
    match app
        .running
        .service
        .execute(&Caller::Operator, Command::Add(Box::new(req)))
        .await
    {
        Ok(Reply::Added(v)) => v.id,
        other => panic!("adding {target}: {other:?}"),
    }
}

pub(crate) async fn command(app: &TestApp, cmd: Command) -> Reply {
    app.running
        .service
        .execute(&Caller::Operator, cmd)
        .await
        .expect("command succeeds")
}

pub(crate) async fn status(app: &TestApp, id: MonitorId) -> StatusView {
    match command(app, Command::Status(Selector::Id(id))).await {
        Reply::Status(s) => *s,
        other => panic!("{other:?}"),
    }
}

/// A loopback listener that accepts and drops connections until aborted.
async fn listen(port: u16) -> (tokio::task::JoinHandle<()>, u16) {
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    (serve(l), port)
}

fn serve(l: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((c, _)) = l.accept().await {
            drop(c);
        }
    })
}

async fn close(server: tokio::task::JoinHandle<()>) {
    server.abort();
    let _ = server.await;
}

/// Failures in `status` stats (probes − successes).
fn failed(s: &StatusView) -> u64 {
    let ok = (s.stats.probes as f64 * s.stats.uptime_pct / 100.0).round() as u64;
    s.stats.probes - ok
}

#[tokio::test]
async fn icmp_first_verdict_is_announced_once() {
    if skip_without_root("icmp_first_verdict_is_announced_once") {
        return;
    }
    let app = spawn_app(&[]).await;
    let mut w = Watch::new(&app);
    let mut ids = Vec::new();
    for t in ["127.0.0.1", "127.1.2.3", "127.45.67.89", "127.254.0.1", "::1"] {
        ids.push(add(&app, request(t)).await);
    }
    w.until("a first verdict for every monitor", |w| {
        ids.iter().all(|id| !w.states_of(*id).is_empty())
    })
    .await;
    let seen: HashMap<MonitorId, usize> = ids.iter().map(|id| (*id, w.probes_of(*id).len())).collect();
    w.until("three more probes each", |w| {
        ids.iter().all(|id| w.probes_of(*id).len() >= seen[id] + 3)
    })
    .await;
    for id in &ids {
        let states = w.states_of(*id);
        assert_eq!(states.len(), 1, "monitor {id}: exactly one state event, got {states:?}");
        let s = states[0];
        assert_eq!(
            (s.from, s.to, s.announce),
            (State::Pending, State::Up, true),
            "monitor {id}"
        );
        let probes = w.probes_of(*id);
        assert!(probes.iter().all(|p| p.ok && p.rtt_ms.is_some()), "{probes:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn tcp_down_after_fails_and_up_after_recovers() {
    let app = spawn_app(&[]).await;
    let mut w = Watch::new(&app);
    let (server, port) = listen(0).await;
    let id = add(&app, request(&format!("127.0.0.1:{port}"))).await;
    w.until("UP", |w| !w.states_of(id).is_empty()).await;
    let up = w.states_of(id)[0].clone();
    assert_eq!((up.from, up.to, up.announce), (State::Pending, State::Up, true));
    assert_eq!(up.target, format!("127.0.0.1:{port}"));

    close(server).await;
    w.until("DOWN", |w| w.states_of(id).len() >= 2).await;
    let down = w.states_of(id)[1].clone();
    assert_eq!((down.from, down.to, down.announce), (State::Up, State::Down, true));
    assert_eq!(down.reason, "connection refused");
    assert_eq!(
        w.trailing_run(id, down.at_ms, false),
        3,
        "DOWN exactly at the 3rd failure"
    );
    let last = w.probes_of(id).into_iter().rfind(|p| p.at_ms <= down.at_ms).cloned();
    assert_eq!(last.and_then(|p| p.error), Some("connection refused".to_string()));

    let (server, _) = listen(port).await;
    w.until("UP again", |w| w.states_of(id).len() >= 3).await;
    let back = w.states_of(id)[2].clone();
    assert_eq!((back.from, back.to, back.announce), (State::Down, State::Up, true));
    assert!(back.down_for_ms.is_some_and(|ms| ms >= 1000), "{back:?}");
    assert_eq!(w.trailing_run(id, back.at_ms, true), 2, "UP exactly at the 2nd success");

    let n = w.probes_of(id).len();
    w.until("two more probes", |w| w.probes_of(id).len() >= n + 2).await;
    assert_eq!(w.states_of(id).len(), 3, "no further state changes");
    close(server).await;
    app.stop().await;
}

#[tokio::test]
async fn netns_host_down_and_up_is_debounced() {
    if skip_without_root("netns_host_down_and_up_is_debounced") {
        return;
    }
    let host = TestHost::new();
    let listener = tokio::net::TcpListener::from_std(host.listen(0)).expect("tokio listener");
    let port = listener.local_addr().expect("addr").port();
    let server = serve(listener);
    let app = spawn_app(&[]).await;
    let mut w = Watch::new(&app);
    let ping = add(&app, request(&host.addr().to_string())).await;
    let tcp = add(&app, request(&format!("{}:{port}", host.addr()))).await;
    let both = [ping, tcp];
    w.until("both UP", |w| both.iter().all(|id| !w.states_of(*id).is_empty()))
        .await;
    for id in both {
        let s = w.states_of(id)[0];
        assert_eq!((s.from, s.to), (State::Pending, State::Up), "monitor {id}");
    }

    host.set_link(false);
    w.until("both DOWN", |w| both.iter().all(|id| w.states_of(*id).len() >= 2))
        .await;
    for (id, reasons) in [
        (ping, &["3 of 3 pings lost", "host unreachable"][..]),
        (tcp, &["timed out after 500ms", "host unreachable"][..]),
    ] {
        let s = w.states_of(id)[1].clone();
        assert_eq!(
            (s.from, s.to, s.announce),
            (State::Up, State::Down, true),
            "monitor {id}"
        );
        assert!(
            reasons.contains(&s.reason.as_str()),
            "monitor {id}: reason {:?}",
            s.reason
        );
        assert_eq!(
            w.trailing_run(id, s.at_ms, false),
            3,
            "monitor {id}: not before 3 failures"
        );
    }

    host.set_link(true);
    w.until("both UP again", |w| both.iter().all(|id| w.states_of(*id).len() >= 3))
        .await;
    let counts: HashMap<MonitorId, usize> = both.iter().map(|id| (*id, w.probes_of(*id).len())).collect();
    for id in both {
        let s = w.states_of(id)[2].clone();
        assert_eq!(
            (s.from, s.to, s.announce),
            (State::Down, State::Up, true),
            "monitor {id}"
        );
        assert_eq!(
            w.trailing_run(id, s.at_ms, true),
            2,
            "monitor {id}: after 2 good probes"
        );
    }
    w.until("two more probes each", |w| {
        both.iter().all(|id| w.probes_of(*id).len() >= counts[id] + 2)
    })
    .await;
    for id in both {
        assert_eq!(w.states_of(id).len(), 3, "monitor {id}: exactly one DOWN and one UP");
    }
    app.stop().await;
    close(server).await;
}

#[tokio::test]
async fn netns_packet_loss_is_measured() {
    if skip_without_root("netns_packet_loss_is_measured") {
        return;
    }
    let mut host = TestHost::new();
    let addrs = host.add_local_range();
    host.set_loss(30);
    let app = spawn_app(&[]).await;
    let mut w = Watch::new(&app);
    let mut ids = Vec::new();
    for a in &addrs {
        let mut req = request(&a.to_string());
        req.fails = Some(100);
        // One echo a probe, so failed probes measure the lost echoes (with retries,
        // tests/it/loss.rs measures them in packets).
        req.retries = Some(0);
        ids.push(add(&app, req).await);
    }
    w.until("200 probes", |w| w.probes.len() >= 200).await;
    let failed_events = w.probes.iter().filter(|p| !p.ok).count();
    let events_pct = failed_events as f64 * 100.0 / w.probes.len() as f64;
    let (mut probes, mut lost) = (0, 0);
    for id in &ids {
        let s = status(&app, *id).await;
        probes += s.stats.probes;
        lost += failed(&s);
    }
    let stats_pct = lost as f64 * 100.0 / probes as f64;
    eprintln!("30 % nft loss measured as {stats_pct:.1} % over {probes} probes ({events_pct:.1} % in events)");
    assert!(probes >= 200, "{probes}");
    assert!(
        (20.0..=40.0).contains(&stats_pct),
        "loss {stats_pct:.1} % over {probes} probes"
    );
    assert!((20.0..=40.0).contains(&events_pct), "loss {events_pct:.1} % in events");
    app.stop().await;
}

#[tokio::test]
async fn deleted_monitor_stops_probing_at_once() {
    let app = spawn_app(&[]).await;
    let mut w = Watch::new(&app);
    let (server, port) = listen(0).await;
    let a = add(&app, request(&format!("127.0.0.1:{port}"))).await;
    let b = add(&app, request(&format!("localhost:{port}"))).await;
    w.until("a probe of each", |w| {
        !w.probes_of(a).is_empty() && !w.probes_of(b).is_empty()
    })
    .await;
    command(&app, Command::Del(Selector::Id(a))).await;
    // Anything published before the delete returned is queued by now.
    w.drain();
    let (na, nb) = (w.probes_of(a).len(), w.probes_of(b).len());
    w.until("three more probes of the other monitor", |w| {
        w.probes_of(b).len() >= nb + 3
    })
    .await;
    assert_eq!(w.probes_of(a).len(), na, "no probe of the deleted monitor after delete");
    let gone = app
        .running
        .service
        .execute(&Caller::Operator, Command::Status(Selector::Id(a)))
        .await;
    assert!(gone.is_err(), "{gone:?}");
    close(server).await;
    app.stop().await;
}

#[tokio::test]
async fn paused_monitor_is_silent_and_resume_is_not_news() {
    let app = spawn_app(&[]).await;
    let mut w = Watch::new(&app);
    let (server, port) = listen(0).await;
    let a = add(&app, request(&format!("127.0.0.1:{port}"))).await;
    let b = add(&app, request(&format!("localhost:{port}"))).await;
    w.until("a UP", |w| !w.states_of(a).is_empty()).await;

    command(&app, Command::Pause(Selector::Id(a))).await;
    w.drain();
    let paused = w.states_of(a).last().map(|s| (s.from, s.to, s.announce));
    assert_eq!(paused, Some((State::Up, State::Paused, false)));
    let (na, nb) = (w.probes_of(a).len(), w.probes_of(b).len());
    w.until("three probes of the other monitor", |w| w.probes_of(b).len() >= nb + 3)
        .await;
    assert_eq!(w.probes_of(a).len(), na, "a paused monitor is not probed");

    command(&app, Command::Resume(Selector::Id(a))).await;
    w.until("a verdict after resume", |w| {
        w.states_of(a).last().is_some_and(|s| s.from == State::Pending)
    })
    .await;
    let states: Vec<_> = w.states_of(a).iter().map(|s| (s.from, s.to, s.announce)).collect();
    assert_eq!(
        states,
        vec![
            (State::Pending, State::Up, true),
            (State::Up, State::Paused, false),
            (State::Paused, State::Pending, false),
            (State::Pending, State::Up, false),
        ]
    );
    assert!(w.probes_of(a).len() >= na + 2, "probing again");
    close(server).await;
    app.stop().await;
}

#[tokio::test]
async fn restart_keeps_the_verdict_and_a_half_counted_outage() {
    let app = spawn_app(&[]).await;
    let mut w = Watch::new(&app);
    let (server, port) = listen(0).await;
    let id = add(&app, request(&format!("127.0.0.1:{port}"))).await;
    w.until("UP", |w| !w.states_of(id).is_empty()).await;
    let since = status(&app, id).await.monitor.since;

    // Restart while up: the verdict stands, nothing is announced again.
    let app = spawn_app_in(app.stop().await, &[]).await;
    let mut w = Watch::new(&app);
    w.until("three probes after restart", |w| w.probes_of(id).len() >= 3)
        .await;
    assert!(w.states_of(id).is_empty(), "{:?}", w.states);
    let st = status(&app, id).await;
    assert_eq!((st.monitor.state, st.monitor.since.clone()), (State::Up, since));
    let failed_before = failed(&st);

    // One failure counted, then restart: the outage goes on being counted.
    close(server).await;
    w.until("a failed probe", |w| w.probes_of(id).iter().any(|p| !p.ok))
        .await;
    let dir = app.stop().await;
    w.drain();
    let k = w.probes_of(id).iter().filter(|p| !p.ok).count();
    assert!((1..3).contains(&k), "{k} failures before the restart");
    assert!(w.states_of(id).is_empty());

    let app = spawn_app_in(dir, &[]).await;
    let mut w = Watch::new(&app);
    w.until("DOWN", |w| !w.states_of(id).is_empty()).await;
    let st = status(&app, id).await;
    let s = w.states_of(id)[0];
    assert_eq!((s.from, s.to, s.announce), (State::Up, State::Down, true));
    assert_eq!(
        failed(&st) - failed_before,
        3,
        "DOWN after 3 failures in all ({k} before the restart)"
    );
    let after = w.probes_of(id).iter().filter(|p| !p.ok).count();
    assert!(after <= 3 - k, "{after} failures after the restart, {k} before");
    assert_eq!(w.states_of(id).len(), 1, "nothing re-announced");
    app.stop().await;
}

#[tokio::test]
async fn ping_to_an_unresolvable_name_fails_as_dns() {
    if skip_without_root("ping_to_an_unresolvable_name_fails_as_dns") {
        return;
    }
    let app = spawn_app(&[]).await;
    let mut w = Watch::new(&app);
    let mut req = request("no-such-host.invalid");
    req.fails = Some(1);
    let id = add(&app, req).await;
    w.until("DOWN", |w| !w.states_of(id).is_empty()).await;
    let s = w.states_of(id)[0];
    assert_eq!(s.to, State::Down);
    assert!(s.reason.starts_with("dns: "), "{:?}", s.reason);
    app.stop().await;
}
