//! The binary as operators deploy it: started without CAP_NET_RAW (a container without
//! `--cap-add NET_RAW`), checked by `upbot healthcheck` (the image's HEALTHCHECK).

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::{WAIT, WsClient, skip_without_root};

const BIN: &str = env!("CARGO_BIN_EXE_upbot");

/// A server started with CAP_NET_RAW dropped from its bounding set (and nothing
/// inheritable), so even as root it cannot open raw ICMP sockets.
struct NoRawServer {
    child: Child,
    ws: String,
    http: String,
}

/// The `addr=` fields of the "WebSocket API listening" and "HTTP receiver listening"
/// log lines.
async fn addrs_from_log(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStderr>>) -> (String, String) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let (mut ws, mut http) = (None, None);
    while ws.is_none() || http.is_none() {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .expect("listening log lines in time")
            .expect("read stderr")
            .expect("server exited before listening");
        let addr = || {
            let a = line.split("addr=").nth(1).expect("addr field");
            a.split_whitespace().next().expect("addr").to_string()
        };
        if line.contains("WebSocket API listening") {
            ws = Some(addr());
        } else if line.contains("HTTP receiver listening") {
            http = Some(addr());
        }
    }
    (ws.unwrap_or_default(), http.unwrap_or_default())
}

impl NoRawServer {
    async fn start(data: &std::path::Path) -> Self {
        let mut child = Command::new("setpriv")
            .args([
                "--inh-caps=-all",
                "--ambient-caps=-all",
                "--bounding-set=-net_raw",
                "--",
                BIN,
                "serve",
            ])
            .current_dir(data)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("UPBOT_DATA_DIR", data.join("store"))
            .env("UPBOT_WS_ADDR", "127.0.0.1:0")
            .env("UPBOT_HTTP_ADDR", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn setpriv upbot serve");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let (ws, http) = addrs_from_log(&mut lines).await;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, ws, http }
    }
}

async fn healthz(http: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(format!("http://{http}/healthz"))
        .timeout(WAIT)
        .send()
        .await
        .expect("healthz");
    (resp.status().as_u16(), resp.json().await.expect("JSON"))
}

async fn healthcheck(http: &str) -> std::process::Output {
    let out = Command::new(BIN)
        .arg("healthcheck")
        .env_clear()
        .env("UPBOT_HTTP_ADDR", http)
        .current_dir(std::env::temp_dir())
        .output();
    tokio::time::timeout(WAIT, out)
        .await
        .expect("in time")
        .expect("run healthcheck")
}

#[tokio::test]
async fn without_net_raw_healthz_is_degraded_with_the_reason_and_healthcheck_passes() {
    if skip_without_root("without_net_raw_healthz_is_degraded") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut s = NoRawServer::start(dir.path()).await;
    // no ping monitor: nothing is missing
    let (code, h) = healthz(&s.http).await;
    assert_eq!(
        (code, h["status"].as_str(), h["icmp"].as_str()),
        (200, Some("ok"), Some("unavailable")),
        "{h}"
    );

    let mut c = WsClient::connect(&format!("ws://{}/ws", s.ws)).await;
    let r = c.request("add", json!({"target": "127.0.0.1", "interval": 1})).await;
    let id = r["data"]["id"].as_u64().unwrap_or_else(|| panic!("{r}"));
    let (code, h) = healthz(&s.http).await;
    assert_eq!((code, h["status"].as_str()), (200, Some("degraded")), "{h}");
    let reason = h["reason"].as_str().unwrap();
    assert!(reason.contains("1 ping monitor stay"), "{reason}");
    assert!(
        reason.contains("CAP_NET_RAW") && reason.contains("--cap-add NET_RAW"),
        "{reason}"
    );
    for field in ["store", "scheduler", "push"] {
        assert_eq!(h[field], "ok", "{h}");
    }
    // the monitor stays pending and says why (set at its first probe, 1 s in; the
    // status is polled because nothing is published for a probe that was not sent)
    let deadline = tokio::time::Instant::now() + WAIT;
    let status = loop {
        let r = c.request("status", json!({"id": id})).await;
        if r["data"]["reason"].as_str().is_some_and(|w| w.contains("CAP_NET_RAW")) {
            break r;
        }
        assert!(tokio::time::Instant::now() < deadline, "no reason in time: {r}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(status["data"]["state"], "pending", "{status}");

    // the container HEALTHCHECK passes: degraded is not a reason to restart
    let out = healthcheck(&s.http).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("\"degraded\""), "{stdout}");

    // a paused ping monitor needs no ICMP
    let r = c.request("pause", json!({"id": id})).await;
    assert_eq!(r["type"], "paused", "{r}");
    let (_, h) = healthz(&s.http).await;
    assert_eq!(h["status"], "ok", "{h}");
    s.child.start_kill().unwrap();
    let _ = s.child.wait().await;
}

#[tokio::test]
async fn healthcheck_fails_when_nothing_answers() {
    // a port that was just free
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = healthcheck(&format!("127.0.0.1:{port}")).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("upbot healthcheck: 127.0.0.1:"), "{err}");
}
