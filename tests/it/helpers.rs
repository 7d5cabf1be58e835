//! Shared test helpers: start the real app on port 0 with a temporary data dir, talk
//! to it over a real WebSocket, and wait for events with bounded timeouts.
#![allow(dead_code)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};
use upbot::app::Running;
use upbot::config::Config;

/// Upper bound for any single wait in a test.
pub const WAIT: Duration = Duration::from_secs(15);

/// A running server with its own data dir.
pub struct TestApp {
    pub running: Running,
    pub ws_url: String,
    pub data_dir: tempfile::TempDir,
}

/// Config for tests: port 0 everywhere, a fresh data dir, extra `UPBOT_*` pairs on top.
pub fn test_config(data_dir: &std::path::Path, extra: &[(&str, &str)]) -> Config {
    let mut vars: std::collections::HashMap<String, String> = [
        ("UPBOT_DATA_DIR", data_dir.to_str().expect("utf-8 temp path")),
        ("UPBOT_WS_ADDR", "127.0.0.1:0"),
        ("UPBOT_HTTP_ADDR", "127.0.0.1:0"),
        // Tests probe only loopback, also from chats; chat-safety tests set the
        // default policy back explicitly.
        ("UPBOT_CHAT_TARGETS", "0.0.0.0/0,::/0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(|k| vars.get(k).cloned()).expect("test config is valid")
}

/// Starts the real app on port 0.
pub async fn spawn_app(extra: &[(&str, &str)]) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    spawn_app_in(data_dir, extra).await
}

/// Starts the real app on port 0 using an existing data dir (restart tests).
pub async fn spawn_app_in(data_dir: tempfile::TempDir, extra: &[(&str, &str)]) -> TestApp {
    init_test_tracing();
    let config = test_config(data_dir.path(), extra);
    let running = upbot::app::start(config).await.expect("app starts");
    let ws_url = format!("ws://{}/ws", running.ws_addr);
    TestApp {
        running,
        ws_url,
        data_dir,
    }
}

impl TestApp {
    /// Opens a WS client connection.
    pub async fn ws(&self) -> WsClient {
        WsClient::connect(&self.ws_url).await
    }

    /// Stops the app (ordered shutdown) and returns its data dir for a restart.
    pub async fn stop(self) -> tempfile::TempDir {
        self.running.stop().await.expect("clean shutdown");
        self.data_dir
    }
}

/// Logs go to the test output only when `TEST_LOG` is set.
pub fn init_test_tracing() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            ))
            .with_test_writer()
            .try_init();
    }
}

/// One log event recorded by [`Logs`]: its level, message and other fields (as shown).
#[derive(Debug, Clone)]
pub struct LogEvent {
    pub level: tracing::Level,
    pub message: String,
    pub fields: Vec<(&'static str, String)>,
}

impl LogEvent {
    /// The value of field `name`, as the log shows it.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// The app's log events (upbot's own, `DEBUG` and up) recorded for a test to await and
/// count. Recording is scoped to the test's thread: a `#[tokio::test]` runs the app's
/// tasks there, and the tests running beside it stay out. With `TEST_LOG` they are
/// printed too.
#[derive(Clone, Default)]
pub struct Logs {
    state: std::sync::Arc<LogsState>,
}

#[derive(Default)]
struct LogsState {
    events: std::sync::Mutex<Vec<LogEvent>>,
    changed: tokio::sync::Notify,
}

impl Logs {
    /// Starts recording; it lasts as long as the guard.
    pub fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::{EnvFilter, Layer, filter::Targets};
        let logs = Self::default();
        let printed = std::env::var_os("TEST_LOG").is_some().then(|| {
            let filter = EnvFilter::new(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()));
            tracing_subscriber::fmt::layer().with_test_writer().with_filter(filter)
        });
        let recorded = logs
            .clone()
            .with_filter(Targets::new().with_target("upbot", tracing::Level::DEBUG));
        let subscriber = tracing_subscriber::registry().with(recorded).with(printed);
        (logs, tracing::subscriber::set_default(subscriber))
    }

    /// The events recorded so far.
    pub fn events(&self) -> Vec<LogEvent> {
        self.state.events.lock().unwrap().clone()
    }

    /// Events at `level` whose message starts with `message` and whose `bot` is `bot`.
    pub fn count(&self, level: tracing::Level, bot: &str, message: &str) -> usize {
        self.events()
            .iter()
            .filter(|e| e.level == level && e.field("bot") == Some(bot) && e.message.starts_with(message))
            .count()
    }

