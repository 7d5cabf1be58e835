//! The chat's side of the pictures: the caption of a `/graph` photo and the replies of
//! `/page`. Pure (Telegram HTML, like [`super::format`]), so each text is tested.

use std::time::Duration;

use super::format::{Style, esc, human_in, ms};
use crate::core::cmd::graph::{GraphView, Period, uptime_text, utc_stamp};
use crate::core::cmd::page::PageView;
use crate::domain::history::utc;
use crate::i18n::{self, Lang, tr};

/// Telegram's limit on a photo caption.
pub const MAX_CAPTION: usize = 1024;
/// Incidents listed in a caption; the rest are counted.
const MAX_INCIDENT_LINES: usize = 8;

/// `23 Nov 03:12` (`23 nov 03:12`, `23 ноя 03:12`, `11월 23일 03:12`).
fn short(lang: Lang, ms: u64) -> String {
    let (_, mo, d, h, mi) = utc(ms);
    let day = tr!(lang, "day-month", day = d, month = tr!(lang, "month", m = mo));
    format!("{day} {h:02}:{mi:02}")
}

/// A period as a caption names it (`last 24 h`).
pub fn period_label(lang: Lang, p: Period) -> String {
    tr!(
        lang,
        match p {
            Period::Hour => "period-hour",
            Period::Day => "period-day",
            Period::Week => "period-week",
            Period::Month => "period-month",
        }
    )
}

/// The caption of a chart: the monitor, the period, uptime, DOWN time, each incident
/// (UTC, to the minute) and the RTT figures; at most [`MAX_CAPTION`] characters.
pub fn caption(g: &GraphView, lang: Lang) -> String {
    let m = &g.monitor;
    let who = if m.name == m.target {
        format!("<b>{}</b>", esc(&m.name))
    } else {
        format!("<b>{}</b> ({})", esc(&m.name), esc(&m.target))
    };
    let t = &g.totals;
    let mut out = format!("📈 #{} {who} · {}", m.id, period_label(lang, g.period));
    if t.known_ms == 0 && t.probes == 0 {
        out.push('\n');
        out.push_str(&tr!(lang, "graph-no-data"));
        return out;
    }
    out.push('\n');
    out.push_str(&tr!(
        lang,
        "graph-uptime",
        uptime = i18n::decimal(lang, &uptime_text(g.uptime_pct()))
    ));
    if t.down_ms > 0 {
        out.push_str(" · ");
        out.push_str(&tr!(
            lang,
            "graph-down",
            duration = human_in(lang, Duration::from_millis(t.down_ms))
        ));
    }
    if t.degraded_ms > 0 {
        out.push_str(" · ");
        out.push_str(&tr!(
            lang,
            "graph-degraded",
            duration = human_in(lang, Duration::from_millis(t.degraded_ms))
        ));
    }
    out.push_str(" · ");
    out.push_str(&tr!(lang, "graph-incidents", count = g.incidents.len()));
    let shown = g.incidents.len().saturating_sub(MAX_INCIDENT_LINES);
    for i in &g.incidents[shown..] {
        let end = if i.ongoing {
            tr!(lang, "graph-still-down")
        } else {
            let (_, _, _, h, mi) = utc(i.end_ms);
            tr!(lang, "graph-until", time = format!("{h:02}:{mi:02}"))
        };
        out.push('\n');
        out.push_str(&tr!(
            lang,
            "graph-incident",
            start = short(lang, i.start_ms),
            end = end,
            duration = human_in(lang, Duration::from_millis(i.down_ms))
        ));
    }
    if shown > 0 {
        out.push('\n');
        out.push_str(&tr!(lang, "graph-earlier", count = shown));
    }
    if let Some(avg) = t.rtt_avg_us() {
        out.push('\n');
        out.push_str(&tr!(
            lang,
            "graph-rtt",
            min = ms(lang, f64::from(t.rtt_min_us) / 1000.0),
            avg = ms(lang, avg / 1000.0),
            max = ms(lang, f64::from(t.rtt_max_us) / 1000.0)
        ));
    }
    out.push_str(&format!("\n{} – {} UTC", utc_stamp(g.from_ms), utc_stamp(g.to_ms)));
    // Incident lines are short; the cap only bites on absurd names.
    if super::format::tg_len(&out) > MAX_CAPTION {
        out = super::format::strip_html(&out)
            .chars()
            .take(MAX_CAPTION - 1)
            .collect::<String>()
            + "…";
        out = esc(&out);
    }
    out
}

