//! The public status page `/page on` publishes: server-rendered HTML (maud), one
//! self-contained document. No JavaScript, no outside assets (styles inline, charts
//! inline SVG, the system's fonts), readable on a phone (one column, fluid SVG), and a
//! plain `<meta http-equiv="refresh">` to stay current.
//!
//! Per monitor: name, state and since when, uptime over 24 h / 7 d / 30 d / 90 d, 90
//! daily uptime bars (each with a `<title>` saying the day's figures) and a
//! response-time sparkline over the last 24 h (min–max band, average line, DOWN
//! shaded). Targets appear only when the page was published with them.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::domain::State;
use crate::domain::duration::human;
use crate::domain::history::{Bucket, Series, utc};

/// What the page shows.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    /// Heading and `<title>`.
    pub title: &'a str,
    /// When the data was read, ms.
    pub generated_ms: u64,
    /// Seconds between the browser's reloads.
    pub refresh_secs: u32,
    /// The monitors, in display order.
    pub monitors: &'a [PageMonitor],
}

/// One monitor on the page.
#[derive(Debug, Clone)]
pub struct PageMonitor {
    /// Display name.
    pub name: String,
    /// `ping`, `tcp`, `push`.
    pub kind: &'static str,
    /// Its target, only when the page publishes targets.
    pub target: Option<String>,
    /// Current state.
    pub state: State,
    /// Since when, ms.
    pub since_ms: u64,
    /// One bucket per UTC day, the last one today (90 of them).
    pub days: Series,
    /// The last 24 h in short buckets (the sparkline).
    pub recent: Series,
}

const STYLE: &str = r#"
:root{--bg:#f6f8fa;--card:#fff;--text:#1f2328;--muted:#59636e;--line:#d1d9e0;
--up:#1a7f37;--degraded:#bf8700;--down:#cf222e;--none:#d1d9e0;--minor:#e16f24;--band:#b6d4f2;--avg:#1f60aa}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--text:#e6edf3;--muted:#9198a1;
--line:#3d444d;--none:#3d444d;--band:#1f4b7a;--avg:#79b8ff}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);
font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:760px;margin:0 auto;padding:16px 12px 32px}
h1{font-size:1.45rem;margin:8px 0 12px}
.banner{border-radius:8px;padding:12px 14px;color:#fff;font-weight:600;margin-bottom:16px}
.banner.up{background:var(--up)}.banner.degraded{background:var(--degraded)}
.banner.down{background:var(--down)}.banner.pending{background:#59636e}
.monitor{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;margin-bottom:12px}
.head{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 10px}
.head h2{font-size:1.1rem;margin:0;flex:1 1 auto;overflow-wrap:anywhere}
.pill{font-size:.8rem;font-weight:700;border-radius:999px;padding:1px 10px;color:#fff;background:#59636e}
.pill.up{background:var(--up)}.pill.degraded{background:var(--degraded)}.pill.down{background:var(--down)}
.meta{color:var(--muted);font-size:.88rem;margin:2px 0 8px}
.meta code{font-size:.85rem;overflow-wrap:anywhere}
.figs{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:.9rem;margin:4px 0 8px}
.figs b{font-variant-numeric:tabular-nums}
svg{display:block;width:100%}
svg.bars{height:34px}
.day.up{fill:var(--up)}.day.degraded{fill:var(--degraded)}.day.minor{fill:var(--minor)}
.day.down{fill:var(--down)}.day.none{fill:var(--none)}
svg.spark{height:44px;margin-top:6px}
.scale{display:flex;justify-content:space-between;color:var(--muted);font-size:.75rem;margin-top:2px}
footer{color:var(--muted);font-size:.8rem;text-align:center;margin-top:20px}
"#;

/// Renders the page.
pub fn render(p: &Page<'_>) -> String {
    let (banner_class, banner) = banner(p.monitors);
    let doc: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                meta http-equiv="refresh" content=(p.refresh_secs);
                title { (p.title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main {
                    h1 { (p.title) }
                    div class={ "banner " (banner_class) } role="status" { (banner) }
                    @for (i, m) in p.monitors.iter().enumerate() {
                        (monitor(i, m, p.generated_ms))
                    }
                    @if p.monitors.is_empty() {
                        p class="meta" { "No monitors in this chat yet." }
                    }
                    footer {
                        "Updated " (stamp(p.generated_ms)) " UTC · refreshes every "
                        (p.refresh_secs) " s · times in UTC · served by upbot"
                    }
                }
            }
        }
    };
    doc.into_string()
}

/// The banner: the worst state on the page.
fn banner(ms: &[PageMonitor]) -> (&'static str, String) {
    let count = |s: State| ms.iter().filter(|m| m.state == s).count();
    let (down, degraded, up) = (count(State::Down), count(State::Degraded), count(State::Up));
    if down > 0 {
        ("down", format!("{down} of {} DOWN", ms.len()))
    } else if degraded > 0 {
        ("degraded", format!("{degraded} of {} DEGRADED", ms.len()))
    } else if up > 0 && up == ms.len() {
        ("up", "All monitors UP".to_string())
    } else if up > 0 {
        ("up", format!("{up} of {} UP, the others paused or pending", ms.len()))
    } else {
        ("pending", "No verdict yet".to_string())
    }
}

fn state_word(s: State) -> &'static str {
    match s {
        State::Up => "UP",
        State::Down => "DOWN",
        State::Degraded => "DEGRADED",
        State::Paused => "paused",
        State::Pending => "pending",
    }
}

/// `2026-11-23 12:34`.
fn stamp(ms: u64) -> String {
    let (y, mo, d, h, mi) = utc(ms);
    format!("{y}-{mo:02}-{d:02} {h:02}:{mi:02}")
}

/// `2026-11-23`.
fn day(ms: u64) -> String {
    let (y, mo, d, _, _) = utc(ms);
    format!("{y}-{mo:02}-{d:02}")
}

/// `99.98%`, `100%`, `—` when nothing is known.
pub fn pct(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v >= 100.0 => "100%".into(),
        // Never round a bad figure up to 100%.
        Some(v) => format!("{:.2}%", (v * 100.0).floor() / 100.0),
    }
}

