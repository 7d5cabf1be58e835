//! Every text the bots send: command replies and alert batches, in Telegram HTML, in
//! the chat's language ([`Style::lang`]; the texts are the catalogues of
//! [`crate::i18n`], `locales/*.ftl`).
//!
//! Pure functions (time is passed in), so each text is unit-tested. Every value a user
//! or a probe supplied goes through [`esc`] before it is put into a text; the
//! catalogues' own tags are never escaped. Messages are split on line boundaries to
//! stay under Telegram's 4096-character limit, measured in UTF-16 code units of the
//! raw HTML (an upper bound of what Telegram counts).

use std::time::Duration;

use teloxide::utils::html::escape;

use std::collections::HashMap;

use crate::core::{CoreError, MonitorView, Reply, StatusView};
use crate::domain::oncall::{self, Message, Notice, Section};
use crate::domain::{Kind, LossLimit, State, StatsSummary};
use crate::i18n::{self, Lang, tr};
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

/// Upper-case state word used in alerts and replies. DOWN, UP and DEGRADED are the
/// same in every language (scripts and filters match them).
pub fn state_word(s: State) -> &'static str {
    match s {
        State::Pending => "PENDING",
        State::Up => "UP",
        State::Degraded => "DEGRADED",
        State::Down => "DOWN",
        State::Paused => "PAUSED",
    }
}

