//! The real `upbot` binary's client subcommands against a real server: output formats,
//! exit codes (0 ok, 1 server error, 2 usage, 3 connection) and the legacy aliases.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::helpers::{TestApp, WAIT, spawn_app};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn upbot() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_upbot"));
    cmd.env_remove("UPBOT_SERVER")
        .env_remove("UPBOT_WS_TOKEN")
        .env("RUST_LOG", "off")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

async fn run(args: &[&str]) -> Out {
    let out = tokio::time::timeout(WAIT, upbot().args(args).output())
        .await
        .expect("the client finishes in time")
        .expect("the binary runs");
    Out {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn server(app: &TestApp) -> String {
    app.ws_url.clone()
}

/// Runs and expects success; returns stdout.
async fn ok(args: &[&str]) -> String {
    let o = run(args).await;
    assert_eq!(o.code, 0, "{args:?}: stdout {:?} stderr {:?}", o.stdout, o.stderr);
    assert!(o.stderr.is_empty(), "{args:?}: stderr {:?}", o.stderr);
    o.stdout
}

async fn list_json(url: &str) -> Vec<Value> {
    let out = ok(&["list", "--json", "--server", url]).await;
    match serde_json::from_str::<Value>(&out).expect("list --json prints JSON") {
        Value::Array(a) => a,
        other => panic!("not an array: {other}"),
    }
}

/// Exactly one stderr line, starting with `upbot: `.
fn one_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr:?}");
    assert!(lines[0].starts_with("upbot: "), "{stderr:?}");
    lines[0]
}

#[tokio::test]
async fn cli_round_trip() {
    let app = spawn_app(&[]).await;
    let url = server(&app);
    let out = ok(&[
        "add",
        "127.0.0.1:5432",
        "--interval",
        "30s",
        "--name",
        "db",
        "--server",
        &url,
    ])
    .await;
    let id: u64 = out
        .strip_prefix("added #")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out:?}"));
    assert_eq!(out, format!("added #{id} 127.0.0.1:5432 (tcp, every 30s)\n"));

    let all = list_json(&url).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["id"], json!(id));
    assert_eq!(all[0]["name"], "db");

    let out = ok(&["status", &id.to_string(), "--server", &url]).await;
    assert!(
        out.starts_with(&format!("#{id} 127.0.0.1:5432 (tcp) PENDING since ")),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1);
    // global flags may also come before the subcommand
    let out = ok(&["--server", &url, "--json", "status", &id.to_string()]).await;
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["stats"].is_object(), "{v}");

    assert_eq!(
        ok(&["pause", &id.to_string(), "--server", &url]).await,
        format!("paused #{id} 127.0.0.1:5432\n")
    );
    assert_eq!(list_json(&url).await[0]["state"], "paused");
    assert_eq!(
        ok(&["resume", &format!("#{id}"), "--server", &url]).await,
        format!("resumed #{id} 127.0.0.1:5432\n")
    );
    assert_eq!(list_json(&url).await[0]["paused"], false);
    // UPBOT_SERVER works in place of --server
    let o = tokio::time::timeout(
        WAIT,
        upbot()
            .args(["del", &id.to_string()])
            .env("UPBOT_SERVER", &url)
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("deleted #{id} 127.0.0.1:5432\n")
    );
    assert_eq!(list_json(&url).await, Vec::<Value>::new());
    assert_eq!(ok(&["list", "--json", "--server", &url]).await.trim(), "[]");
    app.stop().await;
}

#[tokio::test]
async fn cli_human_list_is_a_table() {
    let app = spawn_app(&[]).await;
    let url = server(&app);
    ok(&["add", "127.0.0.1", "--name", "loop", "--server", &url]).await;
    ok(&["add", "tcp://127.0.0.1:22", "--interval", "5m", "--server", &url]).await;
    let out = ok(&["list", "--server", &url]).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let header: Vec<&str> = lines[0].split("  ").map(str::trim).filter(|s| !s.is_empty()).collect();
    assert_eq!(
        header,
        ["ID", "STATE", "KIND", "NAME", "TARGET", "INTERVAL", "LAST RTT"]
    );
    assert!(
        lines[1].contains("ping") && lines[1].contains("loop") && lines[1].contains("5s"),
        "{out}"
    );
    assert!(
        lines[2].contains("tcp") && lines[2].contains("127.0.0.1:22") && lines[2].contains("5m"),
        "{out}"
    );
    app.stop().await;
}