/// Uptime over the last `n` buckets of `s`.
fn last(s: &Series, n: usize) -> Option<f64> {
    let mut b = Bucket::default();
    for x in s.buckets.iter().rev().take(n) {
        b.merge(x);
    }
    b.uptime_pct()
}

fn monitor(i: usize, m: &PageMonitor, now_ms: u64) -> Markup {
    let since = human(std::time::Duration::from_secs(now_ms.saturating_sub(m.since_ms) / 1000));
    let word = state_word(m.state);
    html! {
        section class="monitor" id={ "m" (i) } data-state=(m.state.as_str()) {
            div class="head" {
                h2 { (m.name) }
                span class={ "pill " (m.state.as_str()) } { (word) }
            }
            p class="meta" {
                (m.kind)
                @if let Some(t) = &m.target { " · " code { (t) } }
                " · " (word) " for " (since)
            }
            div class="figs" {
                span { "24 h " b { (pct(m.recent.totals().uptime_pct())) } }
                span { "7 d " b { (pct(last(&m.days, 7))) } }
                span { "30 d " b { (pct(last(&m.days, 30))) } }
                span { "90 d " b { (pct(m.days.totals().uptime_pct())) } }
            }
            (bars(&m.days))
            div class="scale" { span { (m.days.buckets.len()) " days ago" } span { "today" } }
            (sparkline(&m.recent))
            div class="scale" { span { "response time, last 24 h" } span { (rtt_summary(&m.recent)) } }
        }
    }
}

/// The colour class of a day: no data, all up, DEGRADED only, a little DOWN (under
/// 1 %), or more.
pub fn day_class(b: &Bucket) -> &'static str {
    match b.uptime_pct() {
        None => "none",
        Some(_) if b.down_ms == 0 && b.degraded_ms == 0 => "up",
        Some(_) if b.down_ms == 0 => "degraded",
        Some(u) if u >= 99.0 => "minor",
        Some(_) => "down",
    }
}

fn day_title(start_ms: u64, b: &Bucket) -> String {
    let d = day(start_ms);
    match b.uptime_pct() {
        None => format!("{d}: no data"),
        Some(u) => {
            let mut t = format!("{d}: {} up", pct(Some(u)));
            if b.down_ms > 0 {
                t += &format!(
                    ", DOWN {}",
                    human(std::time::Duration::from_secs(b.down_ms.div_ceil(1000)))
                );
            }
            if b.degraded_ms > 0 {
                t += &format!(
                    ", DEGRADED {}",
                    human(std::time::Duration::from_secs(b.degraded_ms.div_ceil(1000)))
                );
            }
            t
        }
    }
}

