//! The real `upbot` binary as an operator runs it: no-config start, config errors,
//! a locked data dir, SIGTERM, and kill -9 right after acknowledged writes.

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::{WAIT, WsClient};

const BIN: &str = env!("CARGO_BIN_EXE_upbot");

/// A server process whose stderr is collected line by line (also used by `oncall.rs`).
pub(crate) struct Server {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

fn command(dir: &std::path::Path, env: &[(&str, &str)]) -> Command {
    command_as(std::path::Path::new(BIN), dir, env, None)
}

/// `upbot serve` from `bin`, in `dir`, with `env` only, as `uid` (and that gid) when given.
fn command_as(bin: &std::path::Path, dir: &std::path::Path, env: &[(&str, &str)], uid: Option<u32>) -> Command {
    let mut cmd = Command::new(bin);
    if let Some(u) = uid {
        cmd.uid(u).gid(u);
    }
    cmd.arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A data dir and port 0 for both listeners (the tests read the real ports from the log).
pub(crate) fn port0_env(data: &std::path::Path) -> [(&str, &str); 3] {
    [
        ("UPBOT_DATA_DIR", data.to_str().expect("utf-8 temp path")),
        ("UPBOT_WS_ADDR", "127.0.0.1:0"),
        ("UPBOT_HTTP_ADDR", "127.0.0.1:0"),
    ]
}

/// The binary the tests run (cluster tests run it as other users from a copy).
pub(crate) fn binary() -> &'static std::path::Path {
    std::path::Path::new(BIN)
}

impl Server {
    pub(crate) fn spawn(dir: &std::path::Path, env: &[(&str, &str)]) -> Self {
        Self::spawn_as(std::path::Path::new(BIN), dir, env, None)
    }