/// [`state_word`] in `lang`: PENDING and PAUSED are translated, the rest never.
fn state_in(lang: Lang, s: State) -> String {
    match s {
        State::Pending => tr!(lang, "state-pending"),
        State::Paused => tr!(lang, "state-paused"),
        other => state_word(other).to_string(),
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

/// [`human`] in `lang` (`5 min 3 s`, `5 мин 3 с`, `5분 3초`).
pub fn human_in(lang: Lang, d: Duration) -> String {
    i18n::duration(lang, Duration::from_secs(d.as_secs().max(1)))
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

/// A probe failure reason for a chat: translated when upbot wrote it
/// ([`i18n::reason`]), shortened, escaped.
fn reason_html(lang: Lang, reason: &str) -> String {
    esc(&truncate(&i18n::reason::localize(lang, reason), MAX_REASON))
}

/// Who did something, as stored (`Ann Lee (@ann)`, or one of the words upbot itself
/// puts there: "the operator", "an admin", "someone"), in `lang`, escaped.
fn person(lang: Lang, by: &str) -> String {
    match by {
        "the operator" => tr!(lang, "the-operator"),
        "an admin" => tr!(lang, "an-admin"),
        "someone" => tr!(lang, "someone"),
        other => esc(other),
    }
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
    alert_time_in(Lang::En, at_ms, now_ms)
}

/// [`alert_time`] in `lang` (`às 14:03:12 UTC`, `в 14:03:12 UTC`, `14:03:12 UTC`).
pub fn alert_time_in(lang: Lang, at_ms: u64, now_ms: u64) -> String {
    tr!(lang, "at", time = when(at_ms, now_ms))
}

/// `14:03:12 UTC` (with the date on another day than `now_ms`).
fn when(at_ms: u64, now_ms: u64) -> String {
    let day = |ms: u64| ms / 86_400_000;
    let full = utc(at_ms); // "2025-06-01 14:03:12 UTC"
    match full.split_once(' ') {
        Some((_, time)) if day(at_ms) == day(now_ms) => time.to_string(),
        _ => full,
    }
}

/// One line for one announced state change, saying when it happened.
pub fn alert_line(a: &Alert, now_ms: u64) -> String {
    alert_line_in(Lang::En, a, now_ms)
}

/// [`alert_line`] in `lang`.
pub fn alert_line_in(lang: Lang, a: &Alert, now_ms: u64) -> String {
    let t = &a.transition;
    let detail = match t.to {
        State::Up => match (t.from, t.down_for_ms) {
            (_, Some(ms)) => tr!(
                lang,
                "alert-back-after",
                duration = human_in(lang, Duration::from_millis(ms))
            ),
            (State::Pending, None) => tr!(lang, "alert-now-up"),
            _ => tr!(lang, "alert-recovered"),
        },
        _ if t.reason.is_empty() => tr!(lang, "alert-now", state = state_in(lang, t.to)),
        _ => i18n::reason::localize(lang, &t.reason),
    };
    format!(
        "{} <b>{}</b> #{} {}: {} · {}",
        state_icon(t.to),
        state_word(t.to),
        a.monitor_id,
        who(&a.name, &a.target),
        esc(&truncate(&detail, MAX_REASON)),
        alert_time_in(lang, t.at_ms, now_ms)
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
    let lang = Lang::En;
    let header = (alerts.len() > 1).then(|| {
        let mut counts: Vec<(State, usize)> = Vec::new();
        for (_, a) in alerts {
            match counts.iter_mut().find(|(s, _)| *s == a.transition.to) {
                Some((_, n)) => *n += 1,
                None => counts.push((a.transition.to, 1)),
            }
        }
        let parts: Vec<String> = counts
            .iter()
            .map(|(s, n)| tr!(lang, "count-state", count = *n, state = state_in(lang, *s)))
            .collect();
        tr!(lang, "alert-changes", count = alerts.len(), counts = parts.join(", "))
    });
    let lines = alerts
        .iter()
        .map(|(k, a)| (alert_line_in(lang, a, now_ms), vec![*k]))
        .collect();
    chunk_lines(header, lines, MAX_MESSAGE)
}

/// `: reason` (translated, escaped), or nothing.
fn colon_reason(lang: Lang, reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {}", reason_html(lang, reason))
    }
}

/// One line of a planned message.
fn plan_line(lang: Lang, a: &Alert, behind: usize, now_ms: u64) -> String {
    let t = &a.transition;
    let mut line = match &a.notice {
        Notice::Change => alert_line_in(lang, a, now_ms),
        Notice::Reminder => {
            let down_for = human_in(lang, Duration::from_millis(t.down_for_ms.unwrap_or(0)));
            let since = t.at_ms.saturating_sub(t.down_for_ms.unwrap_or(0));
            tr!(
                lang,
                "reminder-line",
                duration = down_for,
                id = a.monitor_id.to_string(),
                who = who(&a.name, &a.target),
                reason = colon_reason(lang, &t.reason),
                since = when(since, now_ms)
            )
        }
        Notice::MuteEnded { .. } => {
            let reason = if matches!(t.to, State::Down | State::Degraded) {
                colon_reason(lang, &t.reason)
            } else {
                String::new()
            };
            tr!(
                lang,
                "mute-ended-line",
                icon = state_icon(t.to),
                state = state_in(lang, t.to),
                id = a.monitor_id.to_string(),
                who = who(&a.name, &a.target),
                reason = reason,
                from = state_in(lang, t.from),
                since = when(t.at_ms, now_ms)
            )
        }
        Notice::Acked { by, reason } => tr!(
            lang,
            "acked-notice",
            id = a.monitor_id.to_string(),
            who = who(&a.name, &a.target),
            state = state_in(lang, t.to),
            by = person(lang, by),
            why = why(reason.as_deref())
        ),
        Notice::Muted {
            by,
            until_ms,
            reason,
            all,
        } => {
            let until = until_text(lang, *until_ms, now_ms);
            let (by, why) = (person(lang, by), why(reason.as_deref()));
            if *all {
                tr!(lang, "muted-notice-all", by = by, until = until, why = why)
            } else {
                tr!(
                    lang,
                    "muted-notice-one",
                    id = a.monitor_id.to_string(),
                    who = who(&a.name, &a.target),
                    by = by,
                    until = until,
                    why = why
                )
            }
        }
        // Each text gets exactly its placeholders (the catalogue check is strict).
        Notice::Site {
            site,
            lost: true,
            counting,
        } => {
            tr!(lang, "site-lost", site = esc(site), counting = *counting)
        }
        Notice::Site { site, lost: false, .. } => tr!(lang, "site-back", site = esc(site)),
    };
    if behind > 0 {
        line.push_str(" · ");
        line.push_str(&tr!(lang, "behind", count = behind));
    }
    line
}

/// `: reason` of an ack or a mute (the person's own words, escaped), or nothing.
fn why(reason: Option<&str>) -> String {
    reason.map(|r| format!(": {}", esc(r))).unwrap_or_default()
}

/// `3 DOWN, 1 UP, 2 still DOWN` over the lines of a message (children counted in).
fn counts(lang: Lang, lines: &[(&Alert, usize)]) -> String {
    // (rank, state): the worst first, whatever came first; a reminder is "still DOWN".
    let mut counts: Vec<((usize, State), usize)> = Vec::new();
    for (a, behind) in lines {
        let key = match (&a.notice, a.transition.to) {
            (Notice::Reminder, s) => (1, s),
            (_, State::Down) => (0, State::Down),
            (_, State::Degraded) => (2, State::Degraded),
            (_, State::Up) => (3, State::Up),
            (_, s) => (4, s),
        };
        match counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1 + behind,
            None => counts.push((key, 1 + behind)),
        }
    }
    counts.sort_by_key(|((rank, _), _)| *rank);
    counts
        .iter()
        .map(|((rank, s), n)| match rank {
            1 => tr!(lang, "count-still-down", count = *n),
            _ => tr!(lang, "count-state", count = *n, state = state_in(lang, *s)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The texts of one planned message: its lines (a summary line first when there are
/// several), split at 4096 characters; a storm as one summary message (counts, the
/// first names that fit, and `… and N more`). Every chunk but the last carries no
/// keys: the rows leave the outbox with the last one.
pub fn plan_chunks(msg: &Message, rows: &HashMap<u64, &Alert>, style: &Style, now_ms: u64) -> Vec<Chunk> {
    let lang = style.lang;
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
                tr!(lang, "mute-ended-all-same")
            } else {
                tr!(
                    lang,
                    "mute-ended-one-same",
                    id = first.monitor_id.to_string(),
                    who = who(&first.name, &first.target),
                    state = state_in(lang, first.transition.to)
                )
            };
            return vec![Chunk {
                html: text,
                keys: msg.keys.clone(),
            }];
        }
        (Section::MuteEnded { all }, _) => Some(tr!(
            lang,
            if all {
                "mute-ended-changed-all"
            } else {
                "mute-ended-changed"
            },
            count = total,
            counts = counts(lang, &lines)
        )),
        (Section::Info, _) => None,
        (Section::Alerts, _) if msg.storm => {
            Some(tr!(lang, "storm-header", count = total, counts = counts(lang, &lines)))
        }
        (Section::Alerts, _) if lines.len() > 1 || total > lines.len() => {
            Some(tr!(lang, "alert-changes", count = total, counts = counts(lang, &lines)))
        }
        (Section::Alerts, _) => None,
    };
    let texts: Vec<String> = lines.iter().map(|(a, b)| plan_line(lang, a, *b, now_ms)).collect();
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
    let footer = |more: usize| tr!(style.lang, "storm-more", count = more, cmd = style.cmd("list"));
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

/// How texts look in one chat: commands as `/del` in private chats and `/del@bot` in
/// groups (privacy mode delivers only addressed commands reliably), in the chat's
/// language.
#[derive(Debug, Clone)]
pub struct Style {
    /// `@botname` in groups, empty in private chats.
    pub suffix: String,
    /// The chat's language.
    pub lang: Lang,
}

impl Style {
    /// The style for a chat, in English: private chats need no `@bot`.
    pub fn new(bot_username: &str, private: bool) -> Self {
        Self {
            suffix: if private {
                String::new()
            } else {
                format!("@{bot_username}")
            },
            lang: Lang::En,
        }
    }

    /// The same style in `lang`.
    #[must_use]
    pub fn in_lang(mut self, lang: Lang) -> Self {
        self.lang = lang;
        self
    }

    /// `/cmd` or `/cmd@bot`.
    pub fn cmd(&self, name: &str) -> String {
        format!("/{name}{}", self.suffix)
    }
}

/// A configured interval or timeout, exactly (`30s`, `1.5s`, `500ms`), in `lang`.
fn every(lang: Lang, interval_s: f64) -> String {
    i18n::duration_secs(lang, interval_s)
}

fn kind_target(m: &MonitorView) -> String {
    format!("{} {}", m.kind.as_str(), esc(&m.target))
}

/// A figure in ms as people read it (`0.41`, `12.8`, `140`), with the language's
/// decimal separator.
pub(crate) fn ms(lang: Lang, v: f64) -> String {
    let s = if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    i18n::decimal(lang, &s)
}

/// `#7 <b>db</b> (10.0.0.5)`.
fn one(m: &MonitorView) -> String {
    format!("#{} {}", m.id, who(&m.name, &m.target))
}

/// Reply to a successful command.
pub fn reply(r: &Reply, style: &Style, now_ms: u64) -> String {
    let lang = style.lang;
    match r {
        Reply::Added(m) => {
            let what = match m.kind {
                Kind::Push => tr!(lang, "added-push", name = esc(&m.name)),
                _ => tr!(
                    lang,
                    "added-probe",
                    kind = m.kind.as_str(),
                    target = esc(&m.target),
                    every = every(lang, m.interval)
                ),
            };
            let mut text = tr!(lang, "added", id = m.id.to_string(), name = esc(&m.name), what = what);
            text.push_str(&push_urls(lang, m));
            text.push('\n');
            text.push_str(&tr!(lang, "added-tail", cmd = style.cmd("del"), id = m.id.to_string()));
            for w in &m.warnings {
                text.push_str(&format!("\n⚠️ {}", esc(&w.render(lang))));
            }
            text
        }
        Reply::Rotated(m) => tr!(lang, "rotated", id = m.id.to_string(), name = esc(&m.name)) + &push_urls(lang, m),
        Reply::Deleted(m) => tr!(lang, "deleted", id = m.id.to_string(), who = who(&m.name, &m.target)),
        Reply::Paused(m) => tr!(
            lang,
            "paused",
            id = m.id.to_string(),
            who = who(&m.name, &m.target),
            cmd = style.cmd("resume")
        ),
        Reply::Resumed(m) => tr!(lang, "resumed", id = m.id.to_string(), who = who(&m.name, &m.target)),
        Reply::List(ms) => list(ms, style, now_ms),
        Reply::ListDown(ms) => list_down(ms, style, now_ms),
        Reply::Status(s) => status(lang, s, now_ms),
        Reply::Graph(g) => super::pictures::caption(g, lang),
        Reply::Page(p) => super::pictures::page_reply(p, style),
        Reply::Acked(m) => tr!(
            lang,
            "acked",
            id = m.id.to_string(),
            who = who(&m.name, &m.target),
            by = person(lang, m.acked_by.as_deref().unwrap_or("someone")),
            why = why(m.ack_reason.as_deref())
        ),
        Reply::Muted(v) => {
            let until = until_ms(&v.muted_until);
            let what = match (v.all, v.monitors.as_slice()) {
                (true, ms) => tr!(lang, "muted-what-all", count = ms.len()),
                (false, [m]) => one(m),
                (false, ms) => tr!(lang, "monitors-count", count = ms.len()),
            };
            let end = if v.all {
                "all".to_string()
            } else {
                v.monitors.first().map(|m| m.id.to_string()).unwrap_or_default()
            };
            tr!(
                lang,
                "muted",
                what = what,
                until = until.map_or_else(|| esc(&v.muted_until), |u| until_text(lang, u, now_ms)),
                why = why(v.reason.as_deref()),
                cmd = style.cmd("unmute"),
                end = end
            )
        }
        Reply::Unmuted(v) => {
            let what = match (v.all, v.monitors.as_slice()) {
                (true, _) => tr!(lang, "unmuted-what-chat"),
                (false, [m]) => one(m),
                (false, ms) => tr!(lang, "monitors-count", count = ms.len()),
            };
            tr!(lang, "unmuted", what = what, changed = v.changed)
        }
        Reply::Reminders(v) => {
            let what = match v.monitors.as_slice() {
                [m] => one(m),
                ms => tr!(lang, "monitors-count", count = ms.len()),
            };
            match v.remind {
                Some(s) => tr!(lang, "reminders-on", what = what, every = every(lang, s)),
                None => tr!(lang, "reminders-off", what = what),
            }
        }
        Reply::Quiet(q) if q.quiet => tr!(lang, "quiet-on"),
        Reply::Quiet(_) => tr!(lang, "quiet-off"),
        // Said in the language just set.
        Reply::Lang(l) => tr!(
            l.lang,
            if l.changed { "lang-set" } else { "lang-current" },
            name = lang_name(l.lang),
            cmd = style.cmd("lang")
        ),
    }
}

/// A language's name in itself (`English`, `Português`, `Русский`, `한국어`).
pub fn lang_name(lang: Lang) -> String {
    tr!(
        lang,
        match lang {
            Lang::En => "lang-name-en",
            Lang::Pt => "lang-name-pt",
            Lang::Ru => "lang-name-ru",
            Lang::Ko => "lang-name-ko",
        }
    )
}

/// An RFC 3339 time as ms since the epoch.
fn until_ms(rfc: &str) -> Option<u64> {
    humantime::parse_rfc3339(rfc)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64)
}

/// `15:03 UTC (in 1h)` for a time to come.
fn until_text(lang: Lang, until: u64, now_ms: u64) -> String {
    tr!(
        lang,
        "until",
        at = when(until, now_ms),
        duration = human_in(lang, Duration::from_millis(until.saturating_sub(now_ms)))
    )
}

/// What `/list` adds to a monitor's line: who acked it, until when it is muted.
fn oncall_marks(lang: Lang, m: &MonitorView, now_ms: u64) -> String {
    let mut out = String::new();
    if let Some(by) = &m.acked_by {
        out.push_str(" · ");
        out.push_str(&tr!(lang, "mark-acked", by = person(lang, by)));
        if let Some(r) = &m.ack_reason {
            out.push_str(&format!(": {}", esc(&truncate(r, 60))));
        }
    }
    if let Some(u) = m.muted_until.as_deref().and_then(until_ms) {
        out.push_str(" · ");
        out.push_str(&tr!(lang, "mark-muted", until = when(u, now_ms)));
    }
    out
}

/// `/list down`: every monitor not UP, one short line each (after a storm summary this
/// is the full list, so lines stay short: about 40 characters each).
fn list_down(monitors: &[MonitorView], style: &Style, now_ms: u64) -> String {
    let lang = style.lang;
    if monitors.is_empty() {
        return tr!(lang, "list-down-none", cmd = style.cmd("list"));
    }
    let mut out = tr!(lang, "list-down-head", count = monitors.len());
    for m in monitors {
        let since = until_ms(&m.since)
            .map(|t| format!(" {}", human_in(lang, Duration::from_millis(now_ms.saturating_sub(t)))))
            .unwrap_or_default();
        out.push_str(&format!(
            "\n{} #{} {} {}{since}{}",
            state_icon(m.state),
            m.id,
            esc(&truncate(&m.name, 40)),
            state_in(lang, m.state),
            oncall_marks(lang, m, now_ms)
        ));
    }
    out
}

fn list(monitors: &[MonitorView], style: &Style, now_ms: u64) -> String {
    let lang = style.lang;
    if monitors.is_empty() {
        return tr!(lang, "list-empty", cmd = style.cmd("add"));
    }
    let mut out = tr!(lang, "list-head", count = monitors.len());
    for m in monitors {
        let mut rtt = match (m.last_rtt_ms, &m.last_error) {
            (_, Some(e)) if m.state == State::Down => esc(&truncate(&i18n::reason::localize(lang, e), 60)),
            (Some(r), _) => tr!(lang, "rtt-ms", ms = ms(lang, r)),
            (None, _) => tr!(lang, "no-rtt"),
        };
        if let (State::Degraded, Some(Some(loss))) = (m.state, m.window_loss_pct) {
            rtt.push_str(" · ");
            rtt.push_str(&tr!(lang, "list-loss", pct = pct(lang, loss)));
        }
        let name = if m.name == m.target {
            String::new()
        } else {
            format!("<b>{}</b> ", esc(&m.name))
        };
        out.push_str(&format!(
            "\n{} #{} {name}{} · {} · {} · {rtt}{}",
            state_icon(m.state),
            m.id,
            state_in(lang, m.state),
            kind_target(m),
            tr!(lang, "every", duration = every(lang, m.interval)),
            oncall_marks(lang, m, now_ms),
        ));
    }
    out
}

/// The webhook and heartbeat URLs of a push monitor (empty for other kinds).
fn push_urls(lang: Lang, m: &MonitorView) -> String {
    let mut out = String::new();
    if let Some(u) = &m.webhook_url {
        out.push('\n');
        out.push_str(&tr!(lang, "url-webhook", url = esc(u)));
    }
    if let Some(u) = &m.heartbeat_url {
        out.push('\n');
        out.push_str(&tr!(lang, "url-heartbeat", url = esc(u)));
    }
    if let Some(h) = m.heartbeat {
        out.push('\n');
        out.push_str(&tr!(
            lang,
            "push-expected",
            every = every(lang, h),
            grace = every(lang, m.grace.unwrap_or(60.0))
        ));
    }
    out
}

fn status(lang: Lang, s: &StatusView, now_ms: u64) -> String {
    let m = &s.monitor;
    let since = match until_ms(&m.since) {
        Some(t) => tr!(
            lang,
            "status-since",
            time = utc(t),
            ago = human_in(lang, Duration::from_millis(now_ms.saturating_sub(t)))
        ),
        None => String::new(),
    };
    let mut out = tr!(
        lang,
        "status-head",
        icon = state_icon(m.state),
        id = m.id.to_string(),
        who = who(&m.name, &m.target),
        state = state_in(lang, m.state),
        since = since
    );
    if !m.reason.is_empty() && matches!(m.state, State::Down | State::Degraded) {
        out.push('\n');
        out.push_str(&tr!(lang, "status-reason", reason = reason_html(lang, &m.reason)));
    }
    if m.kind == Kind::Push {
        out.push_str(&push_urls(lang, m));
        if let Some(t) = &m.last_heartbeat {
            out.push('\n');
            out.push_str(&tr!(lang, "status-last-heartbeat", time = esc(t)));
        }
        return out;
    }
    out.push('\n');
    out.push_str(&tr!(
        lang,
        "status-settings",
        what = kind_target(m),
        every = every(lang, m.interval),
        timeout = every(lang, m.timeout),
        fails = m.fails,
        recovers = m.recovers
    ));
    if let (Some(retries), Some(loss), Some(window)) = (m.retries, m.loss, m.window) {
        out.push('\n');
        out.push_str(&match loss {
            LossLimit::Off => tr!(lang, "status-ping-loss-off", retries = retries),
            LossLimit::Pct(p) => tr!(lang, "status-ping", retries = retries, loss = p, window = window),
        });
    }
    out.push_str(&kind_settings(lang, m));
    out.push_str(&stats_lines(lang, &s.stats));
    if m.kind == Kind::Ping {
        out.push_str(&packet_lines(lang, m, &s.stats));
    }
    if let Some(c) = &m.cluster {
        out.push_str(&sites_lines(lang, c));
    }
    out
}

/// Cluster mode: each site's view (`/status`), the quorum, and a word when this node
/// cannot reach the cluster.
fn sites_lines(lang: Lang, c: &crate::core::replica::ClusterMonitorView) -> String {
    let counted = c.sites.iter().filter(|s| s.reporting).count();
    let mut out = format!("\n{}", tr!(lang, "status-sites", need = c.quorum, counted = counted));
    for s in &c.sites {
        let view = match (s.reporting, s.state) {
            (false, _) => tr!(lang, "status-site-silent"),
            (true, None) => tr!(lang, "status-site-pending"),
            (true, Some(st)) if s.reason.is_empty() || !matches!(st, State::Down | State::Degraded) => {
                state_in(lang, st).to_string()
            }
            (true, Some(st)) => format!("{} ({})", state_in(lang, st), reason_html(lang, &s.reason)),
        };
        out.push('\n');
        out.push_str(&tr!(lang, "status-site", site = esc(&s.site), view = view));
    }
    if !c.reachable {
        out.push('\n');
        out.push_str(&tr!(lang, "status-cluster-unreachable"));
    }
    out
}

/// A percentage, without its sign, as the chat reads it: whole numbers (`27`), one
/// decimal under 10 (`3.4`, `3,4`).
fn pct(lang: Lang, v: f64) -> String {
    let s = if v > 0.0 && v < 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    };
    i18n::decimal(lang, &s)
}

/// Ping monitors: packets over 24 h and the loss window now.
fn packet_lines(lang: Lang, m: &MonitorView, st: &StatsSummary) -> String {
    let mut out = String::new();
    if st.packets_sent > 0 {
        out.push('\n');
        out.push_str(&tr!(
            lang,
            "status-packets",
            sent = st.packets_sent,
            lost = st.packets_lost,
            pct = pct(lang, st.packets_lost as f64 * 100.0 / st.packets_sent as f64)
        ));
    }
    match (m.window_loss_pct, m.window_probes) {
        (Some(Some(loss)), Some(n)) if n > 0 => {
            out.push('\n');
            out.push_str(&tr!(lang, "status-window", count = n, pct = pct(lang, loss)));
        }
        _ => {}
    }
    out
}

/// An http or dns monitor's own settings, one line (empty for other kinds).
fn kind_settings(lang: Lang, m: &MonitorView) -> String {
    let f = &m.settings;
    let mut parts = Vec::new();
    if let Some(method) = f.method.filter(|m| *m != "GET") {
        parts.push(method.to_string());
    }
    if let Some(e) = &f.expect {
        parts.push(tr!(lang, "kind-expect", expect = esc(e)));
    }
    if let Some(k) = &f.keyword {
        parts.push(tr!(lang, "kind-keyword", keyword = esc(k)));
    }
    if let Some(d) = f.degraded {
        parts.push(tr!(lang, "kind-degraded", limit = every(lang, d)));
    }
    if m.target.starts_with("https://") {
        if let Some(days) = f.cert_days {
            parts.push(tr!(lang, "kind-cert-days", days = days));
        }
    }
    if f.tls_verify == Some(false) {
        parts.push(tr!(lang, "kind-tls-off"));
    }
    if f.record_type.is_some() && f.server.is_none() {
        parts.push(tr!(lang, "kind-system-resolver"));
    }
    if parts.is_empty() {
        return String::new();
    }
    format!("\n{}", parts.join(" · "))
}

fn stats_lines(lang: Lang, st: &StatsSummary) -> String {
    let rtt = match (st.rtt_min_ms, st.rtt_avg_ms, st.rtt_max_ms) {
        (Some(a), Some(b), Some(c)) => tr!(
            lang,
            "stats-rtt-values",
            min = ms(lang, a),
            avg = ms(lang, b),
            max = ms(lang, c)
        ),
        _ => tr!(lang, "stats-none-yet"),
    };
    let rtt = tr!(lang, "stats-rtt", rtt = rtt);
    if st.probes == 0 {
        return format!("\n{rtt}\n{}", tr!(lang, "stats-no-probes"));
    }
    let pct = |v: f64| i18n::decimal(lang, &crate::pictures::page::pct(Some(v)));
    let loss = i18n::decimal(lang, &format!("{:.1}", st.loss_pct));
    match (st.uptime_24h_pct, st.uptime_7d_pct, st.uptime_30d_pct) {
        // From the history: the share of the time that was not DOWN.
        (Some(d), Some(w), Some(m)) => format!(
            "\n{rtt}\n{}\n{}",
            tr!(lang, "stats-loss-of", loss = loss, probes = st.probes),
            tr!(lang, "stats-uptime", day = pct(d), week = pct(w), month = pct(m))
        ),
        _ => format!(
            "\n{rtt}\n{}",
            tr!(
                lang,
                "stats-loss-uptime",
                loss = loss,
                uptime = i18n::decimal(lang, &format!("{:.2}", st.uptime_pct)),
                probes = st.probes
            )
        ),
    }
}

/// What a button press that worked says: the short notice (`answerCallbackQuery`,
/// plain text) and the line added to the alert.
pub fn pressed(r: &Reply, by: &str, style: &Style, now_ms: u64) -> (String, String) {
    let lang = style.lang;
    let by = esc(by);
    match r {
        Reply::Acked(_) => (tr!(lang, "press-acked-toast"), tr!(lang, "press-acked-line", by = by)),
        Reply::Muted(v) => {
            let until = until_ms(&v.muted_until).map_or_else(|| esc(&v.muted_until), |u| until_text(lang, u, now_ms));
            (
                tr!(lang, "press-muted-toast", until = strip_html(&until)),
                tr!(lang, "press-muted-line", by = by, until = until),
            )
        }
        Reply::Paused(m) => (
            tr!(lang, "press-paused-toast"),
            tr!(
                lang,
                "press-paused-line",
                by = by,
                cmd = style.cmd("resume"),
                id = m.id.to_string()
            ),
        ),
        other => (
            tr!(lang, "press-done-toast"),
            tr!(lang, "press-done-line", by = by, reply = reply(other, style, now_ms)),
        ),
    }
}

/// Reply to a failed command, in `lang`.
pub fn error(e: &CoreError, lang: Lang) -> String {
    match e {
        CoreError::PermissionDenied(m) => format!("⛔ {}", esc(&m.render(lang))),
        CoreError::Internal(_) => tr!(lang, "err-internal-chat"),
        other => match other.message() {
            Some(m) => format!("⚠️ {}", esc(&m.render(lang))),
            None => format!("⚠️ {}", esc(&other.to_string())),
        },
    }
}

/// The menu line of a command: what it does, in `lang` (the catalogue's `cmd-<name>`;
/// English is the core's own `about`).
pub fn about(lang: Lang, name: &str) -> String {
    i18n::text(lang, &format!("cmd-{name}"), None)
}

/// `/help` and `/start`: one line per command of the core ([`crate::core::SPECS`]),
/// the options `/add` takes (read from its input type), and examples.
pub fn help(style: &Style, greeting: bool) -> String {
    let lang = style.lang;
    let c = |n: &str| style.cmd(n);
    let mut out = String::new();
    if greeting {
        out.push_str(&tr!(lang, "help-greeting"));
        out.push_str("\n\n");
    }
    out.push_str(&tr!(lang, "help-commands"));
    for spec in crate::core::SPECS {
        let args = if spec.args.is_empty() {
            String::new()
        } else {
            format!(" {}", esc(spec.args))
        };
        out.push_str(&format!("\n{}{args}: {}", c(spec.name), esc(&about(lang, spec.name))));
    }
    out.push_str(&format!("\n{}: {}", c("chatid"), esc(&about(lang, "chatid"))));
    out.push('\n');
    out.push_str(&tr!(
        lang,
        "help-options",
        cmd = c("add"),
        keys = crate::core::AddRequest::chat_keys().join(", ")
    ));
    out.push('\n');
    out.push_str(&tr!(lang, "help-examples", cmd = c("add")));
    if !style.suffix.is_empty() {
        out.push('\n');
        out.push_str(&tr!(lang, "help-groups"));
    }
    out
}

/// `/chatid`.
pub fn chat_id(lang: Lang, chat_id: i64, thread: Option<i32>) -> String {
    match thread {
        Some(t) => tr!(lang, "chat-id-topic", id = chat_id.to_string(), topic = t.to_string()),
        None => tr!(lang, "chat-id", id = chat_id.to_string()),
    }
}

/// The one reply a chat outside the allow-list gets.
pub fn not_allowed(lang: Lang, chat_id: i64) -> String {
    tr!(lang, "not-allowed", id = chat_id.to_string())
}

/// Reply to an unknown command.
pub fn unknown_command(cmd: &str, style: &Style) -> String {
    let cmds: Vec<String> = ["add", "del", "list", "status", "pause", "resume"]
        .iter()
        .map(|c| style.cmd(c))
        .collect();
    tr!(
        style.lang,
        "unknown-command",
        cmd = esc(cmd),
        cmds = cmds.join(" "),
        help = style.cmd("help")
    )
}

/// Reply to a command that sat in Telegram's queue while upbot was down.
pub fn stale(lang: Lang, cmd: &str, age: Duration) -> String {
    tr!(lang, "stale", cmd = esc(cmd), ago = human_in(lang, age))
}

/// Usage line of a command that takes a monitor.
pub fn usage_selector(cmd: &str, style: &Style) -> String {
    tr!(
        style.lang,
        "usage-selector",
        cmd = style.cmd(cmd),
        list = style.cmd("list")
    )
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
        assert!(h.contains("/add@mon_bot &lt;host|host:port|URL&gt;"), "{h}");
        assert!(h.contains("/rotate@mon_bot &lt;id&gt;: new webhook URLs"), "{h}");
        assert!(h.contains("options: kind, port, interval"), "{h}");
        assert!(h.contains("sign_heartbeats"), "{h}");
        assert!(not_allowed(Lang::En, -1001).contains("<code>-1001</code>"));
        assert!(not_allowed(Lang::En, -1001).contains("UPBOT_ALLOWED_CHATS"));
        assert_eq!(
            error(&CoreError::Validation("unknown option \"<x>\"".into()), Lang::En),
            "⚠️ unknown option \"&lt;x&gt;\""
        );
    }

    fn view(state: State, reason: &str) -> MonitorView {
        MonitorView {
            state,
            reason: reason.into(),
            ..MonitorView::sample()
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
                packets_sent: 2880,
                packets_lost: 36,
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

    /// A reminder of #7 db, DOWN for 30 min since 00:16:40 UTC.
    fn reminder(reason: &str) -> Alert {
        let mut rem = alert(7, "db", "10.0.0.5", State::Down, State::Down, reason, Some(1_800_000));
        rem.notice = Notice::Reminder;
        rem.transition.at_ms = 1_000_000 + 1_800_000;
        rem
    }

    #[test]
    fn reminders_parents_mute_ends_and_notices_read_well() {
        let rem = reminder("connection refused");
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
        // Cluster mode: a site stops reporting, and is back.
        for (lost, want) in [
            (
                true,
                "📡 Site <b>fra</b> stopped reporting; verdicts count the 2 other sites until it is back.",
            ),
            (false, "📡 Site <b>fra</b> reports again; verdicts count it again."),
        ] {
            let mut site = alert(7, "db", "10.0.0.5", State::Up, State::Up, "", None);
            site.notice = Notice::Site {
                site: "fra".into(),
                lost,
                counting: 2,
            };
            let rows: HashMap<u64, &Alert> = [(6, &site)].into_iter().collect();
            let c = plan_chunks(
                &planned(&[(6, 0)], Section::Info, false, &[6]),
                &rows,
                &style,
                1_000_000,
            );
            assert_eq!(c[0].html, want);
        }
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
    fn ping_status_shows_packets_and_the_window_and_list_a_degraded_loss() {
        let mut m = view(State::Degraded, "27% loss over the last 20 probes");
        (m.kind, m.target, m.port, m.interval) = (Kind::Ping, "10.8.0.1".into(), None, 5.0);
        (m.retries, m.loss, m.window) = (Some(2), Some(LossLimit::Pct(20)), Some(20));
        (m.window_loss_pct, m.window_probes) = (Some(Some(26.9)), Some(20));
        let stats = StatsSummary {
            probes: 720,
            loss_pct: 1.0,
            uptime_pct: 99.0,
            rtt_min_ms: Some(28.1),
            rtt_avg_ms: Some(31.0),
            rtt_max_ms: Some(48.3),
            packets_sent: 1000,
            packets_lost: 290,
            ..StatsSummary::default()
        };
        let s = StatusView {
            monitor: m.clone(),
            stats,
        };
        let text = reply(
            &Reply::Status(Box::new(s)),
            &Style::new("mon_bot", true),
            1_000_000 + 60_000,
        );
        assert_eq!(
            text,
            "🟡 #7 <b>db_main</b> (10.8.0.1) is <b>DEGRADED</b> since 1970-01-01 00:16:40 UTC (1m)\n\
             reason: 27% loss over the last 20 probes\n\
             ping 10.8.0.1 · every 5s · timeout 2s · fails 3 · recovers 2\n\
             retries 2 · DEGRADED from 20% loss over 20 probes\n\
             RTT min/avg/max (24 h): 28.1 / 31.0 / 48.3 ms\n\
             loss: 1.0% · uptime (24 h): 99.00% · 720 probes\n\
             packets (24 h): 1000 sent, 290 lost (29%)\n\
             last 20 probes: 27% loss"
        );
        let list = reply(&Reply::List(vec![m.clone()]), &Style::new("mon_bot", true), 0);
        assert!(
            list.ends_with("🟡 #7 <b>db_main</b> DEGRADED · ping 10.8.0.1 · every 5s · 1.23 ms · 27% loss"),
            "{list}"
        );
        // UP: no loss figure in the list; loss=off reads so in /status.
        m.state = State::Up;
        m.loss = Some(LossLimit::Off);
        let list = reply(&Reply::List(vec![m.clone()]), &Style::new("mon_bot", true), 0);
        assert!(list.ends_with("every 5s · 1.23 ms"), "{list}");
        let s = StatusView {
            monitor: m,
            stats: StatsSummary::default(),
        };
        let text = reply(&Reply::Status(Box::new(s)), &Style::new("mon_bot", true), 1_000_000);
        assert!(text.contains("\nretries 2 · DEGRADED for loss: off\n"), "{text}");
        assert!(!text.contains("packets"), "{text}");
        let en = |v| pct(Lang::En, v);
        assert_eq!(
            (en(0.0), en(3.4), pct(Lang::Ru, 3.4), en(26.9), en(100.0)),
            ("0".into(), "3.4".into(), "3,4".into(), "27".into(), "100".into())
        );
    }

    #[test]
    fn ping_status_and_list_in_the_chats_language() {
        let mut m = view(State::Degraded, "27% loss over the last 20 probes");
        (m.kind, m.target, m.port, m.interval) = (Kind::Ping, "10.8.0.1".into(), None, 5.0);
        (m.retries, m.loss, m.window) = (Some(2), Some(LossLimit::Pct(20)), Some(20));
        (m.window_loss_pct, m.window_probes) = (Some(Some(26.9)), Some(21));
        let stats = StatsSummary {
            probes: 720,
            loss_pct: 1.0,
            uptime_pct: 99.0,
            packets_sent: 1000,
            packets_lost: 34,
            ..StatsSummary::default()
        };
        let s = StatusView {
            monitor: m.clone(),
            stats,
        };
        let ru = Style::new("mon_bot", true).in_lang(Lang::Ru);
        let text = reply(&Reply::Status(Box::new(s)), &ru, 1_000_000 + 60_000);
        for line in [
            "причина: потери 27% за последние 20 проверок",
            "повторов 2 · DEGRADED от 20% потерь за 20 проверок",
            "пакеты (24 ч): отправлено 1000, потеряно 34 (3,4%)",
            "последняя 21 проверка: потери 27%",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} in {text}");
        }
        let ko = Style::new("mon_bot", true).in_lang(Lang::Ko);
        let list = reply(&Reply::List(vec![m]), &ko, 0);
        assert!(list.ends_with("· 손실 27%"), "{list}");
    }

    #[test]
    fn storms_reminders_notices_and_presses_speak_the_chats_language() {
        let alerts: Vec<(u64, Alert)> = (0..30)
            .map(|i| {
                let a = alert(
                    i,
                    &format!("web-{i:02}"),
                    "10.0.0.1",
                    State::Up,
                    State::Down,
                    "connection refused",
                    None,
                );
                (i, a)
            })
            .collect();
        let rows: HashMap<u64, &Alert> = alerts.iter().map(|(k, a)| (*k, a)).collect();
        let keys: Vec<u64> = (0..30).collect();
        let lines: Vec<(u64, usize)> = keys.iter().map(|k| (*k, 0)).collect();
        let ru = Style::new("mon_bot", false).in_lang(Lang::Ru);
        let c = plan_chunks(&planned(&lines, Section::Alerts, true, &keys), &rows, &ru, 1_000_000);
        let html = &c[0].html;
        assert!(html.starts_with("🚨 <b>30 изменений</b>: 30 DOWN\n"), "{html}");
        assert!(
            html.contains("🔴 <b>DOWN</b> #0 <b>web-00</b> (10.0.0.1): соединение отклонено · в 00:16:40 UTC"),
            "{html}"
        );
        let shown = html.lines().count() - 2;
        assert_eq!(
            html.lines().last().unwrap(),
            format!(
                "… и ещё {} · /list@mon_bot down покажет все мониторы не в UP",
                30 - shown
            )
        );

        let rem = reminder("3 of 3 pings lost");
        let mut acked = alert(7, "db", "10.0.0.5", State::Down, State::Down, "", None);
        acked.notice = Notice::Acked {
            by: "the operator".into(),
            reason: None,
        };
        let rows: HashMap<u64, &Alert> = [(1, &rem), (2, &acked)].into_iter().collect();
        let one = |style: &Style, key: u64, section| {
            plan_chunks(&planned(&[(key, 0)], section, false, &[key]), &rows, style, 2_800_000)[0]
                .html
                .clone()
        };
        let ko = Style::new("mon_bot", true).in_lang(Lang::Ko);
        assert_eq!(
            one(&ko, 1, Section::Alerts),
            "⏰ 30분째 <b>DOWN</b> · #7 <b>db</b> (10.0.0.5): 핑 3개 중 3개 손실 · 00:16:40 UTC부터"
        );
        let pt = Style::new("mon_bot", true).in_lang(Lang::Pt);
        assert_eq!(
            one(&pt, 2, Section::Info),
            "✅ #7 <b>db</b> (10.0.0.5) (DOWN): o operador assumiu. Sem lembretes até se recuperar."
        );
        let m = view(State::Down, "refused");
        assert_eq!(
            pressed(&Reply::Acked(m), "Ann", &ru, 0),
            (
                "✅ Взято в работу. Напоминаний не будет, пока не восстановится.".to_string(),
                "✅ В работе у Ann".to_string()
            )
        );
        let up = reply(&Reply::List(vec![view(State::Up, "")]), &ko, 0);
        assert_eq!(
            up,
            "<b>모니터 1개</b>\n🟢 #7 <b>db_main</b> UP · tcp db.lan:5432 · 30초마다 · 1.23ms"
        );
        let list = reply(&Reply::List(vec![view(State::Up, "")]), &ru, 0);
        assert!(list.ends_with("UP · tcp db.lan:5432 · каждые 30 с · 1,23 мс"), "{list}");
    }

    #[test]
    fn status_of_http_and_dns_monitors_shows_their_settings() {
        let stats = StatsSummary {
            probes: 0,
            loss_pct: 0.0,
            uptime_pct: 0.0,
            rtt_min_ms: None,
            rtt_avg_ms: None,
            rtt_max_ms: None,
            packets_sent: 0,
            packets_lost: 0,
            uptime_24h_pct: None,
            uptime_7d_pct: None,
            uptime_30d_pct: None,
        };
        let mut m = view(State::Degraded, "certificate expires in 5 days");
        m.kind = Kind::Http;
        m.target = "https://example.com/health".into();
        m.settings = crate::core::view::KindFields {
            url: Some(m.target.clone()),
            method: Some("GET"),
            expect: Some("200-299".into()),
            keyword: Some("ok".into()),
            degraded: Some(0.8),
            cert_days: Some(14),
            tls_verify: Some(true),
            ..Default::default()
        };
        let text = status(
            Lang::En,
            &StatusView {
                monitor: m,
                stats: stats.clone(),
            },
            1_000_000,
        );
        assert!(text.contains("reason: certificate expires in 5 days\n"), "{text}");
        assert!(
            text.contains(
                "http https://example.com/health · every 30s · timeout 2s · fails 3 · recovers 2\n\
                 expect 200-299 · keyword ok · degraded above 800ms · certificate warning 14 days before expiry\n"
            ),
            "{text}"
        );
        let mut d = view(State::Up, "");
        d.kind = Kind::Dns;
        d.target = "example.com MX".into();
        d.settings = crate::core::view::KindFields {
            record_type: Some("MX"),
            expect: Some("mail.example.com".into()),
            ..Default::default()
        };
        let text = status(Lang::En, &StatusView { monitor: d, stats }, 1_000_000);
        assert!(
            text.contains("dns example.com MX · every 30s · timeout 2s · fails 3 · recovers 2\nexpect mail.example.com · system resolver\n"),
            "{text}"
        );
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