/// The reply to `/page`.
pub fn page_reply(p: &PageView, style: &Style) -> String {
    let lang = style.lang;
    match (&p.url, p.was_on) {
        (Some(url), was_on) => {
            let head = tr!(lang, if was_on { "page-head-on" } else { "page-head-published" });
            let targets = if p.targets {
                tr!(lang, "page-targets-shown")
            } else {
                tr!(lang, "page-targets-hidden", cmd = style.cmd("page"))
            };
            tr!(
                lang,
                "page-on",
                head = head,
                url = esc(url),
                monitors = tr!(lang, "monitors-count", count = p.monitors),
                targets = targets,
                cmd = style.cmd("page")
            )
        }
        (None, true) => tr!(lang, "page-taken-down", cmd = style.cmd("page")),
        (None, false) => tr!(lang, "page-none", cmd = style.cmd("page")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::cmd::graph::Period;
    use crate::domain::State;
    use crate::domain::history::{Bucket, DAY_MS, Incident, MINUTE_MS};

    const T0: u64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z

    fn view() -> crate::core::MonitorView {
        crate::core::MonitorView {
            name: "db <main>".into(),
            chat_id: Some(-5),
            bot: None,
            since: String::new(),
            last_rtt_ms: None,
            created: String::new(),
            ..crate::core::MonitorView::sample()
        }
    }

    fn graph(incidents: Vec<Incident>, totals: Bucket) -> GraphView {
        GraphView {
            monitor: view(),
            period: Period::Day,
            from_ms: T0,
            to_ms: T0 + DAY_MS,
            totals,
            incidents,
            png: Vec::new(),
        }
    }

    #[test]
    fn captions_give_uptime_incidents_and_rtt() {
        let mut t = Bucket::default();
        t.spend(State::Up, DAY_MS - 25 * MINUTE_MS);
        t.spend(State::Down, 25 * MINUTE_MS);
        t.probe(true, Some(412));
        t.probe(true, Some(12_750));
        let inc = Incident {
            start_ms: T0 + 3 * 3_600_000 + 12 * MINUTE_MS,
            end_ms: T0 + 3 * 3_600_000 + 37 * MINUTE_MS,
            down_ms: 25 * MINUTE_MS,
            ongoing: false,
        };
        assert_eq!(
            caption(&graph(vec![inc], t), Lang::En),
            "📈 #7 <b>db &lt;main&gt;</b> (db.lan:5432) · last 24 h\n\
             uptime 98.26% · DOWN 25m · 1 incident\n\
             • 23 Nov 03:12 UTC, until 03:37: DOWN 25m\n\
             RTT min/avg/max: 0.41 / 6.58 / 12.8 ms\n\
             2026-11-23 00:00 – 2026-11-24 00:00 UTC"
        );
        let many: Vec<Incident> = (0..20)
            .map(|i| Incident {
                start_ms: T0 + i * 3_600_000,
                end_ms: T0 + i * 3_600_000 + MINUTE_MS,
                down_ms: MINUTE_MS,
                ongoing: i == 19,
            })
            .collect();
        let c = caption(&graph(many, t), Lang::En);
        assert!(c.contains("20 incidents"));
        assert!(c.contains("… and 12 earlier"));
        assert!(c.contains("still DOWN"));
        assert!(super::super::format::tg_len(&c) <= MAX_CAPTION);
        assert!(caption(&graph(vec![], Bucket::default()), Lang::En).ends_with("no data in this period yet"));
    }

    #[test]
    fn page_replies() {
        let style = Style::new("mon_bot", false);
        let mut p = PageView {
            chat_id: -5,
            on: true,
            url: Some("http://h/status/abc".into()),
            targets: false,
            title: None,
            monitors: 3,
            was_on: false,
        };
        let t = page_reply(&p, &style);
        assert!(
            t.starts_with("🌐 Published this chat's status page: http://h/status/abc"),
            "{t}"
        );
        assert!(t.contains("3 monitors") && t.contains("Targets are hidden"));
        p.was_on = true;
        p.targets = true;
        assert!(page_reply(&p, &style).contains("Targets are shown."));
        p.url = None;
        p.on = false;
        assert!(page_reply(&p, &style).contains("404"));
        p.was_on = false;
        assert!(page_reply(&p, &style).starts_with("This chat has no status page."));
    }
}