    /// Waits (bounded by [`WAIT`]) until `cond` holds over the recorded events.
    pub async fn wait_until<T>(&self, what: &str, mut cond: impl FnMut(&[LogEvent]) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.state.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(v) = cond(&self.events()) {
                return v;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("timed out after {WAIT:?} waiting for {what} in the log");
            }
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Logs {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        #[derive(Default)]
        struct Fields(String, Vec<(&'static str, String)>);
        impl tracing::field::Visit for Fields {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                match field.name() {
                    "message" => self.0 = value.to_string(),
                    name => self.1.push((name, value.to_string())),
                }
            }
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.record_str(field, &format!("{value:?}"));
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.state.events.lock().unwrap().push(LogEvent {
            level: *event.metadata().level(),
            message: fields.0,
            fields: fields.1,
        });
        self.state.changed.notify_waiters();
    }
}

/// A WS client speaking JSON text frames.
pub struct WsClient {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    pub async fn connect(url: &str) -> Self {
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("WS handshake");
        Self { ws }
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// Sends a JSON value.
    pub async fn send(&mut self, v: Value) {
        self.send_text(&v.to_string()).await;
    }

    /// Next text frame, raw (panics after [`WAIT`] or on close).
    pub async fn recv_text(&mut self) -> String {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a message in time")
                .expect("connection open")
                .expect("no WS error");
            match msg {
                Message::Text(t) => return t.to_string(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// Next text frame parsed as JSON.
    pub async fn recv(&mut self) -> Value {
        let t = self.recv_text().await;
        serde_json::from_str(&t).unwrap_or_else(|e| panic!("server sent non-JSON {t:?}: {e}"))
    }

    /// Receives until a message satisfies `pred` (bounded by [`WAIT`] overall).
    pub async fn recv_until(&mut self, mut pred: impl FnMut(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let v = tokio::time::timeout(left, self.recv())
                .await
                .expect("awaited message in time");
            if pred(&v) {
                return v;
            }
        }
    }

    /// Sends an envelope request and returns the reply with the same `request_id`.
    pub async fn request(&mut self, ty: &str, data: Value) -> Value {
        let rid = format!("r{}", rand_id());
        self.send(json!({"type": ty, "request_id": rid, "data": data})).await;
        self.recv_until(|v| v["request_id"] == rid).await
    }
}

/// Opens a WS connection with extra handshake headers; `Err(status)` when refused.
pub async fn connect_with(url: &str, headers: &[(&'static str, &str)]) -> Result<WsClient, u16> {
    use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, http::HeaderValue};
    let mut req = url.into_client_request().expect("a WS URL");
    for (k, v) in headers {
        req.headers_mut()
            .insert(*k, HeaderValue::from_str(v).expect("a header value"));
    }
    match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("handshake in time")
    {
        Ok((ws, _)) => Ok(WsClient { ws }),
        Err(tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("unexpected handshake error {e}"),
    }
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

/// True when ICMP/netns tests may be skipped: not root and not in CI. In CI (root)
/// they must run and fail loudly instead.
pub fn skip_without_root(test: &str) -> bool {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if root || std::env::var_os("CI").is_some() {
        return false;
    }
    eprintln!("SKIP {test}: needs root (raw ICMP sockets, network namespaces); run as root or in CI");
    true
}

/// Lets `add` name chats through `bot` without a Telegram front (no Bot API asked).
pub fn register_bot(service: &upbot::core::Service, username: &str) {
    service.set_bot_gateway(Some(std::sync::Arc::new(upbot::core::gateway::StaticBots(vec![
        username.to_string(),
    ]))));
}

/// A file system mounted for a test (a small tmpfs, or a read-only bind mount),
/// unmounted when dropped, also when the test panics.
pub struct Mount {
    pub path: std::path::PathBuf,
}

impl Mount {
    /// Mounts a tmpfs of `size` (e.g. `"8m"`) at `path` (created if missing).
    pub fn tmpfs(path: &std::path::Path, size: &str) -> Self {
        std::fs::create_dir_all(path).expect("mount point");
        let opts = format!("size={size},mode=0700");
        mount(&[
            "-t".as_ref(),
            "tmpfs".as_ref(),
            "-o".as_ref(),
            opts.as_ref(),
            "tmpfs".as_ref(),
            path.as_os_str(),
        ]);
        Self { path: path.into() }
    }

    /// Makes `path` read-only (a bind mount of itself, remounted `ro`).
    pub fn read_only(path: &std::path::Path) -> Self {
        mount(&["--bind".as_ref(), path.as_os_str(), path.as_os_str()]);
        let m = Self { path: path.into() };
        mount(&["-o".as_ref(), "remount,bind,ro".as_ref(), path.as_os_str()]);
        m
    }
}

fn mount(args: &[&std::ffi::OsStr]) {
    let out = std::process::Command::new("mount")
        .args(args)
        .output()
        .expect("run mount");
    assert!(
        out.status.success(),
        "mount {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for Mount {
    fn drop(&mut self) {
        // Lazy: files a failed test left open must not keep the mount alive.
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.path).status();
    }
}
