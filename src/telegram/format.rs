//! Every text the bots send: command replies and alert batches, in Telegram HTML.
//!
//! Pure functions (time is passed in), so each text is unit-tested. Every value a user
//! or a probe supplied goes through [`esc`]; templates are never escaped. Messages are
//! split on line boundaries to stay under Telegram's 4096-character limit, measured in
//! UTF-16 code units of the raw HTML (an upper bound of what Telegram counts).

use std::time::Duration;

use teloxide::utils::html::escape;

use std::collections::HashMap;

use crate::core::{CoreError, MonitorView, Reply, StatusView};
use crate::domain::oncall::{self, Message, Notice, Section};
use crate::domain::{Kind, State, StatsSummary};
use crate::store::Alert;

/// Telegram's limit on one message's text.
pub const MAX_MESSAGE: usize = 4096;
/// Longest reason shown in one alert line (probe errors can be long).
const MAX_REASON: usize = 300;

/// Escapes a value for HTML parse mode (`<`, `>`, `&`).
pub fn esc(s: &str) -> String {
    escape(s)
}

/// Length as Telegram counts it (UTF-16 code units).
pub fn tg_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Upper-case state word used in alerts and replies.
pub fn state_word(s: State) -> &'static str {
    match s {
        State::Pending => "PENDING",
        State::Up => "UP",
        State::Degraded => "DEGRADED",
        State::Down => "DOWN",
        State::Paused => "PAUSED",
    }
}

fn state_icon(s: State) -> &'static str {
    match s {
        State::Pending => "⏳",
        State::Up => "🟢",
        State::Degraded => "🟡",
        State::Down => "🔴",
        State::Paused => "⏸",
    }
}

/// `5m 3s`, `2h`, `1d 3h`: the one duration format
/// ([`crate::domain::duration::human`]) of a span rounded down to whole seconds (at
/// least `1s`), for "how long ago" texts.
pub fn human(d: Duration) -> String {
    crate::domain::duration::human(Duration::from_secs(d.as_secs().max(1)))
}

fn utc(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace('T', " ")
        .replace('Z', " UTC")
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// `<b>name</b> (target)`, or just `<b>target</b>` when the name is the target.
fn who(name: &str, target: &str) -> String {
    if name == target {
        format!("<b>{}</b>", esc(name))
    } else {
        format!("<b>{}</b> ({})", esc(name), esc(target))
    }
}

/// When a change happened, in UTC: `at 14:03:12 UTC` the same UTC day as `now_ms`
/// (when the alert goes out), else with the date: `at 2025-06-01 14:03:12 UTC`.
pub fn alert_time(at_ms: u64, now_ms: u64) -> String {
    let day = |ms: u64| ms / 86_400_000;
    let full = utc(at_ms); // "2025-06-01 14:03:12 UTC"
    match full.split_once(' ') {
        Some((_, time)) if day(at_ms) == day(now_ms) => format!("at {time}"),
        _ => format!("at {full}"),
    }
}

/// One line for one announced state change, saying when it happened.
pub fn alert_line(a: &Alert, now_ms: u64) -> String {
    let t = &a.transition;
    let detail = match t.to {
        State::Up => match (t.from, t.down_for_ms) {
            (_, Some(ms)) => format!("back after {} down", human(Duration::from_millis(ms))),
            (State::Pending, None) => "now UP".to_string(),
            _ => "recovered".to_string(),
        },
        _ if t.reason.is_empty() => format!("now {}", state_word(t.to)),
        _ => truncate(&t.reason, MAX_REASON),
    };
    format!(
        "{} <b>{}</b> #{} {}: {} · {}",
        state_icon(t.to),
        state_word(t.to),
        a.monitor_id,
        who(&a.name, &a.target),
        esc(&detail),
        alert_time(t.at_ms, now_ms)
    )
}

/// One message of an alert batch and the outbox keys it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// HTML text, at most [`MAX_MESSAGE`] long.
    pub html: String,
    /// Outbox keys of the alerts in it (removed once Telegram accepted it).
    pub keys: Vec<u64>,
}

/// Everything queued for one chat as few messages as possible: a summary line when
/// there is more than one change, then one line per change, oldest first.
pub fn alert_chunks(alerts: &[(u64, Alert)], now_ms: u64) -> Vec<Chunk> {
    let header = (alerts.len() > 1).then(|| {
        let mut counts: Vec<(State, usize)> = Vec::new();
        for (_, a) in alerts {
            match counts.iter_mut().find(|(s, _)| *s == a.transition.to) {
                Some((_, n)) => *n += 1,
                None => counts.push((a.transition.to, 1)),
            }
        }
        let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {}", state_word(*s))).collect();
        format!("<b>{} changes</b>: {}", alerts.len(), parts.join(", "))
    });
    let lines = alerts.iter().map(|(k, a)| (alert_line(a, now_ms), vec![*k])).collect();
    chunk_lines(header, lines, MAX_MESSAGE)
}

/// `14:03:12 UTC` (with the date on another day than `now_ms`).
fn when(at_ms: u64, now_ms: u64) -> String {
    let at = alert_time(at_ms, now_ms);
    at.strip_prefix("at ").unwrap_or(&at).to_string()
}

