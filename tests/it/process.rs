//! The real `upbot` binary as an operator runs it: no-config start, config errors,
//! a locked data dir, SIGTERM, and kill -9 right after acknowledged writes.

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::{WAIT, WsClient};

const BIN: &str = env!("CARGO_BIN_EXE_upbot");

/// A server process whose stderr is collected line by line.
struct Server {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

fn command(dir: &std::path::Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
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
fn port0_env(data: &std::path::Path) -> [(&str, &str); 3] {
    [
        ("UPBOT_DATA_DIR", data.to_str().expect("utf-8 temp path")),
        ("UPBOT_WS_ADDR", "127.0.0.1:0"),
        ("UPBOT_HTTP_ADDR", "127.0.0.1:0"),
    ]
}

impl Server {
    fn spawn(dir: &std::path::Path, env: &[(&str, &str)]) -> Self {
        let mut child = command(dir, env).spawn().expect("spawn upbot");
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
    async fn wait_log(&mut self, needle: &str) -> String {
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
    async fn ws_url(&mut self) -> String {
        let line = self.wait_log("WebSocket API listening").await;
        let addr = line
            .split("addr=")
            .nth(1)
            .expect("addr field")
            .split_whitespace()
            .next()
            .expect("addr");
        format!("ws://{addr}/ws")
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.id().expect("running").to_string();
        let ok = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill {sig} {pid}");
    }

    async fn exit_code(&mut self) -> Option<i32> {
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("exits in time")
            .expect("wait")
            .code()
    }

    fn log_text(&self) -> String {
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