    /// [`Server::spawn`] of `bin` as `uid` (cluster tests: one user per site).
    pub(crate) fn spawn_as(
        bin: &std::path::Path,
        dir: &std::path::Path,
        env: &[(&str, &str)],
        uid: Option<u32>,
    ) -> Self {
        let mut child = command_as(bin, dir, env, uid).spawn().expect("spawn upbot");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        let log2 = log.clone();
        tokio::spawn(async move {
            let mut r = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = r.next_line().await {
                log2.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        Self { child, log, lines }
    }

    /// Waits for a log line containing `needle`; returns it.
    pub(crate) async fn wait_log(&mut self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.lines.recv()).await {
                Ok(Some(l)) if l.contains(needle) => return l,
                Ok(Some(_)) => continue,
                _ => panic!(
                    "no log line with {needle:?}; log so far:\n{}",
                    self.log.lock().unwrap().join("\n")
                ),
            }
        }
    }

    /// The WS URL, read from the "listening" log line (the server binds port 0).
    pub(crate) async fn ws_url(&mut self) -> String {
        format!("ws://{}/ws", self.listening("WebSocket API listening").await)
    }

    /// The HTTP receiver's base URL, read from its "listening" log line (which comes
    /// after the WS one).
    pub(crate) async fn http_url(&mut self) -> String {
        format!("http://{}", self.listening("HTTP receiver listening").await)
    }

    /// The `addr=` of the next log line containing `needle`.
    async fn listening(&mut self, needle: &str) -> String {
        let line = self.wait_log(needle).await;
        line.split("addr=")
            .nth(1)
            .expect("addr field")
            .split_whitespace()
            .next()
            .expect("addr")
            .to_string()
    }

    pub(crate) fn signal(&self, sig: &str) {
        let pid = self.child.id().expect("running").to_string();
        let ok = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill {sig} {pid}");
    }

    pub(crate) async fn exit_code(&mut self) -> Option<i32> {
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("exits in time")
            .expect("wait")
            .code()
    }

    pub(crate) fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

#[tokio::test]
async fn serve_with_no_config_starts_and_logs_what_is_off() {
    let dir = tempfile::tempdir().unwrap();
    // No UPBOT_* at all: default ports, ./upbot-data in the working dir.
    let mut s = Server::spawn(dir.path(), &[]);
    s.wait_log("WebSocket API listening").await;
    assert!(s.log_text().contains("no Telegram bot configured"), "{}", s.log_text());
    assert!(dir.path().join("upbot-data").is_dir(), "store created in ./upbot-data");
    s.signal("-TERM");
    assert_eq!(s.exit_code().await, Some(0), "{}", s.log_text());
    assert!(s.log_text().contains("store flushed"), "{}", s.log_text());
}

#[tokio::test]
async fn bad_config_names_the_variable_and_exits_nonzero() {
    let dir = tempfile::tempdir().unwrap();
    for (var, val) in [
        ("UPBOT_WS_ADDR", "not-an-addr"),
        ("UPBOT_WS_RATE", "fast"),
        ("UPBOT_ALLOWED_CHATS", "x"),
    ] {
        let out = command(dir.path(), &[(var, val)]).output().await.unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}: {err}");
        assert!(err.contains(var), "{var}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
}

#[tokio::test]
async fn data_dir_held_by_another_upbot_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = port0_env(&data);
    let mut first = Server::spawn(dir.path(), &env);
    first.ws_url().await;
    let out = command(dir.path(), &env).output().await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("in use by another process") && err.contains(data.to_str().unwrap()),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    first.signal("-TERM");
    assert_eq!(first.exit_code().await, Some(0));
}

#[tokio::test]
async fn sigterm_closes_ws_sessions_with_a_close_frame() {
    use futures_util::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let env = [("UPBOT_WS_ADDR", "127.0.0.1:0"), ("UPBOT_HTTP_ADDR", "127.0.0.1:0")];
    let mut s = Server::spawn(dir.path(), &env);
    let url = s.ws_url().await;
    let mut c = WsClient::connect(&url).await;
    let pong = c.request("ping", json!({})).await;
    assert_eq!(pong["type"], "pong");
    s.signal("-TERM");
    let frame = tokio::time::timeout(WAIT, async {
        loop {
            match c.ws.next().await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(f))) => return f,
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("close frame in time");
    assert_eq!(frame.map(|f| u16::from(f.code)), Some(1001));
    assert_eq!(s.exit_code().await, Some(0), "{}", s.log_text());
}

#[tokio::test]
async fn kill_9_right_after_acknowledged_adds_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = port0_env(&data);
    let mut s = Server::spawn(dir.path(), &env);
    let url = s.ws_url().await;
    let mut c = WsClient::connect(&url).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        let r = c
            .request(
                "add",
                json!({"target": format!("127.0.{}.{}", 3, i + 1), "interval": 60}),
            )
            .await;
        assert_eq!(r["type"], "added", "{r}");
        ids.push(r["data"]["id"].as_u64().unwrap());
    }
    let r = c.request("pause", json!({"id": ids[0]})).await;
    assert_eq!(r["type"], "paused", "{r}");
    let r = c.request("del", json!({"id": ids[1]})).await;
    assert_eq!(r["type"], "deleted", "{r}");
    // No grace period: the process dies right after the last acknowledgement.
    s.signal("-KILL");
    assert_eq!(s.exit_code().await, None, "killed by a signal");

    let mut s = Server::spawn(dir.path(), &env);
    let url = s.ws_url().await;
    let mut c = WsClient::connect(&url).await;
    let list = c.request("list", json!({})).await;
    let monitors = list["data"]["monitors"].as_array().unwrap();
    let mut got: Vec<u64> = monitors.iter().map(|m| m["id"].as_u64().unwrap()).collect();
    got.sort_unstable();
    let want: Vec<u64> = ids.iter().copied().filter(|id| *id != ids[1]).collect();
    assert_eq!(got, want);
    let first = monitors.iter().find(|m| m["id"] == ids[0]).unwrap();
    assert_eq!(
        (first["paused"].as_bool(), first["state"].as_str()),
        (Some(true), Some("paused"))
    );
    // ids keep counting after the crash: no reuse of an acknowledged id
    let r = c.request("add", json!({"target": "127.0.4.1", "interval": 60})).await;
    assert!(r["data"]["id"].as_u64().unwrap() > *ids.last().unwrap(), "{r}");
    s.signal("-TERM");
    assert_eq!(s.exit_code().await, Some(0));
}

/// Adds `n` monitors through the running server `s` (WS API).
async fn add_monitors(s: &mut Server, n: usize) {
    let url = s.ws_url().await;
    let mut c = WsClient::connect(&url).await;
    for i in 0..n {
        let r = c
            .request("add", json!({"target": format!("127.0.5.{}", i + 1), "interval": 60}))
            .await;
        assert_eq!(r["type"], "added", "{r}");
    }
}

/// Runs `serve` on `data` until it exits by itself; returns (exit code, stderr).
async fn refused_start(dir: &std::path::Path, data: &std::path::Path) -> (Option<i32>, String) {
    let out = tokio::time::timeout(WAIT, command(dir, &port0_env(data)).output())
        .await
        .expect("refuses in time, not after starting")
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Item 10b of issue 7: a store whose `db` was truncated, or had one page zeroed, used
/// to start with some of its monitors (0/50, 7/50) and say nothing. It must refuse to
/// start, naming the data dir; an intact copy still starts with all of them.
#[tokio::test]
async fn a_damaged_store_is_refused_naming_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = Server::spawn(dir.path(), &port0_env(&data));
    add_monitors(&mut s, 50).await;
    s.signal("-TERM");
    assert_eq!(s.exit_code().await, Some(0), "{}", s.log_text());
    let db = std::fs::read(data.join("db")).unwrap();

    let copy = |name: &str| {
        let to = dir.path().join(name);
        std::fs::create_dir(&to).unwrap();
        for e in std::fs::read_dir(&data).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
        to
    };
    // Truncated to half.
    let truncated = copy("truncated");
    std::fs::write(truncated.join("db"), &db[..db.len() / 2]).unwrap();
    // One 4 KiB page zeroed: the one with the newest copy of a monitor record.
    let zeroed = copy("zeroed");
    let needle = b"127.0.5.25";
    let at = db
        .windows(needle.len())
        .rposition(|w| w == needle)
        .expect("the record is in the file");
    let mut bytes = db.clone();
    let page = at / 4096 * 4096;
    let end = (page + 4096).min(bytes.len());
    bytes[page..end].fill(0);
    std::fs::write(zeroed.join("db"), &bytes).unwrap();

    for damaged in [&truncated, &zeroed] {
        let (code, err) = refused_start(dir.path(), damaged).await;
        assert!(code.is_some_and(|c| c != 0), "{code:?}: {err}");
        assert!(
            err.contains(damaged.to_str().unwrap()) && err.contains("damaged"),
            "{}: {err}",
            damaged.display()
        );
        assert!(!err.contains("panicked at"), "{err}");
    }

    let mut s = Server::spawn(dir.path(), &port0_env(&data));
    let url = s.ws_url().await;
    let list = WsClient::connect(&url).await.request("list", json!({})).await;
    assert_eq!(list["data"]["monitors"].as_array().map(Vec::len), Some(50), "{list}");
    s.signal("-TERM");
    assert_eq!(s.exit_code().await, Some(0));
}

/// Item 10j of issue 7: a read-only data dir was reported as "corrupt, move it aside".
#[tokio::test]
async fn a_read_only_data_dir_is_reported_as_read_only() {
    if crate::helpers::skip_without_root("a_read_only_data_dir_is_reported_as_read_only") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = Server::spawn(dir.path(), &port0_env(&data));
    add_monitors(&mut s, 1).await;
    s.signal("-TERM");
    assert_eq!(s.exit_code().await, Some(0), "{}", s.log_text());
    let _ro = crate::helpers::Mount::read_only(&data);
    let (code, err) = refused_start(dir.path(), &data).await;
    assert!(code.is_some_and(|c| c != 0), "{code:?}: {err}");
    assert!(
        err.contains(data.to_str().unwrap())
            && err.contains("cannot be written")
            && err.contains("Read-only file system"),
        "{err}"
    );
    assert!(!err.contains("damaged") && !err.contains("corrupt"), "{err}");
}

/// Item 10i of issue 7: the data dir holds bot tokens and secrets. A new one is created
/// 0700 with files 0600; an existing one open to others is reported at start.
#[tokio::test]
async fn the_data_dir_is_private_and_an_open_one_is_reported() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("new/data");
    let env = port0_env(&data);
    let mut s = Server::spawn(dir.path(), &env);
    add_monitors(&mut s, 1).await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    let files: Vec<_> = std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(files.iter().any(|f| f.ends_with("db")), "{files:?}");
    for f in &files {
        if f.is_file() {
            assert_eq!(mode(f), 0o600, "{}", f.display());
        }
    }
    assert!(!s.log_text().contains("open to other users"), "{}", s.log_text());
    s.signal("-TERM");
    assert_eq!(s.exit_code().await, Some(0));

    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut s = Server::spawn(dir.path(), &env);
    let line = s.wait_log("open to other users").await;
    assert!(line.contains(data.to_str().unwrap()) && line.contains("755"), "{line}");
    s.ws_url().await; // started (a SIGTERM before the handler is installed would kill it)
    s.signal("-TERM");
    assert_eq!(s.exit_code().await, Some(0));
}
