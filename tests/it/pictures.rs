//! Pictures end to end: history recorded by the real scheduler, `graph` over the WS
//! API and the CLI (a real PNG), `page` on/off with the HTTP receiver serving the
//! status page (404, new slug, 429, targets), history across a restart, and a real
//! headless Chromium loading the page (DOM checked, screenshot kept under target/).
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::helpers::{TestApp, WAIT, register_bot, spawn_app, spawn_app_in};

const CHAT: i64 = -1_001_234_567_890;

/// A TCP listener that accepts and drops connections, for UP monitors.
async fn target() -> (u16, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((c, _)) = l.accept().await {
            drop(c);
        }
    });
    (port, task)
}

/// A loopback port nothing listens on (connections are refused: DOWN monitors).
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

fn data(v: &Value) -> &Value {
    &v["data"]
}

/// Adds a monitor of the test chat and returns its id.
async fn add(app: &TestApp, target: &str, name: &str, fails: u32) -> u64 {
    let mut ws = app.ws().await;
    let r = ws
        .request(
            "add",
            json!({"target": target, "name": name, "interval": 1, "fails": fails, "recovers": 1,
                   "chat_id": CHAT, "bot": "mon_bot"}),
        )
        .await;
    assert_eq!(r["type"], "added", "{r}");
    r["data"]["id"].as_u64().unwrap()
}

/// Waits until `id` has had `n` successful probes.
async fn probes(app: &TestApp, id: u64, n: usize) {
    let mut ws = app.ws().await;
    let r = ws
        .request(
            "subscribe",
            json!({"event_types": ["probe"], "filters": {"monitor_ids": [id]}}),
        )
        .await;
    assert_eq!(r["type"], "subscribed");
    let mut ok = 0;
    while ok < n {
        let ev = ws.recv_until(|v| v["type"] == "probe").await;
        ok += usize::from(ev["data"]["ok"] == true);
    }
}