/// Daily uptime bars: one rect per day, its colour by [`day_class`], its `<title>` the
/// day's figures.
fn bars(days: &Series) -> Markup {
    let n = days.buckets.len();
    let w = n * 6;
    html! {
        svg class="bars" viewBox={ "0 0 " (w) " 34" } preserveAspectRatio="none" role="img"
            aria-label={ (n) "-day uptime" } {
            @for (i, b) in days.buckets.iter().enumerate() {
                rect class={ "day " (day_class(b)) } x=(i * 6) width="4.5" height="34" {
                    title { (day_title(days.at(i), b)) }
                }
            }
        }
    }
}

/// `avg 12.3 ms, max 40 ms` over the series.
fn rtt_summary(s: &Series) -> String {
    let t = s.totals();
    match t.rtt_avg_us() {
        Some(avg) => format!(
            "avg {}, max {}",
            crate::pictures::chart::format_ms(avg / 1000.0),
            crate::pictures::chart::format_ms(f64::from(t.rtt_max_us) / 1000.0)
        ),
        None => "no answers".into(),
    }
}

/// The response-time sparkline: DOWN buckets shaded, the min–max band, the average.
fn sparkline(s: &Series) -> Markup {
    const H: f64 = 40.0;
    let n = s.buckets.len().max(1);
    let w = n * 10;
    let top = s
        .buckets
        .iter()
        .filter(|b| b.rtt_count > 0)
        .map(|b| b.rtt_max_us)
        .max()
        .unwrap_or(0);
    let scale = if top == 0 { 1.0 } else { H / (f64::from(top) * 1.1) };
    let y = |us: f64| format!("{:.1}", H - us * scale);
    let mut band_paths = Vec::new();
    let mut lines = Vec::new();
    let mut seg: Vec<(usize, &Bucket)> = Vec::new();
    let flush = |seg: &mut Vec<(usize, &Bucket)>, band_paths: &mut Vec<String>, lines: &mut Vec<String>| {
        if seg.is_empty() {
            return;
        }
        let x = |i: usize| i * 10 + 5;
        let mut pts: Vec<String> = seg
            .iter()
            .map(|(i, b)| format!("{},{}", x(*i), y(f64::from(b.rtt_max_us))))
            .collect();
        pts.extend(
            seg.iter()
                .rev()
                .map(|(i, b)| format!("{},{}", x(*i), y(f64::from(b.rtt_min_us)))),
        );
        if seg.len() == 1 {
            // A lone bucket: widen it so it shows.
            let (i, b) = seg[0];
            pts = vec![
                format!("{},{}", i * 10 + 1, y(f64::from(b.rtt_max_us))),
                format!("{},{}", i * 10 + 9, y(f64::from(b.rtt_max_us))),
                format!("{},{}", i * 10 + 9, y(f64::from(b.rtt_min_us))),
                format!("{},{}", i * 10 + 1, y(f64::from(b.rtt_min_us))),
            ];
        }
        band_paths.push(pts.join(" "));
        let line: Vec<String> = seg
            .iter()
            .map(|(i, b)| format!("{},{}", x(*i), y(b.rtt_avg_us().unwrap_or(0.0))))
            .collect();
        if line.len() > 1 {
            lines.push(line.join(" "));
        }
        seg.clear();
    };
    for (i, b) in s.buckets.iter().enumerate() {
        if b.rtt_count > 0 {
            seg.push((i, b));
        } else {
            flush(&mut seg, &mut band_paths, &mut lines);
        }
    }
    flush(&mut seg, &mut band_paths, &mut lines);
    html! {
        svg class="spark" viewBox={ "0 0 " (w) " " (H) } preserveAspectRatio="none" role="img"
            aria-label="response time over the last 24 hours" {
            @for (i, b) in s.buckets.iter().enumerate() {
                @if b.down_ms > 0 {
                    rect class="down" x=(i * 10) y="0" width="10" height=(H) fill="var(--down)" fill-opacity="0.35" {}
                }
            }
            @for pts in &band_paths {
                polygon class="band" points=(pts) fill="var(--band)" {}
            }
            @for pts in &lines {
                polyline class="avg" points=(pts) fill="none" stroke="var(--avg)" stroke-width="1.5"
                    vector-effect="non-scaling-stroke" {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::history::{DAY_MS, MINUTE_MS};

    const NOW: u64 = 1_795_437_296_000; // 2026-11-23T12:34:56Z

    fn mon(name: &str, state: State, target: Option<&str>, down_day: Option<usize>) -> PageMonitor {
        let mut days = Series::ending(NOW, 90 * DAY_MS, DAY_MS);
        for i in 30..90 {
            let mut b = Bucket::default();
            b.spend(State::Up, DAY_MS - 600_000);
            if Some(i) == down_day {
                b.spend(State::Down, 600_000);
            } else {
                b.spend(State::Up, 600_000);
            }
            let at = days.at(i);
            days.add(at, &b);
        }
        let mut recent = Series::ending(NOW, DAY_MS, 30 * MINUTE_MS);
        for i in 0..48 {
            let mut b = Bucket::default();
            b.probe(true, Some(1000 + i as u64 * 10));
            b.probe(true, Some(3000));
            let at = recent.at(i);
            recent.add(at, &b);
        }
        PageMonitor {
            name: name.into(),
            kind: "tcp",
            target: target.map(Into::into),
            state,
            since_ms: NOW - 3_600_000,
            days,
            recent,
        }
    }

    #[test]
    fn the_page_holds_what_it_promises_and_nothing_from_outside() {
        let ms = [
            mon("web <front>", State::Up, None, None),
            mon("db", State::Down, Some("10.0.0.5:5432"), Some(80)),
        ];
        let html = render(&Page {
            title: "Acme status",
            generated_ms: NOW,
            refresh_secs: 30,
            monitors: &ms,
        });
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<title>Acme status</title>"));
        assert!(html.contains(r#"name="viewport""#), "phone-readable");
        assert!(html.contains("web &lt;front&gt;"), "names are escaped");
        assert!(html.contains(r#"data-state="down""#) && html.contains(r#"data-state="up""#));
        assert!(html.contains("1 of 2 DOWN"));
        assert!(html.contains("10.0.0.5:5432"), "a published target");
        assert_eq!(html.matches(r#"<rect class="day "#).count(), 180, "90 bars each");
        assert_eq!(
            html.matches(r#"class="day none""#).count(),
            60,
            "30 days with data each"
        );
        assert_eq!(html.matches(r#"class="day minor""#).count(), 1, "one day with 10m DOWN");
        assert!(html.contains("2026-11-14: 99.30% up, DOWN 10m"));
        assert_eq!(html.matches(r#"<polygon class="band""#).count(), 2, "a sparkline each");
        assert_eq!(html.matches(r#"<polyline class="avg""#).count(), 2);
        assert!(html.contains("Updated 2026-11-23 12:34 UTC"));
        // Nothing from outside, and no script.
        let lower = html.to_ascii_lowercase();
        for bad in ["<script", "src=", "href=", "http://", "https://", "@import", "url("] {
            assert!(!lower.contains(bad), "{bad} in the page");
        }
    }

    #[test]
    fn no_targets_unless_published() {
        let ms = [mon("db", State::Up, None, None)];
        let html = render(&Page {
            title: "s",
            generated_ms: NOW,
            refresh_secs: 30,
            monitors: &ms,
        });
        assert!(!html.contains("<code>"));
        assert!(html.contains("All monitors UP"));
    }

    #[test]
    fn banners_days_and_percentages() {
        let up = |s| mon("x", s, None, None);
        assert_eq!(banner(&[]).0, "pending");
        assert_eq!(banner(&[up(State::Up), up(State::Degraded)]).0, "degraded");
        assert_eq!(
            banner(&[up(State::Up), up(State::Paused)]).1,
            "1 of 2 UP, the others paused or pending"
        );
        assert_eq!(pct(Some(99.999)), "99.99%", "never rounded up to 100");
        assert_eq!(pct(Some(100.0)), "100%");
        assert_eq!(pct(None), "—");
        let mut b = Bucket::default();
        assert_eq!(day_class(&b), "none");
        b.spend(State::Up, DAY_MS);
        assert_eq!(day_class(&b), "up");
        b.spend(State::Degraded, 1);
        assert_eq!(day_class(&b), "degraded");
        b.spend(State::Down, 60_000);
        assert_eq!(day_class(&b), "minor");
        b.spend(State::Down, DAY_MS / 10);
        assert_eq!(day_class(&b), "down");
        let empty = render(&Page {
            title: "empty",
            generated_ms: NOW,
            refresh_secs: 10,
            monitors: &[],
        });
        assert!(empty.contains("No monitors in this chat yet."));
    }
}