#[tokio::test]
async fn cli_exit_codes() {
    let app = spawn_app(&[]).await;
    let url = server(&app);
    // 1: the server answered an error
    let o = run(&["del", "999", "--server", &url]).await;
    assert_eq!(o.code, 1);
    assert_eq!(one_line(&o.stderr), "upbot: NOT_FOUND: no monitor #999");
    assert!(o.stdout.is_empty());
    let o = run(&["add", "bad host!", "--server", &url]).await;
    assert_eq!(o.code, 1);
    assert!(
        one_line(&o.stderr).starts_with("upbot: VALIDATION_ERROR: "),
        "{}",
        o.stderr
    );
    // 2: usage
    let o = run(&["del", "abc", "--server", &url]).await;
    assert_eq!(o.code, 2, "{}", o.stderr);
    let o = run(&["add-mon", "--ip_address", "127.0.0.1"]).await;
    assert_eq!(o.code, 2, "{}", o.stderr);
    // 3: nothing listens there
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("ws://{}", dead.local_addr().unwrap());
    drop(dead);
    let o = run(&["list", "--server", &dead_url]).await;
    assert_eq!(o.code, 3);
    assert!(one_line(&o.stderr).contains("cannot connect"), "{}", o.stderr);
    app.stop().await;
}

#[tokio::test]
async fn cli_token() {
    let app = spawn_app(&[("UPBOT_WS_TOKEN", "s3cret")]).await;
    let url = server(&app);
    let o = run(&["list", "--server", &url]).await;
    assert_eq!(o.code, 1);
    assert!(
        one_line(&o.stderr).starts_with("upbot: AUTHENTICATION_REQUIRED: "),
        "{}",
        o.stderr
    );
    let o = run(&["list", "--server", &url, "--token", "wrong"]).await;
    assert_eq!(o.code, 3);
    assert!(one_line(&o.stderr).contains("401"), "{}", o.stderr);
    ok(&["list", "--server", &url, "--token", "s3cret"]).await;
    let o = tokio::time::timeout(
        WAIT,
        upbot()
            .args(["list", "--server", &url])
            .env("UPBOT_WS_TOKEN", "s3cret")
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(o.status.success(), "{o:?}");
    app.stop().await;
}

#[tokio::test]
async fn cli_legacy_aliases() {
    let app = spawn_app(&[]).await;
    let url = server(&app);
    // No bot runs: chat_id needs one, so the server refuses, in one line.
    let o = run(&[
        "add-mon",
        "--chat_id",
        "-1001234567890",
        "--token",
        "123456:ABC-def",
        "--ip_address",
        "127.0.0.1",
        "--mon_type",
        "ping",
        "--server_address",
        &url,
    ])
    .await;
    assert_eq!(o.code, 1, "{}", o.stderr);
    let line = one_line(&o.stderr);
    assert!(
        line.starts_with("upbot: VALIDATION_ERROR: ") && line.contains("bot"),
        "{line}"
    );

    // With a bot running, the same flags add a monitor and print only its id.
    crate::helpers::register_bot(&app.running.service, "legacy_bot");
    let out = ok(&[
        "add-mon",
        "--chat_id",
        "42",
        "--token",
        "legacy_bot",
        "--ip_address",
        "127.0.0.1:8080",
        "--mon_type",
        "tcp",
        "--server_address",
        &url,
    ])
    .await;
    let id: u64 = out.trim().parse().unwrap_or_else(|_| panic!("only the id: {out:?}"));
    let all = list_json(&url).await;
    assert_eq!(all.len(), 1);
    assert_eq!(
        (
            &all[0]["id"],
            &all[0]["chat_id"],
            &all[0]["kind"],
            &all[0]["target"],
            &all[0]["bot"]
        ),
        (
            &json!(id),
            &json!(42),
            &json!("tcp"),
            &json!("127.0.0.1:8080"),
            &json!("legacy_bot")
        )
    );

    let out = ok(&["list-mon", "--server_address", &url]).await;
    assert!(out.lines().next().unwrap().starts_with("ID"), "{out}");
    assert!(out.contains("127.0.0.1:8080"), "{out}");
    // a server address without a scheme is accepted, as the old tool allowed
    let bare = url.trim_start_matches("ws://").to_string();
    ok(&["del-mon", "--id", &id.to_string(), "--server_address", &bare]).await;
    assert_eq!(list_json(&url).await, Vec::<Value>::new());
    app.stop().await;
}

#[tokio::test]
async fn cli_watch_prints_state_events() {
    let app = spawn_app(&[]).await;
    let url = server(&app);
    let mut c = app.ws().await;
    let r = c.request("add", json!({"target": "127.0.0.1"})).await;
    let id = r["data"]["id"].as_u64().unwrap();

    let mut child = upbot()
        .args(["watch", "--monitor", &id.to_string(), "--server", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The watcher holds a probe receiver once it has subscribed.
    let events = app.running.service.events().clone();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !events.wants_probes() {
        assert!(tokio::time::Instant::now() < deadline, "watch never subscribed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let r = c.request("pause", json!({"id": id})).await;
    assert_eq!(r["type"], "paused");
    // A probe of the monitor may land before the pause: its line comes first.
    let v = loop {
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("a line in time")
            .unwrap()
            .expect("watch printed a line");
        let v: Value = serde_json::from_str(&line).expect("one JSON object per line");
        if v["type"] == "probe" {
            assert_eq!(v["data"]["monitor_id"], json!(id), "{v}");
            continue;
        }
        break v;
    };
    assert_eq!(v["type"], "state", "{v}");
    assert_eq!(v["data"]["monitor_id"], json!(id));
    assert_eq!(
        (v["data"]["from"].as_str(), v["data"]["to"].as_str()),
        (Some("pending"), Some("paused"))
    );

    // Ctrl-C ends it cleanly.
    let pid = child.id().unwrap().to_string();
    let k = Command::new("kill").args(["-INT", &pid]).status().await.unwrap();
    assert!(k.success());
    let status = tokio::time::timeout(WAIT, child.wait()).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(0));
    app.stop().await;
}

#[tokio::test]
async fn cli_push_monitor_and_token_rotation() {
    let app = spawn_app(&[]).await;
    let url = server(&app);
    let added: Value = serde_json::from_str(
        &ok(&[
            "add",
            "nightly",
            "--kind",
            "push",
            "--heartbeat",
            "5m",
            "--grace",
            "1m",
            "--json",
            "--server",
            &url,
        ])
        .await,
    )
    .unwrap();
    let webhook = added["webhook_url"]
        .as_str()
        .expect("push monitors show their webhook URL")
        .to_string();
    assert!(webhook.contains("/webhooks/"), "{added}");
    assert_eq!(added["heartbeat_url"].as_str().unwrap(), format!("{webhook}/heartbeat"));
    assert_eq!(
        (added["heartbeat"].as_f64(), added["grace"].as_f64()),
        (Some(300.0), Some(60.0))
    );
    let id = added["id"].to_string();

    // human output names the URLs too
    let rotated = ok(&["rotate", &id, "--server", &url]).await;
    assert!(
        rotated.starts_with(&format!("rotated #{id} nightly (push)")),
        "{rotated}"
    );
    assert!(
        rotated.contains("webhook_url: ") && !rotated.contains(&webhook),
        "{rotated}"
    );

    // rotating a probe monitor is the server's validation error: exit 1, one line
    let tcp: Value = serde_json::from_str(&ok(&["add", "127.0.0.1:1", "--json", "--server", &url]).await).unwrap();
    let o = run(&["rotate", &tcp["id"].to_string(), "--server", &url]).await;
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.starts_with("upbot: VALIDATION_ERROR: ") && o.stderr.trim().lines().count() == 1,
        "{}",
        o.stderr
    );
    app.stop().await;
}