/// One line of a planned message.
fn plan_line(a: &Alert, behind: usize, now_ms: u64) -> String {
    let t = &a.transition;
    let mut line = match &a.notice {
        Notice::Change => alert_line(a, now_ms),
        Notice::Reminder => {
            let down_for = human(Duration::from_millis(t.down_for_ms.unwrap_or(0)));
            let since = t.at_ms.saturating_sub(t.down_for_ms.unwrap_or(0));
            let reason = if t.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", esc(&truncate(&t.reason, MAX_REASON)))
            };
            format!(
                "⏰ still <b>DOWN</b> for {down_for} · #{} {}{reason} · since {}",
                a.monitor_id,
                who(&a.name, &a.target),
                when(since, now_ms)
            )
        }
        Notice::MuteEnded { .. } => {
            let reason = if t.reason.is_empty() || !matches!(t.to, State::Down | State::Degraded) {
                String::new()
            } else {
                format!(": {}", esc(&truncate(&t.reason, MAX_REASON)))
            };
            format!(
                "{} <b>{}</b> #{} {}{reason} · was {} · since {}",
                state_icon(t.to),
                state_word(t.to),
                a.monitor_id,
                who(&a.name, &a.target),
                state_word(t.from),
                when(t.at_ms, now_ms)
            )
        }
        Notice::Acked { by, reason } => {
            let why = reason.as_deref().map(|r| format!(": {}", esc(r))).unwrap_or_default();
            format!(
                "✅ #{} {} ({}) acked by {}{why}. No reminders until it recovers.",
                a.monitor_id,
                who(&a.name, &a.target),
                state_word(t.to),
                esc(by)
            )
        }
        Notice::Muted {
            by,
            until_ms,
            reason,
            all,
        } => {
            let what = if *all {
                "All monitors of this chat".to_string()
            } else {
                format!("#{} {}", a.monitor_id, who(&a.name, &a.target))
            };
            let why = reason.as_deref().map(|r| format!(": {}", esc(r))).unwrap_or_default();
            format!(
                "🔕 {what} muted by {} until {}{why}. Probing goes on.",
                esc(by),
                until_text(*until_ms, now_ms)
            )
        }
        Notice::Site {
            site,
            lost: true,
            counting,
        } => format!(
            "📡 Site <b>{}</b> stopped reporting; verdicts count the {counting} other site{} until it is back.",
            esc(site),
            if *counting == 1 { "" } else { "s" }
        ),
        Notice::Site { site, lost: false, .. } => {
            format!("📡 Site <b>{}</b> reports again; verdicts count it again.", esc(site))
        }
    };
    if behind > 0 {
        line.push_str(&format!(" · + {behind} behind it"));
    }
    line
}

