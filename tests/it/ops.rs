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

/// A repository file's text.
fn repo_file(path: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `KEY=VALUE` lines as systemd's EnvironmentFile= reads them (comments and blank
/// lines skipped).
fn env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn env_example_installed_beside_the_systemd_unit_keeps_the_store_in_place() {
    let unit = repo_file("deploy/upbot.service");
    let setting = |key: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
            .map(str::to_string)
            .collect()
    };
    let workdir = setting("WorkingDirectory").pop().expect("WorkingDirectory=");
    // systemd: Environment= first, then EnvironmentFile= (the installed .env.example)
    // overrides, as the unit's install comment says to install it.
    let mut env: std::collections::HashMap<String, String> = setting("Environment")
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert!(
        setting("EnvironmentFile")
            .iter()
            .any(|f| f.ends_with("/etc/upbot/upbot.env")),
        "{unit}"
    );
    let unit_dir = env
        .get("UPBOT_DATA_DIR")
        .cloned()
        .expect("the unit sets UPBOT_DATA_DIR");
    assert!(
        unit_dir.starts_with('/'),
        "the unit's store path is absolute: {unit_dir}"
    );
    env.extend(env_file(&repo_file(".env.example")));
    // as Config::load reads the environment: empty values count as unset
    let config = upbot::config::Config::from_lookup(|k| env.get(k).filter(|v| !v.trim().is_empty()).cloned())
        .expect(".env.example is a valid configuration");
    let store = std::path::Path::new(&workdir).join(&config.data_dir);
    assert_eq!(store, std::path::Path::new(&unit_dir), "the store moved");
}

#[test]
fn containerfile_has_no_file_capability_a_healthcheck_and_a_stripped_binary() {
    let cf = repo_file("deploy/Containerfile");
    let instructions: Vec<&str> = cf.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
    let text = instructions.join("\n");
    assert!(
        !text.contains("setcap") && !text.contains("libcap"),
        "no file capability:\n{text}"
    );
    let hc = text
        .split("HEALTHCHECK")
        .nth(1)
        .expect("a HEALTHCHECK instruction")
        .split("\nSTOPSIGNAL")
        .next()
        .unwrap_or_default();
    assert!(
        hc.contains(r#"CMD ["/usr/local/bin/upbot", "healthcheck"]"#),
        "exec form, no shell: {hc}"
    );
    assert!(text.contains("cargo build --profile dist --locked"), "{text}");
    assert!(
        text.contains("COPY --from=build /src/target/dist/upbot /usr/local/bin/upbot"),
        "{text}"
    );
    assert!(text.contains("USER upbot"), "{text}");
    let cargo = repo_file("Cargo.toml");
    let dist = cargo.split("[profile.dist]").nth(1).expect("a dist profile");
    assert!(
        dist.contains("strip = true") && dist.contains("debug = false"),
        "{dist}"
    );
}