/// Waits until `id` is in `state`.
async fn state(app: &TestApp, id: u64, want: &str) {
    let mut ws = app.ws().await;
    tokio::time::timeout(WAIT, async {
        loop {
            let r = ws.request("status", json!({"id": id})).await;
            if r["data"]["state"] == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("monitor {id} {want} in time"));
}

fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = dec.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Share of pixels that are not near-white.
fn inked(img: &(u32, u32, Vec<u8>), channels: usize) -> f64 {
    let px = img.2.chunks(channels);
    let n = px.len().max(1);
    px.filter(|p| p.iter().take(3).any(|c| *c < 200)).count() as f64 / n as f64
}

async fn get(url: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let r = reqwest::get(url).await.unwrap();
    let (code, headers) = (r.status().as_u16(), r.headers().clone());
    (code, r.text().await.unwrap(), headers)
}

/// A server with one monitor `web` of the test chat that has answered `n` probes;
/// returns the app, the monitor and the target's task (keep it alive).
async fn with_web(n: usize) -> (TestApp, u64, tokio::task::JoinHandle<()>) {
    let app = spawn_app(&[]).await;
    register_bot(&app.running.service, "mon_bot");
    let (port, server) = target().await;
    let id = add(&app, &format!("127.0.0.1:{port}"), "web", 2).await;
    probes(&app, id, n).await;
    (app, id, server)
}

/// Runs the real `upbot` client against `app`.
async fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_upbot"))
        .args(args)
        .args(["--server", &app.ws_url])
        .env("RUST_LOG", "off")
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(WAIT, out).await.unwrap().unwrap()
}

#[tokio::test]
async fn graph_over_ws_is_a_png_of_what_the_probes_recorded() {
    let (app, id, _server) = with_web(3).await;
    let mut ws = app.ws().await;
    let r = ws.request("graph", json!({"id": id, "period": "1h"})).await;
    assert_eq!(r["type"], "graph", "{r}");
    let g = data(&r);
    assert_eq!((g["id"].as_u64(), g["period"].as_str()), (Some(id), Some("1h")));
    assert!(g["probes"].as_u64().unwrap() >= 3, "{g}");
    assert!(g["rtt_avg_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(g["uptime_pct"].as_f64(), Some(100.0), "UP since its first probe");
    assert_eq!(g["incidents"], json!([]));
    let png = base64::engine::general_purpose::STANDARD
        .decode(g["png_base64"].as_str().unwrap())
        .unwrap();
    let img = decode_png(&png);
    assert_eq!((img.0, img.1), (960, 480));
    assert_eq!((g["width"].as_u64(), g["height"].as_u64()), (Some(960), Some(480)));
    assert!(inked(&img, 3) > 0.005, "the chart has drawn pixels");
    // The default period is 24 h; bad input is a clear error.
    let r = ws.request("graph", json!({"id": id})).await;
    assert_eq!(r["data"]["period"], "24h");
    let r = ws.request("graph", json!({"id": id, "period": "2h"})).await;
    assert_eq!(r["data"]["code"], "VALIDATION_ERROR", "{r}");
    let r = ws.request("graph", json!({"id": 999_999})).await;
    assert_eq!(r["data"]["code"], "NOT_FOUND", "{r}");
}

#[tokio::test]
async fn incidents_and_downtime_reach_the_graph_and_status() {
    let app = spawn_app(&[]).await;
    register_bot(&app.running.service, "mon_bot");
    let port = closed_port().await;
    let id = add(&app, &format!("127.0.0.1:{port}"), "db", 1).await;
    state(&app, id, "down").await;
    // Some DOWN time passes.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut ws = app.ws().await;
    let g = ws.request("graph", json!({"id": id, "period": "1h"})).await;
    let g = data(&g);
    assert!(g["down_seconds"].as_u64().unwrap() >= 1, "{g}");
    assert_eq!(g["uptime_pct"].as_f64(), Some(0.0));
    let inc = g["incidents"].as_array().unwrap();
    assert_eq!(inc.len(), 1, "{g}");
    assert_eq!(inc[0]["ongoing"], true);
    assert!(g["failures"].as_u64().unwrap() >= 1);
    let s = ws.request("status", json!({"id": id})).await;
    let stats = &s["data"]["stats"];
    assert_eq!(stats["uptime_pct"].as_f64(), Some(0.0), "no probe succeeded: {s}");
    for k in ["uptime_24h_pct", "uptime_7d_pct", "uptime_30d_pct"] {
        assert_eq!(stats[k].as_f64(), Some(0.0), "DOWN all the time it was known: {k}");
    }
}

#[tokio::test]
async fn page_on_off_new_slug_targets_and_floods() {
    let app = spawn_app(&[]).await;
    register_bot(&app.running.service, "mon_bot");
    let (port, _server) = target().await;
    let id = add(&app, &format!("127.0.0.1:{port}"), "web <front>", 2).await;
    let mut ws = app.ws().await;
    // The operator must name the chat; nothing is published yet.
    let r = ws.request("page", json!({"on": true})).await;
    assert_eq!(r["data"]["code"], "VALIDATION_ERROR");
    let r = ws.request("page", json!({"chat_id": CHAT})).await;
    assert_eq!(
        (r["type"].as_str(), r["data"]["on"].as_bool()),
        (Some("page"), Some(false))
    );

    let r = ws
        .request("page", json!({"chat_id": CHAT, "on": true, "title": "Acme"}))
        .await;
    let url = r["data"]["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("http://{}/status/", app.running.http_addr)),
        "{url}"
    );
    assert_eq!(r["data"]["monitors"], 1);
    let (code, html, headers) = get(&url).await;
    assert_eq!(code, 200, "{html}");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    assert!(html.contains("<title>Acme</title>") && html.contains("web &lt;front&gt;"));
    assert!(!html.contains(&format!("127.0.0.1:{port}")), "no targets unless asked");
    let lower = html.to_ascii_lowercase();
    for bad in ["<script", "src=", "href=", "http://", "https://"] {
        assert!(!lower.contains(bad), "{bad} on the page");
    }
    // Browsers that accept gzip get the same page gzipped.
    let r = reqwest::Client::new()
        .get(&url)
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let gz = r.bytes().await.unwrap();
    let mut unzipped = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut unzipped).unwrap();
    assert_eq!(unzipped, html);
    assert!(
        gz.len() * 3 < html.len(),
        "{} bytes gzipped of {}",
        gz.len(),
        html.len()
    );
    // Targets on: shown at once (the cache knows the page's options).
    let r = ws
        .request("page", json!({"chat_id": CHAT, "on": true, "targets": true}))
        .await;
    assert_eq!(
        r["data"]["url"].as_str(),
        Some(url.as_str()),
        "on again keeps the address"
    );
    let (_, html, _) = get(&url).await;
    assert!(html.contains(&format!("127.0.0.1:{port}")));
    let r = ws
        .request("page", json!({"chat_id": CHAT, "on": true, "targets": false}))
        .await;
    assert_eq!(r["data"]["targets"], false);
    let (_, html, _) = get(&url).await;
    assert!(!html.contains(&format!("127.0.0.1:{port}")), "hidden again at once");

    // Unknown slugs are 404 JSON errors, like unknown webhook tokens.
    let base = format!("http://{}/status/", app.running.http_addr);
    let (code, body, _) = get(&format!("{base}AAAAAAAAAAAAAAAAAAAAAA")).await;
    assert_eq!(code, 404);
    assert!(body.contains("\"error\""));
    assert_eq!(get(&base).await.0, 404);

    // A flood gets 429 with Retry-After (served from the cache until then).
    let client = reqwest::Client::new();
    let mut limited = None;
    for _ in 0..(upbot::http::page::RATE_BURST + 5) {
        let r = client.get(&url).send().await.unwrap();
        if r.status().as_u16() == 429 {
            limited = Some(r.headers()["retry-after"].to_str().unwrap().to_string());
            break;
        }
        assert_eq!(r.status().as_u16(), 200);
    }
    let retry: u64 = limited.expect("429 within the burst").parse().unwrap();
    assert!(retry >= 1);

    // Off: 404 at once. On again: a new address; the old one stays dead.
    let r = ws.request("page", json!({"chat_id": CHAT, "on": false})).await;
    assert_eq!(
        (r["data"]["on"].as_bool(), r["data"]["was_on"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(get(&url).await.0, 404);
    let r = ws.request("page", json!({"chat_id": CHAT, "on": "on"})).await;
    let url2 = r["data"]["url"].as_str().unwrap().to_string();
    assert_ne!(url2, url);
    assert_eq!(get(&url).await.0, 404);
    assert_eq!(get(&url2).await.0, 200);
    // The page survives a restart at the same address.
    let dir = app.stop().await;
    let app = spawn_app_in(dir, &[]).await;
    let url3 = url2.replace(
        &url2[..url2.find("/status/").unwrap()],
        &format!("http://{}", app.running.http_addr),
    );
    let (code, html, _) = get(&url3).await;
    assert_eq!(code, 200);
    assert!(html.contains("web &lt;front&gt;"));
    let _ = id;
}

#[tokio::test]
async fn history_survives_a_restart() {
    let (app, id, _server) = with_web(3).await;
    let mut ws = app.ws().await;
    let before = ws.request("graph", json!({"id": id, "period": "1h"})).await;
    let before = data(&before)["probes"].as_u64().unwrap();
    drop(ws);
    let dir = app.stop().await;
    // Nothing probes now: the store alone has what was recorded.
    let store = upbot::store::Store::open(dir.path()).unwrap();
    let now = upbot::domain::now_ms();
    let s = store
        .history(upbot::domain::MonitorId(id), now - 3_600_000, now, 60_000, &[], now)
        .unwrap();
    assert!(u64::from(s.totals().probes) >= before, "saved at shutdown: {s:?}");
    assert!(s.totals().known_ms > 0);
    drop(store);
    let app = spawn_app_in(dir, &[]).await;
    let mut ws = app.ws().await;
    let after = ws.request("graph", json!({"id": id, "period": "1h"})).await;
    assert!(data(&after)["probes"].as_u64().unwrap() >= before);
}

#[tokio::test]
async fn cli_graph_writes_the_png_and_page_prints_the_address() {
    let (app, id, _server) = with_web(2).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chart.png");
    let out = cli(&app, &["graph", &id.to_string(), "1h", "--out", file.to_str().unwrap()]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("uptime 100%") && stdout.contains("chart written to"),
        "{stdout}"
    );
    let img = decode_png(&std::fs::read(&file).unwrap());
    assert_eq!((img.0, img.1), (960, 480));
    let out = cli(&app, &["page", "on", "--chat-id", &CHAT.to_string()]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("/status/") && stdout.contains("targets hidden"),
        "{stdout}"
    );
}

/// Debian's Chromium, or `None` (then the caller skips or fails, see below).
fn chromium() -> Option<String> {
    ["chromium", "chromium-browser"].into_iter().find_map(|b| {
        std::process::Command::new(b)
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|_| b.to_string())
    })
}

/// Runs headless Chromium with this machine's flags and a fresh profile; bounded in time.
async fn run_chromium(bin: &str, extra: &[&str], url: &str) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(extra)
    .arg(url)
    .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(90), cmd.output())
        .await
        .expect("chromium finishes within 90 s")
        .expect("chromium runs")
}

#[tokio::test]
async fn a_real_headless_browser_loads_the_status_page() {
    let Some(bin) = chromium() else {
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        if !root && std::env::var_os("CI").is_none() {
            eprintln!(
                "SKIP a_real_headless_browser_loads_the_status_page: chromium is not installed (apt-get install chromium)"
            );
            return;
        }
        panic!("chromium is not installed; .ci/run installs it (apt-get install chromium)");
    };
    let app = spawn_app(&[]).await;
    register_bot(&app.running.service, "mon_bot");
    let (port, _server) = target().await;
    let up = add(&app, &format!("127.0.0.1:{port}"), "web front", 2).await;
    let down = add(&app, &format!("127.0.0.1:{}", closed_port().await), "db primary", 1).await;
    probes(&app, up, 2).await;
    state(&app, up, "up").await;
    state(&app, down, "down").await;
    let mut ws = app.ws().await;
    let r = ws
        .request("page", json!({"chat_id": CHAT, "on": true, "title": "Acme production"}))
        .await;
    let url = r["data"]["url"].as_str().unwrap().to_string();

    let out = run_chromium(&bin, &["--dump-dom"], &url).await;
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dom.contains("<title>Acme production</title>"), "{dom}");
    assert!(dom.contains("1 of 2 DOWN"), "the banner");
    let sections = dom.matches(r#"<section class="monitor""#).count();
    assert_eq!(sections, 2, "{dom}");
    assert!(dom.contains(r#"data-state="up""#) && dom.contains(r#"data-state="down""#));
    assert!(dom.contains("web front") && dom.contains("db primary"));
    assert_eq!(dom.matches(r#"<rect class="day "#).count(), 180, "90 daily bars each");
    assert!(dom.contains(r#"<svg class="spark""#));
    assert!(!dom.to_ascii_lowercase().contains("<script"));

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    let arg = format!("--screenshot={}", shot.display());
    let out = run_chromium(&bin, &[&arg, "--window-size=412,900", "--hide-scrollbars"], &url).await;
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = decode_png(&std::fs::read(&shot).expect("a screenshot"));
    assert_eq!((img.0, img.1), (412, 900), "phone-sized");
    let channels = img.2.len() / (412 * 900);
    assert!(inked(&img, channels) > 0.02, "the page drew something");
    eprintln!("status page screenshot: {}", shot.display());
}

#[tokio::test]
async fn graph_in_the_chat_is_a_photo_and_page_takes_an_admin() {
    use crate::fake_telegram::FakeTelegram;
    const TOKEN: &str = "444444:DDD-pics";
    const GROUP: i64 = -1_009_876_543_210;
    let fake = FakeTelegram::start().await;
    fake.add_bot(TOKEN, 444_444, "pics_bot");
    let app = spawn_app(&[
        ("UPBOT_TELEGRAM_TOKENS", TOKEN),
        ("UPBOT_TELEGRAM_API_URL", &fake.url),
        ("UPBOT_ALLOWED_CHATS", "*"),
    ])
    .await;
    fake.set_member(GROUP, 42, "administrator");
    let (port, _server) = target().await;
    let before = fake.sent(GROUP).len();
    fake.say(
        TOKEN,
        GROUP,
        42,
        &format!("/add 127.0.0.1:{port} name=web interval=1 recovers=1"),
    );
    let added = fake.wait_for_nth(GROUP, before + 1).await.swap_remove(before);
    assert!(added.text.contains("Added #"), "{}", added.text);
    let id: u64 = added
        .text
        .split('#')
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    probes(&app, id, 2).await;

    // /graph: a photo (multipart sendPhoto) with the figures in its caption.
    fake.say(TOKEN, GROUP, 7, &format!("/graph {id} 1h"));
    let call = fake
        .wait_until("a sendPhoto", |calls| {
            calls.iter().find(|c| c.method == "sendphoto" && c.ok).cloned()
        })
        .await;
    assert_eq!(call.body["chat_id"], GROUP);
    assert_eq!(call.body["parse_mode"], "HTML");
    assert_eq!(call.body["photo_content_type"], "image/png");
    let caption = call.body["caption"].as_str().unwrap();
    assert!(
        caption.contains(&format!("#{id} <b>web</b>")) && caption.contains("last hour"),
        "{caption}"
    );
    assert!(
        caption.contains("uptime 100%") && caption.contains("no incidents"),
        "{caption}"
    );
    let img = decode_png(call.photo.as_deref().expect("the PNG was uploaded"));
    assert_eq!((img.0, img.1), (960, 480));
    assert!(inked(&img, 3) > 0.005);

    // /page: anyone may ask where it is; only an admin publishes it.
    let n = fake.sent(GROUP).len();
    fake.say(TOKEN, GROUP, 7, "/page on");
    let denied = fake.wait_for_nth(GROUP, n + 1).await.swap_remove(n);
    assert!(denied.text.to_lowercase().contains("administrator"), "{}", denied.text);
    let n = fake.sent(GROUP).len();
    fake.say(TOKEN, GROUP, 42, "/page on");
    let on = fake.wait_for_nth(GROUP, n + 1).await.swap_remove(n);
    let url = on
        .text
        .split_whitespace()
        .find(|w| w.contains("/status/"))
        .unwrap_or_else(|| panic!("an address in {:?}", on.text))
        .trim_end_matches('.')
        .to_string();
    let (code, html, _) = get(&url).await;
    assert_eq!(code, 200);
    assert!(html.contains(">web<"), "the chat's monitor is on its page");
    let n = fake.sent(GROUP).len();
    fake.say(TOKEN, GROUP, 42, "/page off");
    let off = fake.wait_for_nth(GROUP, n + 1).await.swap_remove(n);
    assert!(off.text.contains("404"), "{}", off.text);
    assert_eq!(get(&url).await.0, 404);
}

#[tokio::test]
async fn the_page_follows_a_group_that_became_a_supergroup() {
    let app = spawn_app(&[]).await;
    register_bot(&app.running.service, "mon_bot");
    let (port, _server) = target().await;
    add(&app, &format!("127.0.0.1:{port}"), "web", 2).await;
    let mut ws = app.ws().await;
    let r = ws.request("page", json!({"chat_id": CHAT, "on": true})).await;
    let url = r["data"]["url"].as_str().unwrap().to_string();
    let new = -1_009_999_999_999;
    app.running.service.migrate_chat(CHAT, new).await.unwrap();
    let (code, html, _) = get(&url).await;
    assert_eq!(code, 200, "same address");
    assert!(html.contains(">web<"), "with the moved monitors");
    let r = ws.request("page", json!({"chat_id": new})).await;
    assert_eq!(r["data"]["url"].as_str(), Some(url.as_str()));
    let r = ws.request("page", json!({"chat_id": CHAT})).await;
    assert_eq!(r["data"]["on"], false, "the old chat has none");
}