/// `3 DOWN, 1 UP, 2 still DOWN` over the lines of a message (children counted in).
fn counts(lines: &[(&Alert, usize)]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for (a, behind) in lines {
        let word = match a.notice {
            Notice::Reminder => "still DOWN".to_string(),
            _ => state_word(a.transition.to).to_string(),
        };
        match counts.iter_mut().find(|(w, _)| *w == word) {
            Some((_, n)) => *n += 1 + behind,
            None => counts.push((word, 1 + behind)),
        }
    }
    // The worst first, whatever came first.
    let rank = |w: &str| {
        ["DOWN", "still DOWN", "DEGRADED", "UP"]
            .iter()
            .position(|r| *r == w)
            .unwrap_or(4)
    };
    counts.sort_by_key(|(w, _)| rank(w));
    counts
        .iter()
        .map(|(w, n)| format!("{n} {w}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The texts of one planned message: its lines (a summary line first when there are
/// several), split at 4096 characters; a storm as one summary message (counts, the
/// first names that fit, and `… and N more`). Every chunk but the last carries no
/// keys: the rows leave the outbox with the last one.
pub fn plan_chunks(msg: &Message, rows: &HashMap<u64, &Alert>, style: &Style, now_ms: u64) -> Vec<Chunk> {
    let lines: Vec<(&Alert, usize)> = msg
        .lines
        .iter()
        .filter_map(|l| rows.get(&l.key).map(|a| (*a, l.behind)))
        .collect();
    let Some((first, _)) = lines.first() else {
        return Vec::new();
    };
    let total: usize = lines.iter().map(|(_, b)| 1 + b).sum();
    let header = match (msg.section, &first.notice) {
        (Section::MuteEnded { all }, Notice::MuteEnded { changed: false, .. }) => {
            let text = if all {
                "🔔 <b>Mute ended</b> for all monitors of this chat; nothing changed while it lasted.".to_string()
            } else {
                format!(
                    "🔔 <b>Mute ended</b> for #{} {}; nothing changed while it lasted: it is {}.",
                    first.monitor_id,
                    who(&first.name, &first.target),
                    state_word(first.transition.to)
                )
            };
            return vec![Chunk {
                html: text,
                keys: msg.keys.clone(),
            }];
        }
        (Section::MuteEnded { all }, _) => Some(format!(
            "🔔 <b>Mute ended</b>{}: {} changed while it lasted ({})",
            if all { " for all monitors of this chat" } else { "" },
            if total == 1 {
                "1 monitor".to_string()
            } else {
                format!("{total} monitors")
            },
            counts(&lines)
        )),
        (Section::Info, _) => None,
        (Section::Alerts, _) if msg.storm => Some(format!("🚨 <b>{total} changes</b>: {}", counts(&lines))),
        (Section::Alerts, _) if lines.len() > 1 || total > lines.len() => {
            Some(format!("<b>{total} changes</b>: {}", counts(&lines)))
        }
        (Section::Alerts, _) => None,
    };
    let texts: Vec<String> = lines.iter().map(|(a, b)| plan_line(a, *b, now_ms)).collect();
    if msg.storm || texts.len() > oncall::STORM_AT {
        return vec![storm_chunk(header.unwrap_or_default(), &texts, msg.keys.clone(), style)];
    }
    let mut chunks = chunk_lines(
        header,
        texts.into_iter().map(|t| (t, Vec::new())).collect(),
        MAX_MESSAGE,
    );
    if let Some(last) = chunks.last_mut() {
        last.keys = msg.keys.clone();
    }
    chunks
}

/// One storm summary: the header, as many of the first lines as fit (at most
/// [`oncall::STORM_NAMES`]), then `… and N more` pointing at `/list down`.
fn storm_chunk(header: String, lines: &[String], keys: Vec<u64>, style: &Style) -> Chunk {
    let footer = |more: usize| {
        format!(
            "… and {more} more · {} down shows every monitor not UP",
            style.cmd("list")
        )
    };
    let mut html = header;
    let mut shown = 0;
    for line in lines.iter().take(oncall::STORM_NAMES) {
        let room = MAX_MESSAGE.saturating_sub(tg_len(&footer(lines.len() - shown - 1)) + 2);
        if tg_len(&html) + 1 + tg_len(line) > room {
            break;
        }
        html.push('\n');
        html.push_str(line);
        shown += 1;
    }
    if shown < lines.len() {
        html.push('\n');
        html.push_str(&footer(lines.len() - shown));
    }
    Chunk { html, keys }
}

/// Packs lines into messages of at most `limit` (UTF-16 units), never splitting a line
/// unless it alone is longer than `limit`. The header opens the first message.
pub fn chunk_lines(header: Option<String>, lines: Vec<(String, Vec<u64>)>, limit: usize) -> Vec<Chunk> {
    let mut out: Vec<Chunk> = Vec::new();
    let mut cur = Chunk {
        html: header.unwrap_or_default(),
        keys: Vec::new(),
    };
    for (line, keys) in lines {
        for piece in hard_split(&line, limit) {
            let sep = usize::from(!cur.html.is_empty());
            if !cur.html.is_empty() && tg_len(&cur.html) + sep + tg_len(&piece) > limit {
                out.push(std::mem::replace(
                    &mut cur,
                    Chunk {
                        html: String::new(),
                        keys: Vec::new(),
                    },
                ));
            }
            if !cur.html.is_empty() {
                cur.html.push('\n');
            }
            cur.html.push_str(&piece);
        }
        cur.keys.extend(keys);
    }
    if !cur.html.is_empty() {
        out.push(cur);
    }
    out
}

/// Splits one over-long line at character boundaries (a last resort: it may cut a tag,
/// and the sender then falls back to plain text).
fn hard_split(line: &str, limit: usize) -> Vec<String> {
    if tg_len(line) <= limit {
        return vec![line.to_string()];
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in line.chars() {
        if tg_len(&cur) + c.len_utf16() > limit {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Splits a reply into messages on line boundaries.
pub fn split_reply(html: &str) -> Vec<String> {
    let lines = html.lines().map(|l| (l.to_string(), Vec::new())).collect();
    chunk_lines(None, lines, MAX_MESSAGE)
        .into_iter()
        .map(|c| c.html)
        .collect()
}

/// Our HTML as plain text (tags dropped, entities decoded): the fallback when Telegram
/// rejects the markup. Only our templates contain tags; user text is escaped.
pub fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// What a chat command looks like in this chat: `/del` in private chats, `/del@bot`
/// in groups (privacy mode delivers only addressed commands reliably).
#[derive(Debug, Clone)]
pub struct Style {
    /// `@botname` in groups, empty in private chats.
    pub suffix: String,
}

impl Style {
    /// The style for a chat: private chats need no `@bot`.
    pub fn new(bot_username: &str, private: bool) -> Self {
        Self {
            suffix: if private {
                String::new()
            } else {
                format!("@{bot_username}")
            },
        }
    }

    /// `/cmd` or `/cmd@bot`.
    pub fn cmd(&self, name: &str) -> String {
        format!("/{name}{}", self.suffix)
    }
}

/// A configured interval or timeout, exactly (`30s`, `1.5s`, `500ms`).
fn every(interval_s: f64) -> String {
    crate::domain::duration::human_secs(interval_s)
}

fn kind_target(m: &MonitorView) -> String {
    format!("{} {}", m.kind.as_str(), esc(&m.target))
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Reply to a successful command.
pub fn reply(r: &Reply, style: &Style, now_ms: u64) -> String {
    match r {
        Reply::Added(m) => {
            let what = match m.kind {
                Kind::Push => format!("push monitor {}", esc(&m.name)),
                _ => format!("{}, every {}", kind_target(m), every(m.interval)),
            };
            let mut text = format!(
                "✅ Added #{} <b>{}</b>: {what}.{}\nI'll post here when it goes DOWN or comes back UP. Remove it with {} {}.",
                m.id,
                esc(&m.name),
                push_urls(m),
                style.cmd("del"),
                m.id
            );
            for w in &m.warnings {
                text.push_str(&format!("\n⚠️ {}", esc(w)));
            }
            text
        }
        Reply::Rotated(m) => format!(
            "🔑 New token for #{} <b>{}</b>; the old URLs no longer work.{}",
            m.id,
            esc(&m.name),
            push_urls(m)
        ),
        Reply::Deleted(m) => format!("🗑 Deleted #{} {}.", m.id, who(&m.name, &m.target)),
        Reply::Paused(m) => format!(
            "⏸ Paused #{} {}. Resume with {} {}.",
            m.id,
            who(&m.name, &m.target),
            style.cmd("resume"),
            m.id
        ),
        Reply::Resumed(m) => format!(
            "▶️ Resumed #{} {}; it stays PENDING until the next checks decide.",
            m.id,
            who(&m.name, &m.target)
        ),
        Reply::List(ms) => list(ms, style, now_ms),
        Reply::ListDown(ms) => list_down(ms, style, now_ms),
        Reply::Status(s) => status(s, now_ms),
        Reply::Graph(g) => super::pictures::caption(g),
        Reply::Page(p) => super::pictures::page_reply(p, style),
        Reply::Acked(m) => {
            let why = m
                .ack_reason
                .as_deref()
                .map(|r| format!(": {}", esc(r)))
                .unwrap_or_default();
            format!(
                "✅ #{} {} acked by {}{why}. No reminders until it recovers.",
                m.id,
                who(&m.name, &m.target),
                esc(m.acked_by.as_deref().unwrap_or("someone"))
            )
        }
        Reply::Muted(v) => {
            let until = until_ms(&v.muted_until);
            let what = match (v.all, v.monitors.as_slice()) {
                (true, ms) => format!("every monitor of this chat ({})", ms.len()),
                (false, [m]) => format!("#{} {}", m.id, who(&m.name, &m.target)),
                (false, ms) => format!("{} monitors", ms.len()),
            };
            let why = v.reason.as_deref().map(|r| format!(": {}", esc(r))).unwrap_or_default();
            let end = if v.all {
                "all".to_string()
            } else {
                v.monitors.first().map(|m| m.id.to_string()).unwrap_or_default()
            };
            format!(
                "🔕 Muted {what} until {}{why}. Probing goes on; when the mute ends I'll say what changed. {} {end} ends it now.",
                until.map_or_else(|| esc(&v.muted_until), |u| until_text(u, now_ms)),
                style.cmd("unmute"),
            )
        }
        Reply::Unmuted(v) => {
            let what = match (v.all, v.monitors.as_slice()) {
                (true, _) => "this chat".to_string(),
                (false, [m]) => format!("#{} {}", m.id, who(&m.name, &m.target)),
                (false, ms) => format!("{} monitors", ms.len()),
            };
            match v.changed {
                0 => format!("🔔 Unmuted {what}; nothing changed while it was muted."),
                1 => format!("🔔 Unmuted {what}; 1 monitor changed while it was muted (see the next message)."),
                n => format!("🔔 Unmuted {what}; {n} monitors changed while it was muted (see the next message)."),
            }
        }
        Reply::Reminders(v) => {
            let what = match v.monitors.as_slice() {
                [m] => format!("#{} {}", m.id, who(&m.name, &m.target)),
                ms => format!("{} monitors", ms.len()),
            };
            match v.remind {
                Some(s) => format!(
                    "⏰ {what}: a reminder every {} while DOWN (unless acked or muted).",
                    every(s)
                ),
                None => format!("⏰ {what}: no reminders."),
            }
        }
        Reply::Quiet(q) if q.quiet => {
            "🔈 Quiet mode on: UP and recovery messages arrive without sound; DOWN always with sound.".into()
        }
        Reply::Quiet(_) => "🔔 Quiet mode off: every alert arrives with sound.".into(),
    }
}

/// An RFC 3339 time as ms since the epoch.
fn until_ms(rfc: &str) -> Option<u64> {
    humantime::parse_rfc3339(rfc)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64)
}

/// `15:03 UTC (in 1h)` for a time to come.
fn until_text(until: u64, now_ms: u64) -> String {
    let at = alert_time(until, now_ms);
    let at = at.strip_prefix("at ").unwrap_or(&at).to_string();
    format!(
        "{at} (in {})",
        human(Duration::from_millis(until.saturating_sub(now_ms)))
    )
}

/// What `/list` adds to a monitor's line: who acked it, until when it is muted.
fn oncall_marks(m: &MonitorView, now_ms: u64) -> String {
    let mut out = String::new();
    if let Some(by) = &m.acked_by {
        out.push_str(&format!(" · ✅ acked by {}", esc(by)));
        if let Some(r) = &m.ack_reason {
            out.push_str(&format!(": {}", esc(&truncate(r, 60))));
        }
    }
    if let Some(u) = m.muted_until.as_deref().and_then(until_ms) {
        let at = alert_time(u, now_ms);
        out.push_str(&format!(" · 🔕 muted until {}", at.strip_prefix("at ").unwrap_or(&at)));
    }
    out
}

/// `/list down`: every monitor not UP, one short line each (after a storm summary this
/// is the full list, so lines stay short: about 40 characters each).
fn list_down(monitors: &[MonitorView], style: &Style, now_ms: u64) -> String {
    if monitors.is_empty() {
        return format!("🟢 Every monitor is UP. {} shows them all.", style.cmd("list"));
    }
    let mut out = format!("<b>{} not UP</b>", monitors.len());
    for m in monitors {
        let since = until_ms(&m.since)
            .map(|t| format!(" {}", human(Duration::from_millis(now_ms.saturating_sub(t)))))
            .unwrap_or_default();
        out.push_str(&format!(
            "\n{} #{} {} {}{since}{}",
            state_icon(m.state),
            m.id,
            esc(&truncate(&m.name, 40)),
            state_word(m.state),
            oncall_marks(m, now_ms)
        ));
    }
    out
}

fn list(monitors: &[MonitorView], style: &Style, now_ms: u64) -> String {
    if monitors.is_empty() {
        return format!(
            "No monitors in this chat yet. Add one with {} 192.0.2.10 or {} example.com:443",
            style.cmd("add"),
            style.cmd("add")
        );
    }
    let mut out = format!(
        "<b>{} monitor{}</b>",
        monitors.len(),
        if monitors.len() == 1 { "" } else { "s" }
    );
    for m in monitors {
        let rtt = match (m.last_rtt_ms, &m.last_error) {
            (_, Some(e)) if m.state == State::Down => esc(&truncate(e, 60)),
            (Some(r), _) => format!("{} ms", ms(r)),
            (None, _) => "no RTT yet".into(),
        };
        let name = if m.name == m.target {
            String::new()
        } else {
            format!("<b>{}</b> ", esc(&m.name))
        };
        out.push_str(&format!(
            "\n{} #{} {name}{} · {} · every {} · {rtt}{}",
            state_icon(m.state),
            m.id,
            state_word(m.state),
            kind_target(m),
            every(m.interval),
            oncall_marks(m, now_ms),
        ));
    }
    out
}

/// The webhook and heartbeat URLs of a push monitor (empty for other kinds).
fn push_urls(m: &MonitorView) -> String {
    let mut out = String::new();
    if let Some(u) = &m.webhook_url {
        out.push_str(&format!("\nstatus webhook (POST): <code>{}</code>", esc(u)));
    }
    if let Some(u) = &m.heartbeat_url {
        out.push_str(&format!("\nheartbeat (GET or POST): <code>{}</code>", esc(u)));
    }
    if let Some(h) = m.heartbeat {
        out.push_str(&format!(
            "\nexpected every {}, grace {}",
            every(h),
            every(m.grace.unwrap_or(60.0))
        ));
    }
    out
}

fn status(s: &StatusView, now_ms: u64) -> String {
    let m = &s.monitor;
    let since_ms = humantime::parse_rfc3339(&m.since)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64);
    let since = match since_ms {
        Some(t) => format!(
            "since {} ({})",
            utc(t),
            human(Duration::from_millis(now_ms.saturating_sub(t)))
        ),
        None => String::new(),
    };
    let mut out = format!(
        "{} #{} {} is <b>{}</b> {since}",
        state_icon(m.state),
        m.id,
        who(&m.name, &m.target),
        state_word(m.state)
    );
    if !m.reason.is_empty() && matches!(m.state, State::Down | State::Degraded) {
        out.push_str(&format!("\nreason: {}", esc(&truncate(&m.reason, MAX_REASON))));
    }
    if m.kind == Kind::Push {
        out.push_str(&push_urls(m));
        if let Some(t) = &m.last_heartbeat {
            out.push_str(&format!("\nlast heartbeat: {}", esc(t)));
        }
        return out;
    }
    out.push_str(&format!(
        "\n{} · every {} · timeout {} · fails {} · recovers {}",
        kind_target(m),
        every(m.interval),
        every(m.timeout),
        m.fails,
        m.recovers
    ));
    out.push_str(&stats_lines(&s.stats));
    if let Some(c) = &m.cluster {
        out.push_str(&sites_lines(c));
    }
    out
}

/// Cluster mode: each site's view (`/status`), the quorum, and a word when this node
/// cannot reach the cluster.
fn sites_lines(c: &crate::core::replica::ClusterMonitorView) -> String {
    let counted = c.sites.iter().filter(|s| s.reporting).count();
    let mut out = format!(
        "
sites ({} of {counted} must agree):",
        c.quorum
    );
    for s in &c.sites {
        let view = match (s.reporting, s.state) {
            (false, _) => "not reporting".to_string(),
            (true, None) => "no verdict yet".to_string(),
            (true, Some(st)) if s.reason.is_empty() || !matches!(st, State::Down | State::Degraded) => {
                state_word(st).to_string()
            }
            (true, Some(st)) => format!("{} ({})", state_word(st), esc(&truncate(&s.reason, MAX_REASON))),
        };
        out.push_str(&format!(
            "
· {}: {view}",
            esc(&s.site)
        ));
    }
    if !c.reachable {
        out.push_str(
            "
⚠️ this node cannot reach the cluster: what it shows may be out of date",
        );
    }
    out
}

fn stats_lines(st: &StatsSummary) -> String {
    let rtt = match (st.rtt_min_ms, st.rtt_avg_ms, st.rtt_max_ms) {
        (Some(a), Some(b), Some(c)) => format!("{} / {} / {} ms", ms(a), ms(b), ms(c)),
        _ => "none yet".into(),
    };
    if st.probes == 0 {
        return format!("\nRTT min/avg/max (24 h): {rtt}\nno probes in the last 24 h");
    }
    match (st.uptime_24h_pct, st.uptime_7d_pct, st.uptime_30d_pct) {
        // From the history: the share of the time that was not DOWN.
        (Some(d), Some(w), Some(m)) => format!(
            "\nRTT min/avg/max (24 h): {rtt}\nloss: {:.1}% of {} probes (24 h)\nuptime 24 h: {} · 7 d: {} · 30 d: {}",
            st.loss_pct,
            st.probes,
            crate::pictures::page::pct(Some(d)),
            crate::pictures::page::pct(Some(w)),
            crate::pictures::page::pct(Some(m))
        ),
        _ => format!(
            "\nRTT min/avg/max (24 h): {rtt}\nloss: {:.1}% · uptime (24 h): {:.2}% · {} probes",
            st.loss_pct, st.uptime_pct, st.probes
        ),
    }
}

/// What a button press that worked says: the short notice (`answerCallbackQuery`,
/// plain text) and the line added to the alert.
pub fn pressed(r: &Reply, by: &str, style: &Style, now_ms: u64) -> (String, String) {
    match r {
        Reply::Acked(_) => (
            "✅ Acked. No reminders until it recovers.".into(),
            format!("✅ Acked by {}", esc(by)),
        ),
        Reply::Muted(v) => {
            let until = until_ms(&v.muted_until).map_or_else(|| esc(&v.muted_until), |u| until_text(u, now_ms));
            (
                format!("🔕 Muted until {}.", strip_html(&until)),
                format!("🔕 Muted by {} until {until}", esc(by)),
            )
        }
        Reply::Paused(m) => (
            "⏸ Paused.".into(),
            format!(
                "⏸ Paused by {}; {} {} starts it again",
                esc(by),
                style.cmd("resume"),
                m.id
            ),
        ),
        other => (
            "Done.".into(),
            format!("Done by {}: {}", esc(by), reply(other, style, now_ms)),
        ),
    }
}

/// Reply to a failed command.
pub fn error(e: &CoreError) -> String {
    match e {
        CoreError::PermissionDenied(m) => format!("⛔ {}", esc(m)),
        CoreError::Internal(_) => "⚠️ Something went wrong on the server; the operator can see it in the log.".into(),
        other => format!("⚠️ {}", esc(&other.to_string())),
    }
}

/// `/help` and `/start`: one line per command of the core ([`crate::core::SPECS`]),
/// the options `/add` takes (read from its input type), and examples.
pub fn help(style: &Style, greeting: bool) -> String {
    let c = |n: &str| style.cmd(n);
    let mut out = String::new();
    if greeting {
        out.push_str("👋 I watch hosts and tell this chat when they go DOWN and come back UP.\n\n");
    }
    out.push_str("<b>Commands</b>");
    for spec in crate::core::SPECS {
        let args = if spec.args.is_empty() {
            String::new()
        } else {
            format!(" {}", esc(spec.args))
        };
        out.push_str(&format!("\n{}{args}: {}", c(spec.name), esc(spec.about)));
    }
    out.push_str(&format!("\n{}: this chat's id", c("chatid")));
    out.push_str(&format!(
        "\n{} options: {}",
        c("add"),
        crate::core::AddRequest::chat_keys().join(", ")
    ));
    out.push_str(&format!(
        "\nExamples: {} 192.0.2.10 · {} example.com:443 name=web · {} tcp db.lan 5432 interval=1m · {} push nightly heartbeat=1d",
        c("add"),
        c("add"),
        c("add"),
        c("add"),
    ));
    if !style.suffix.is_empty() {
        out.push_str("\nIn groups only admins may add, delete, pause, resume, mute, remind or quiet; anyone may ack.");
    }
    out
}

/// `/chatid`.
pub fn chat_id(chat_id: i64, thread: Option<i32>) -> String {
    match thread {
        Some(t) => format!("This chat's id is <code>{chat_id}</code> (topic <code>{t}</code>)."),
        None => format!("This chat's id is <code>{chat_id}</code>."),
    }
}

/// The one reply a chat outside the allow-list gets.
pub fn not_allowed(chat_id: i64) -> String {
    format!(
        "🔒 This chat (id <code>{chat_id}</code>) is not allowed to use this bot, so I will not act on commands here.\n\
         To allow it, the operator adds <code>{chat_id}</code> to UPBOT_ALLOWED_CHATS (comma-separated ids, or * for any chat) \
         and restarts upbot, or adds a monitor for chat_id <code>{chat_id}</code> through the API."
    )
}

/// Reply to an unknown command.
pub fn unknown_command(cmd: &str, style: &Style) -> String {
    format!(
        "Unknown command {}. Commands: {} {} {} {} {} {}; {} explains them.",
        esc(cmd),
        style.cmd("add"),
        style.cmd("del"),
        style.cmd("list"),
        style.cmd("status"),
        style.cmd("pause"),
        style.cmd("resume"),
        style.cmd("help"),
    )
}

/// Reply to a command that sat in Telegram's queue while upbot was down.
pub fn stale(cmd: &str, age: Duration) -> String {
    format!(
        "⌛ Ignored {} sent {} ago while upbot was offline; send it again if you still want it.",
        esc(cmd),
        human(age)
    )
}

/// Usage line of a command that takes a monitor.
pub fn usage_selector(cmd: &str, style: &Style) -> String {
    format!("usage: {} &lt;id&gt; (see {})", style.cmd(cmd), style.cmd("list"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MonitorId, Transition};

    fn alert(id: u64, name: &str, target: &str, from: State, to: State, reason: &str, down: Option<u64>) -> Alert {
        Alert {
            monitor_id: MonitorId(id),
            bot: "mon_bot".into(),
            chat_id: -1001234567890,
            thread_id: None,
            name: name.into(),
            target: target.into(),
            kind: Kind::Ping,
            transition: Transition {
                from,
                to,
                reason: reason.into(),
                at_ms: 1_000_000,
                announce: true,
                down_for_ms: down,
            },
            notice: Default::default(),
            cluster_seq: None,
        }
    }

    #[test]
    fn alert_lines_say_state_name_target_reason() {
        let a = alert(
            7,
            "db_1 <main> & co",
            "10.0.0.5:5432",
            State::Up,
            State::Down,
            "connection refused",
            None,
        );
        assert_eq!(
            alert_line(&a, 1_000_000),
            "🔴 <b>DOWN</b> #7 <b>db_1 &lt;main&gt; &amp; co</b> (10.0.0.5:5432): connection refused · at 00:16:40 UTC"
        );
        let a = alert(7, "db", "10.0.0.5", State::Down, State::Up, "", Some(303_000));
        assert_eq!(
            alert_line(&a, 1_000_000),
            "🟢 <b>UP</b> #7 <b>db</b> (10.0.0.5): back after 5m 3s down · at 00:16:40 UTC"
        );
        let a = alert(8, "10.0.0.6", "10.0.0.6", State::Pending, State::Up, "", None);
        assert_eq!(
            alert_line(&a, 1_000_000),
            "🟢 <b>UP</b> #8 <b>10.0.0.6</b>: now UP · at 00:16:40 UTC"
        );
        let a = alert(9, "x", "x", State::Up, State::Degraded, "slow", None);
        assert!(alert_line(&a, 1_000_000).contains("<b>DEGRADED</b>"));
        // every alert says when it happened; sent on a later day, with the date
        let a = alert(9, "x", "x", State::Up, State::Down, "timeout", None);
        assert!(alert_line(&a, 1_000_000 + 120_000).ends_with(": timeout · at 00:16:40 UTC"));
        assert!(alert_line(&a, 1_000_000 + 86_400_000).ends_with(": timeout · at 1970-01-01 00:16:40 UTC"));
        assert_eq!(alert_time(1_748_786_585_000, 1_748_786_590_000), "at 14:03:05 UTC");
    }

    #[test]
    fn batches_fit_4096_and_keep_order_and_keys() {
        let alerts: Vec<(u64, Alert)> = (0..600)
            .map(|i| {
                (
                    i,
                    alert(
                        i,
                        &format!("host-{i:03}.example.com"),
                        "192.0.2.1",
                        State::Up,
                        State::Down,
                        "3 of 3 pings lost",
                        None,
                    ),
                )
            })
            .collect();
        let chunks = alert_chunks(&alerts, 1_000_000);
        assert!(chunks.len() >= 2 && chunks.len() <= 20, "{}", chunks.len());
        assert!(chunks[0].html.starts_with("<b>600 changes</b>: 600 DOWN"));
        let keys: Vec<u64> = chunks.iter().flat_map(|c| c.keys.clone()).collect();
        assert_eq!(keys, (0..600).collect::<Vec<_>>());
        for c in &chunks {
            assert!(tg_len(&c.html) <= MAX_MESSAGE);
            assert_eq!(c.html.lines().filter(|l| l.contains("#")).count(), c.keys.len());
        }
        // one alert: no header
        let one = alert_chunks(&alerts[..1], 1_000_000);
        assert_eq!(one.len(), 1);
        assert!(one[0].html.starts_with("🔴"));
    }

    #[test]
    fn over_long_lines_are_split_by_utf16_length() {
        let line = "😀".repeat(3000); // 6000 UTF-16 units
        let chunks = chunk_lines(None, vec![(line, vec![1])], MAX_MESSAGE);
        assert_eq!(chunks.len(), 2);
        assert!(chunks.iter().all(|c| tg_len(&c.html) <= MAX_MESSAGE));
        assert_eq!(chunks[1].keys, vec![1]);
        assert!(split_reply("").is_empty());
        assert_eq!(split_reply("a\nb"), vec!["a\nb".to_string()]);
    }

    #[test]
    fn strip_html_round_trips_escaped_text() {
        let html = format!("<b>{}</b> ok", esc("a_b <c> & \"d\""));
        assert_eq!(strip_html(&html), "a_b <c> & \"d\" ok");
    }

    #[test]
    fn commands_carry_the_bot_name_in_groups() {
        let g = Style::new("mon_bot", false);
        let p = Style::new("mon_bot", true);
        assert_eq!(g.cmd("del"), "/del@mon_bot");
        assert_eq!(p.cmd("del"), "/del");
        let h = help(&g, false);
        assert!(h.contains("/add@mon_bot &lt;host|host:port&gt;"), "{h}");
        assert!(h.contains("/rotate@mon_bot &lt;id&gt;: new webhook URLs"), "{h}");
        assert!(h.contains("options: kind, port, interval"), "{h}");
        assert!(h.contains("sign_heartbeats"), "{h}");
        assert!(not_allowed(-1001).contains("<code>-1001</code>"));
        assert!(not_allowed(-1001).contains("UPBOT_ALLOWED_CHATS"));
        assert_eq!(
            error(&CoreError::Validation("unknown option \"<x>\"".into())),
            "⚠️ unknown option \"&lt;x&gt;\""
        );
    }

    fn view(state: State, reason: &str) -> MonitorView {
        MonitorView {
            id: MonitorId(7),
            kind: Kind::Tcp,
            target: "db.lan:5432".into(),
            host: "db.lan".into(),
            port: Some(5432),
            interval: 30.0,
            timeout: 2.0,
            fails: 3,
            recovers: 2,
            name: "db_main".into(),
            chat_id: Some(-1001234567890),
            bot: Some("mon_bot".into()),
            state,
            since: "1970-01-01T00:16:40.000Z".into(),
            reason: reason.into(),
            paused: false,
            last_rtt_ms: Some(1.234),
            last_error: None,
            created: "1970-01-01T00:00:00.000Z".into(),
            webhook_url: None,
            heartbeat_url: None,
            heartbeat: None,
            grace: None,
            last_heartbeat: None,
            signed: None,
            sign_heartbeats: None,
            acked_by: None,
            ack_reason: None,
            muted_until: None,
            parent: None,
            remind: None,
            warnings: Vec::new(),
            cluster: None,
        }
    }

    #[test]
    fn status_shows_state_since_rtt_loss_uptime() {
        let s = StatusView {
            monitor: view(State::Down, "connection refused"),
            stats: StatsSummary {
                probes: 2880,
                loss_pct: 1.25,
                uptime_pct: 98.75,
                rtt_min_ms: Some(0.412),
                rtt_avg_ms: Some(1.5),
                rtt_max_ms: Some(12.75),
                uptime_24h_pct: None,
                uptime_7d_pct: None,
                uptime_30d_pct: None,
            },
        };
        let mut known = s.clone();
        (
            known.stats.uptime_24h_pct,
            known.stats.uptime_7d_pct,
            known.stats.uptime_30d_pct,
        ) = (Some(99.999), Some(99.5), Some(100.0));
        let text = reply(&Reply::Status(Box::new(known)), &Style::new("mon_bot", false), 0);
        assert!(
            text.ends_with("loss: 1.2% of 2880 probes (24 h)\nuptime 24 h: 99.99% · 7 d: 99.50% · 30 d: 100%"),
            "uptime from the history: {text}"
        );
        let text = reply(
            &Reply::Status(Box::new(s)),
            &Style::new("mon_bot", false),
            1_000_000 + 3_723_000,
        );
        assert_eq!(
            text,
            "🔴 #7 <b>db_main</b> (db.lan:5432) is <b>DOWN</b> since 1970-01-01 00:16:40 UTC (1h 2m)\n\
             reason: connection refused\n\
             tcp db.lan:5432 · every 30s · timeout 2s · fails 3 · recovers 2\n\
             RTT min/avg/max (24 h): 0.41 / 1.50 / 12.8 ms\n\
             loss: 1.2% · uptime (24 h): 98.75% · 2880 probes"
        );
        let list = reply(&Reply::List(vec![view(State::Up, "")]), &Style::new("mon_bot", true), 0);
        assert_eq!(
            list,
            "<b>1 monitor</b>\n🟢 #7 <b>db_main</b> UP · tcp db.lan:5432 · every 30s · 1.23 ms"
        );
    }

    fn planned(lines: &[(u64, usize)], section: Section, storm: bool, keys: &[u64]) -> Message {
        Message {
            thread: None,
            section,
            keys: keys.to_vec(),
            lines: lines
                .iter()
                .map(|(key, behind)| oncall::Line {
                    key: *key,
                    behind: *behind,
                })
                .collect(),
            storm,
            silent: false,
            buttons: None,
            marks: Vec::new(),
        }
    }

    #[test]
    fn a_storm_is_one_summary_within_4096_whatever_the_names() {
        let long = "n".repeat(64);
        let alerts: Vec<(u64, Alert)> = (0..1000)
            .map(|i| {
                let to = if i % 4 == 0 { State::Up } else { State::Down };
                (
                    i,
                    alert(
                        i,
                        &long,
                        "[fd00::1234:5678]:65535",
                        State::Up,
                        to,
                        &"r".repeat(400),
                        None,
                    ),
                )
            })
            .collect();
        let rows: HashMap<u64, &Alert> = alerts.iter().map(|(k, a)| (*k, a)).collect();
        let keys: Vec<u64> = (0..1000).collect();
        let lines: Vec<(u64, usize)> = keys.iter().map(|k| (*k, 0)).collect();
        let style = Style::new("mon_bot", false);
        let chunks = plan_chunks(&planned(&lines, Section::Alerts, true, &keys), &rows, &style, 1_000_000);
        assert_eq!(chunks.len(), 1);
        let c = &chunks[0];
        assert!(tg_len(&c.html) <= MAX_MESSAGE, "{}", tg_len(&c.html));
        assert_eq!(c.keys, keys, "every row leaves the outbox with the summary");
        assert!(
            c.html.starts_with("🚨 <b>1000 changes</b>: 750 DOWN, 250 UP"),
            "{}",
            c.html
        );
        let last = c.html.lines().last().unwrap();
        let shown = c.html.lines().count() - 2;
        assert!((1..=oncall::STORM_NAMES).contains(&shown), "{shown}");
        assert_eq!(
            last,
            format!(
                "… and {} more · /list@mon_bot down shows every monitor not UP",
                1000 - shown
            )
        );
    }

    #[test]
    fn reminders_parents_mute_ends_and_notices_read_well() {
        let mut rem = alert(
            7,
            "db",
            "10.0.0.5",
            State::Down,
            State::Down,
            "connection refused",
            Some(1_800_000),
        );
        rem.notice = Notice::Reminder;
        rem.transition.at_ms = 1_000_000 + 1_800_000;
        let parent = alert(
            4,
            "switch",
            "10.0.1.1",
            State::Up,
            State::Down,
            "3 of 3 pings lost",
            None,
        );
        let mut same = alert(9, "web", "10.0.0.9", State::Up, State::Up, "", None);
        same.notice = Notice::MuteEnded {
            all: false,
            changed: false,
        };
        let mut acked = alert(7, "db", "10.0.0.5", State::Down, State::Down, "", None);
        acked.notice = Notice::Acked {
            by: "the operator".into(),
            reason: Some("on it".into()),
        };
        let rows: HashMap<u64, &Alert> = [(1, &rem), (2, &parent), (3, &same), (4, &acked)].into_iter().collect();
        let style = Style::new("mon_bot", true);
        let text = |lines: &[(u64, usize)], section, keys: &[u64]| {
            let c = plan_chunks(&planned(lines, section, false, keys), &rows, &style, 2_800_000);
            assert_eq!(c.len(), 1);
            assert_eq!(c[0].keys, keys);
            c[0].html.clone()
        };
        assert_eq!(
            text(&[(1, 0)], Section::Alerts, &[1]),
            "⏰ still <b>DOWN</b> for 30m · #7 <b>db</b> (10.0.0.5): connection refused · since 00:16:40 UTC"
        );
        assert_eq!(
            text(&[(2, 3)], Section::Alerts, &[2, 10, 11, 12]),
            "<b>4 changes</b>: 4 DOWN\n🔴 <b>DOWN</b> #4 <b>switch</b> (10.0.1.1): 3 of 3 pings lost · at 00:16:40 UTC · + 3 behind it"
        );
        assert_eq!(
            text(&[(3, 0)], Section::MuteEnded { all: false }, &[3]),
            "🔔 <b>Mute ended</b> for #9 <b>web</b> (10.0.0.9); nothing changed while it lasted: it is UP."
        );
        assert_eq!(
            text(&[(4, 0)], Section::Info, &[4]),
            "✅ #7 <b>db</b> (10.0.0.5) (DOWN) acked by the operator: on it. No reminders until it recovers."
        );
        let mut changed = alert(7, "db", "10.0.0.5", State::Up, State::Down, "refused", None);
        changed.notice = Notice::MuteEnded {
            all: true,
            changed: true,
        };
        let rows: HashMap<u64, &Alert> = [(5, &changed)].into_iter().collect();
        let c = plan_chunks(
            &planned(&[(5, 0)], Section::MuteEnded { all: true }, false, &[5]),
            &rows,
            &style,
            1_000_000,
        );
        assert_eq!(
            c[0].html,
            "🔔 <b>Mute ended</b> for all monitors of this chat: 1 monitor changed while it lasted (1 DOWN)\n\
             🔴 <b>DOWN</b> #7 <b>db</b> (10.0.0.5): refused · was UP · since 00:16:40 UTC"
        );
    }

    #[test]
    fn a_press_says_who_did_what() {
        let style = Style::new("mon_bot", false);
        let m = view(State::Down, "refused");
        let (toast, line) = pressed(&Reply::Acked(m.clone()), "Ann <A>", &style, 0);
        assert_eq!(
            (toast.as_str(), line.as_str()),
            ("✅ Acked. No reminders until it recovers.", "✅ Acked by Ann &lt;A&gt;")
        );
        let (toast, line) = pressed(&Reply::Paused(m.clone()), "Ann", &style, 0);
        assert_eq!(toast, "⏸ Paused.");
        assert_eq!(line, "⏸ Paused by Ann; /resume@mon_bot 7 starts it again");
        let muted = crate::core::MuteView {
            all: false,
            chat_id: Some(-1),
            muted_until: "1970-01-01T01:00:00.000Z".into(),
            by: "Ann".into(),
            reason: None,
            monitors: vec![m],
        };
        let (toast, line) = pressed(&Reply::Muted(muted), "Ann", &style, 0);
        assert_eq!(toast, "🔕 Muted until 01:00:00 UTC (in 1h).");
        assert_eq!(line, "🔕 Muted by Ann until 01:00:00 UTC (in 1h)");
    }

    #[test]
    fn durations_are_human() {
        assert_eq!(human(Duration::from_millis(303_400)), "5m 3s");
        assert_eq!(human(Duration::from_millis(10)), "1s");
        assert_eq!(human(Duration::from_secs(90_000)), "1d 1h");
        assert_eq!(human(Duration::from_secs(86_400)), "1d");
        assert_eq!(human(Duration::from_secs(3_661)), "1h 1m");
        assert_eq!(human(Duration::from_secs(30)), "30s");
    }
}
