//! The README's pictures, made by the code itself, and the figures the README states.
//!
//! Builds a data dir with three monitors and 90 days of history (written through the
//! store's real batched save, day by day, so minutes roll up into hours as they do in
//! production), starts the real server on it (the monitors are then probed live: a
//! local TCP listener, a closed local port, 127.0.0.1 by ping), asks the command core
//! for a 24 h `graph` and publishes the chat's `page`, then:
//! - writes the chart to `docs/chart.png`;
//! - has headless Chromium screenshot the page at phone size to `docs/status-page.png`;
//! - prints the chart render time, the page draw time (also for a page of `--monitors`
//!   monitors with 90 days each) and the bytes one monitor's history takes.
//!
//! ```sh
//! cargo run --release --example pictures            # writes docs/*.png
//! cargo run --release --example pictures -- --monitors 200 --no-screenshot
//! ```

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use upbot::core::cmd::{PageRequest, Period};
use upbot::core::{Caller, Command, Reply, Selector};
use upbot::domain::history::{Bucket, DAY_MS, HOUR_MS, MINUTE_MS};
use upbot::domain::{Health, Kind, Monitor, MonitorId, State, now_ms};
use upbot::pictures::chart;
use upbot::store::Store;

const CHAT: i64 = -1_001_234_567_890;

/// A small deterministic generator (xorshift), so the pictures are the same each run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 10_000) as f64 / 10_000.0
    }
}

/// What a monitor went through: (start, end) offsets from now in minutes, and the state.
struct Story {
    base_ms: f64,
    events: Vec<(u64, u64, State)>,
}

impl Story {
    fn state(&self, minutes_ago: u64) -> State {
        self.events
            .iter()
            .find(|(from, to, _)| minutes_ago <= *from && minutes_ago > *to)
            .map_or(State::Up, |e| e.2)
    }
}

/// One synthetic minute: 12 probes (every 5 s) with a daily RTT swing and jitter.
fn minute(story: &Story, at_ms: u64, minutes_ago: u64, rng: &mut Rng) -> Bucket {
    let mut b = Bucket::default();
    let hour = (at_ms % DAY_MS) as f64 / HOUR_MS as f64;
    let daily = 1.0 + 0.45 * ((hour - 15.0) / 24.0 * std::f64::consts::TAU).cos().max(0.0);
    let state = story.state(minutes_ago);
    for _ in 0..12 {
        match state {
            State::Down => b.probe(false, None),
            _ => {
                let slow = if state == State::Degraded { 3.2 } else { 1.0 };
                let spike = if rng.next() > 0.995 { 2.5 } else { 1.0 };
                let rtt = story.base_ms * daily * slow * spike * (0.85 + 0.35 * rng.next());
                b.probe(true, Some((rtt * 1000.0) as u64));
            }
        }
    }
    b.spend(state, MINUTE_MS);
    b
}

/// Writes `days` of history for `ids` through the store's batched save, a day at a time.
async fn write_history(store: &Store, stories: &[(MonitorId, Story)], days: u64, now: u64) -> anyhow::Result<()> {
    let start = now - days * DAY_MS;
    let mut rng = Rng(0x5eed);
    let mut t = start - start % MINUTE_MS;
    while t < now {
        let day_end = (t + DAY_MS).min(now);
        let mut batch = Vec::new();
        for (id, story) in stories {
            let mut minutes = Vec::new();
            let mut m = t;
            while m < day_end {
                let ago = (now - m) / MINUTE_MS;
                minutes.push((m, minute(story, m, ago, &mut rng)));
                m += MINUTE_MS;
            }
            batch.push((*id, minutes));
        }
        store.save_history(batch, day_end).await?;
        t = day_end;
    }
    Ok(())
}

fn monitor(id: u64, kind: Kind, host: &str, port: Option<u16>, name: &str) -> Monitor {
    let (interval, timeout) = (Duration::from_secs(5), Duration::from_secs(2));
    Monitor {
        id: MonitorId(id),
        fails: 2,
        chat_id: Some(CHAT),
        bot: Some("demo_bot".into()),
        created_ms: now_ms() - 90 * DAY_MS,
        ..Monitor::draft(kind, host.into(), port, interval, timeout, name.into(), None)
    }
}

/// The real server on `dir`, on loopback ports of its choosing, no bot.
async fn serve(dir: &std::path::Path) -> anyhow::Result<upbot::app::Running> {
    let config = upbot::config::Config::from_lookup(|k| match k {
        "UPBOT_DATA_DIR" => dir.to_str().map(String::from),
        "UPBOT_WS_ADDR" | "UPBOT_HTTP_ADDR" => Some("127.0.0.1:0".into()),
        _ => None,
    })?;
    upbot::app::start(config).await
}

/// Publishes the test chat's page; returns its address.
async fn publish(svc: &upbot::core::Service, title: Option<&str>) -> anyhow::Result<String> {
    let page = PageRequest {
        on: Some(true),
        chat_id: Some(CHAT),
        title: title.map(String::from),
        ..PageRequest::default()
    };
    match svc.execute(&Caller::Operator, Command::Page(page)).await? {
        Reply::Page(p) => p.url.context("a page address"),
        other => bail!("unexpected reply {other:?}"),
    }
}

/// Draws the page at `url` `n` times as the HTTP receiver does (data, then HTML);
/// returns the times and the last HTML.
fn draw_page(svc: &upbot::core::Service, url: &str, n: usize) -> anyhow::Result<(Vec<Duration>, String)> {
    let slug = url.rsplit('/').next().unwrap_or_default();
    let mut times = Vec::new();
    let mut html = String::new();
    for _ in 0..n {
        let t = Instant::now();
        let d = svc.status_page(slug).context("the page")?;
        html = upbot::pictures::page::render(&upbot::pictures::page::Page {
            title: &d.title,
            generated_ms: d.generated_ms,
            refresh_secs: 60,
            monitors: &d.monitors,
        });
        times.push(t.elapsed());
    }
    Ok((times, html))
}

async fn state_of(svc: &upbot::core::Service, id: u64) -> State {
    match svc
        .execute(&Caller::Operator, Command::Status(Selector::Id(MonitorId(id))))
        .await
    {
        Ok(Reply::Status(s)) => s.monitor.state,
        _ => State::Pending,
    }
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|b| {
        std::process::Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let screenshot = !args.iter().any(|a| a == "--no-screenshot");
    let big: usize = args
        .iter()
        .position(|a| a == "--monitors")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(100);
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    std::fs::create_dir_all(&docs)?;
    let dir = tempfile::tempdir()?;

    // Live targets: a listener that accepts, and a port nothing listens on.
    // Round ports when free, so the pictures read like a real setup.
    let bind = |port: u16| async move {
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => Ok(l),
            Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0").await,
        }
    };
    let up = bind(5432).await?;
    let up_port = up.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((c, _)) = up.accept().await {
            drop(c);
        }
    });
    let closed_port = bind(8443).await?.local_addr()?.port();

    let now = now_ms();
    let ago = |h: f64| (h * 60.0) as u64;
    let stories = vec![
        (
            MonitorId(1),
            Story {
                base_ms: 11.0,
                events: vec![
                    (ago(6.5), ago(6.5) - 25, State::Down),
                    (ago(14.0), ago(14.0) - 40, State::Degraded),
                    (ago(24.0 * 9.0), ago(24.0 * 9.0) - 95, State::Down),
                    (ago(24.0 * 31.0), ago(24.0 * 31.0) - 300, State::Degraded),
                ],
            },
        ),
        (
            MonitorId(2),
            Story {
                base_ms: 0.9,
                events: vec![(ago(24.0 * 52.0), ago(24.0 * 52.0) - 20, State::Down)],
            },
        ),
        (
            MonitorId(3),
            Story {
                base_ms: 2.4,
                events: vec![
                    (ago(0.3), 0, State::Down),
                    (ago(24.0 * 3.0), ago(24.0 * 3.0) - 180, State::Down),
                    (ago(24.0 * 70.0), ago(24.0 * 70.0) - 600, State::Down),
                ],
            },
        ),
    ];
    let monitors = [
        monitor(1, Kind::Tcp, "127.0.0.1", Some(up_port), "db-primary"),
        monitor(2, Kind::Ping, "127.0.0.1", None, "edge router"),
        monitor(3, Kind::Tcp, "127.0.0.1", Some(closed_port), "billing API"),
    ];
    let (bytes_per_monitor, history_write) = {
        let store = Store::open(dir.path())?;
        // Their state as a long-running server left it (kept across the restart below).
        for m in &monitors {
            store.next_id()?;
            let mut h = Health::new(m.created_ms);
            if m.id == MonitorId(3) {
                (h.state, h.since_ms, h.reason) = (State::Down, now - 18 * MINUTE_MS, "connection refused".into());
                h.down_since_ms = Some(h.since_ms);
            } else {
                (h.state, h.since_ms) = (State::Up, now - 3 * DAY_MS - 7 * HOUR_MS);
            }
            store.put_monitor(m, &h).await?;
        }
        let t = Instant::now();
        write_history(&store, &stories, 90, now).await?;
        let took = t.elapsed();
        store.flush().await?;
        (store.history_bytes(MonitorId(1))?, took)
    };
    println!(
        "history: 90 days of 3 monitors written through the batched save in {history_write:.2?}; \
         one monitor's history takes {bytes_per_monitor} bytes (keys and values)"
    );

    let running = serve(dir.path()).await?;
    let svc = running.service.clone();
    // Let the live probes give verdicts (db-primary UP, billing API DOWN).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if state_of(&svc, 1).await == State::Up && state_of(&svc, 3).await == State::Down {
            break;
        }
        if Instant::now() > deadline {
            bail!("the live probes gave no verdict within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The chart, through the command core.
    let g = match svc
        .execute(
            &Caller::Operator,
            Command::Graph(Selector::Id(MonitorId(1)), Period::Day),
        )
        .await?
    {
        Reply::Graph(g) => g,
        other => bail!("unexpected reply {other:?}"),
    };
    std::fs::write(docs.join("chart.png"), &g.png)?;
    println!("wrote docs/chart.png ({} bytes); its caption:", g.png.len());
    let caption = upbot::telegram::pictures::caption(&g, upbot::i18n::Lang::En);
    println!(
        "{}",
        upbot::telegram::format::strip_html(&caption)
            .replace("&lt;", "<")
            .replace("&gt;", ">")
    );

    // Render time: the same series as the chart, drawn again and again.
    let fine = running
        .store
        .history(MonitorId(1), now - DAY_MS, now, MINUTE_MS, &[], now)?;
    let series = fine.resample(Period::Day.chart_step_ms());
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let _ = chart::render(&chart::Chart {
            title: "db-primary",
            subtitle: "last 24 h",
            series: &series,
        })?;
        times.push(t.elapsed());
    }
    println!(
        "chart render (960×480, {} points, PNG encoded): median {:.1?}, p95 {:.1?}, max {:.1?}",
        series.buckets.len(),
        percentile(&mut times, 0.5),
        percentile(&mut times, 0.95),
        percentile(&mut times, 1.0)
    );
    let t = Instant::now();
    let _ = svc
        .execute(
            &Caller::Operator,
            Command::Graph(Selector::Id(MonitorId(1)), Period::Month),
        )
        .await?;
    println!(
        "a whole 30 d graph command (history read + render): {:.1?}",
        t.elapsed()
    );

    // The page.
    let url = publish(&svc, Some("Acme production")).await?;
    let (mut times, _) = draw_page(&svc, &url, 20)?;
    println!(
        "page draw, 3 monitors × 90 days (history read + HTML): median {:.1?}",
        percentile(&mut times, 0.5)
    );
    if screenshot {
        let bin = chromium().context("chromium is needed for the page screenshot (apt-get install chromium)")?;
        let profile = tempfile::tempdir()?;
        let out = tokio::process::Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--window-size=412,1040",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--screenshot={}", docs.join("status-page.png").display()))
            .arg(&url)
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(90), out).await??;
        if !out.status.success() {
            bail!("chromium failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        println!("wrote docs/status-page.png");
    }
    running.stop().await?;

    // A bigger page: `big` monitors with 90 days each (written directly, then read cold).
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let mut many = Vec::new();
    for i in 1..=big as u64 {
        store.next_id()?;
        // Paused: only their history matters here, nothing probes them.
        let mut m = monitor(i, Kind::Tcp, "127.0.0.1", Some(closed_port), &format!("svc-{i:03}"));
        m.paused = true;
        store.put_monitor(&m, &Health::new(m.created_ms)).await?;
        many.push((
            MonitorId(i),
            Story {
                base_ms: 3.0,
                events: vec![(
                    ago(24.0 * (i % 80) as f64),
                    ago(24.0 * (i % 80) as f64) - 30,
                    State::Down,
                )],
            },
        ));
    }
    write_history(&store, &many, 90, now).await?;
    store.flush().await?;
    drop(store);
    let running = serve(dir.path()).await?;
    let svc = running.service.clone();
    let url = publish(&svc, None).await?;
    let (mut times, html) = draw_page(&svc, &url, 5)?;
    {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(html.as_bytes())?;
        let gz = gz.finish()?;
        println!(
            "page of {big} monitors: {} KiB of HTML, {} KiB gzipped",
            html.len() / 1024,
            gz.len() / 1024
        );
    }
    println!(
        "page draw, {big} monitors × 90 days: median {:.1?} (served from memory for {:?} after each)",
        percentile(&mut times, 0.5),
        upbot::http::page::CACHE_FOR
    );
    running.stop().await?;
    Ok(())
}
