//! On-call decisions: acks, mutes, reminders, parent/child suppression, storm grouping
//! and quiet recoveries. Pure (time is passed in, every input is plain data), so each
//! rule has a table test.
//!
//! Where these decisions are applied, and why there: the engines (scheduler, push)
//! stay as they are and commit each announced transition with its alert to the
//! durable outbox. The decisions are taken where alerts leave the outbox: a chat's
//! sender reads the chat's queued rows and asks [`plan`] what to do with them, now:
//!
//! - **fold** a row (remove it without a message): a monitor held by a mute, a
//!   reminder that is no longer due (acked or muted meanwhile), a child's DOWN while
//!   its parent is already DOWN;
//! - **send** it in one of the planned [`Message`]s (a child's DOWN counted in its
//!   parent's line, "+ 3 behind it"; many changes at once as one storm summary);
//! - **leave it for later** ([`Plan::later_ms`]): a child's DOWN while its parent is
//!   still counting its own failures, or a storm still arriving.
//!
//! Taking the decision at send time rather than at verdict time is what makes mutes,
//! acks and parents apply to alerts already queued (a mute typed during a storm holds
//! the rest of it), and keeps the engines free of chat concerns. "Held by a mute"
//! means folded: the mute itself is durable, and so is each monitor's last announced
//! state ([`OnCall::announced`], recorded when a message is delivered), so when the
//! mute ends (at its time, by `/unmute`, or at the first start after it expired) the
//! end-of-mute message compares the live state with the last one announced
//! ([`mute_end_changes`]) and a restart loses nothing.

use crate::i18n::{Msg, msg};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::monitor::{MonitorId, opt_ms};
use super::state::{Health, State};

/// Shortest reminder period (`remind=`, `/remind`).
pub const MIN_REMIND: Duration = Duration::from_secs(10);
/// Longest reminder period.
pub const MAX_REMIND: Duration = Duration::from_secs(30 * 86_400);
/// Longest mute.
pub const MAX_MUTE: Duration = Duration::from_secs(366 * 86_400);
/// The mute a button under an alert sets.
pub const BUTTON_MUTE: Duration = Duration::from_secs(3600);
/// Longest ack or mute reason kept.
pub const MAX_REASON: usize = 200;
/// A batch with more alert lines than this is a storm: one summary message.
pub const STORM_AT: usize = 20;
/// Lines a storm summary shows at most (then `… and N more`).
pub const STORM_NAMES: usize = 10;
/// A storm still arriving is gathered until no new change came for this long…
pub const GATHER_QUIET_MS: u64 = 600;
/// …but never longer than this after its first change.
pub const GATHER_MAX_MS: u64 = 2_500;
/// A child's DOWN waits at most this long for its parent's verdict.
pub const PARENT_WAIT_MAX_MS: u64 = 10 * 60_000;
/// Slack added to a parent's verdict time (probe jitter, the sender's linger).
pub const PARENT_WAIT_SLACK_MS: u64 = 1_500;
/// A parent's DOWN waits at most this long for children that are failing too, so one
/// message tells the whole outage ("+ 3 behind it") instead of the parent alone first.
/// Short: a parent's alert is the one that pages.
pub const CHILD_WAIT_MAX_MS: u64 = 15_000;
/// Deepest parent chain followed (chains are checked for cycles at `add`).
pub const MAX_DEPTH: usize = 16;

/// An acknowledgement: someone is on it. Valid for the incident it was given in
/// ([`ack_active`]); a recovery ends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Who acked (a chat user's name, or `operator`).
    pub by: String,
    /// Why, as they wrote it.
    #[serde(default)]
    pub reason: Option<String>,
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// The incident it belongs to ([`incident_ms`] when it was given).
    pub incident_ms: u64,
}

/// A mute: alerts are held until `until_ms` (probing goes on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mute {
    /// End of the mute, ms since the epoch.
    pub until_ms: u64,
    /// Who muted.
    pub by: String,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
    /// When, ms since the epoch.
    pub at_ms: u64,
}

impl Mute {
    /// Whether the mute holds alerts at `now_ms`.
    pub fn active(&self, now_ms: u64) -> bool {
        now_ms < self.until_ms
    }
}

/// What upbot keeps about one monitor for the people on call. Every field has a
/// default, so records written by older builds (or none at all) read as "nothing".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnCall {
    /// While this monitor is DOWN, this one's DOWN is not sent on its own.
    #[serde(default)]
    pub parent: Option<MonitorId>,
    /// Remind every this long while DOWN (neither acked nor muted).
    #[serde(default, with = "opt_ms")]
    pub remind: Option<Duration>,
    /// The current incident's ack.
    #[serde(default)]
    pub ack: Option<Ack>,
    /// This monitor's own mute (`/mute <id>`).
    #[serde(default)]
    pub mute: Option<Mute>,
    /// The last state the chat was told (delivered, or counted in a parent's alert).
    #[serde(default)]
    pub announced: Option<State>,
    /// Its last announced DOWN was counted in this parent's alert (so its recovery is
    /// counted in the parent's too, when they come together).
    #[serde(default)]
    pub covered_by: Option<MonitorId>,
    /// When the last reminder was queued, ms since the epoch.
    #[serde(default)]
    pub reminded_ms: Option<u64>,
}

/// One chat's settings. Every field has a serde default, so a field added later (the
/// chat's language) reads older records as its default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatSettings {
    /// UP and recovery messages arrive without sound.
    #[serde(default)]
    pub quiet: bool,
    /// `/mute all`: every monitor of the chat is held.
    #[serde(default)]
    pub mute_all: Option<Mute>,
    /// The chat's language (`/lang`, or the first command's sender's); `None`: not
    /// decided yet (English meanwhile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<crate::i18n::Lang>,
}

/// What an outbox row announces. Rows written before this existed are changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// A state change (the transition).
    #[default]
    Change,
    /// Still DOWN (the transition's `down_for_ms` says for how long).
    Reminder,
    /// A mute ended: `from` is the last state announced, `to` the state now.
    MuteEnded {
        /// It was `/mute all`.
        all: bool,
        /// The state differs from the last one announced (false: the one row that
        /// says nothing changed).
        changed: bool,
    },
    /// Acked through the API: the chat is told who and why.
    Acked {
        /// Who.
        by: String,
        /// Why.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Muted through the API: the chat is told who, until when and why.
    Muted {
        /// Who.
        by: String,
        /// Until, ms since the epoch.
        until_ms: u64,
        /// Why.
        #[serde(default)]
        reason: Option<String>,
        /// `all`.
        all: bool,
    },
    /// Cluster mode: a site stopped reporting (`lost`) or reports again; told once to
    /// each chat whose monitors it probes.
    Site {
        /// The site.
        site: String,
        /// It stopped reporting (false: it is back).
        lost: bool,
        /// How many sites the verdicts count now.
        counting: u32,
    },
}

impl Notice {
    /// Whether this is a plain state change (the default, not written to disk).
    pub fn is_change(&self) -> bool {
        matches!(self, Notice::Change)
    }
}

/// The incident a state belongs to: its start for DOWN (the outage, across a
/// DOWN → DEGRADED → DOWN wobble) and DEGRADED; `None` when there is no incident.
pub fn incident_ms(h: &Health) -> Option<u64> {
    match h.state {
        State::Down | State::Degraded => Some(h.down_since_ms.unwrap_or(h.since_ms)),
        _ => None,
    }
}

/// Why an ack is refused, or the incident it acks.
pub fn ack_check(h: &Health) -> Result<u64, Msg> {
    incident_ms(h).ok_or_else(|| {
        // DOWN, UP, DEGRADED stay Latin everywhere; PENDING and PAUSED are translated.
        let state = match h.state {
            State::Pending => Msg::new("state-pending"),
            State::Paused => Msg::new("state-paused"),
            s => Msg::raw(s.as_str().to_uppercase()),
        };
        msg!("err-ack-state", state = state)
    })
}

/// Whether `ack` still holds: the monitor is still in the incident it was given in
/// (a recovery, or a new outage after one, ends it even if nobody cleared it).
pub fn ack_active(ack: Option<&Ack>, h: &Health) -> bool {
    ack.is_some_and(|a| incident_ms(h) == Some(a.incident_ms))
}

/// The mute holding a monitor at `now_ms`: its own, or its chat's `all`.
pub fn active_mute<'a>(own: Option<&'a Mute>, chat: Option<&'a Mute>, now_ms: u64) -> Option<&'a Mute> {
    let own = own.filter(|m| m.active(now_ms));
    let chat = chat.filter(|m| m.active(now_ms));
    match (own, chat) {
        (Some(a), Some(b)) => Some(if a.until_ms >= b.until_ms { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// What the reminder clock should do about one monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reminder {
    /// Nothing to remind (not DOWN, no `remind`, acked or muted).
    None,
    /// Remind now: it has been DOWN for this long.
    Now(Duration),
    /// The next reminder is due then (ms since the epoch).
    At(u64),
}

/// Whether a reminder is due: the monitor is DOWN, has `remind`, is neither acked nor
/// muted, and `remind` has passed since the outage began or the last reminder
/// (whichever is later; a restart after a long stop gives one reminder, not a burst).
pub fn reminder(rec: &OnCall, h: &Health, muted: bool, now_ms: u64) -> Reminder {
    let (Some(every), Some(since)) = (rec.remind, h.down_since_ms) else {
        return Reminder::None;
    };
    if h.state != State::Down || muted || ack_active(rec.ack.as_ref(), h) {
        return Reminder::None;
    }
    let base = since.max(rec.reminded_ms.unwrap_or(0));
    let due = base.saturating_add(u64::try_from(every.as_millis()).unwrap_or(u64::MAX));
    if now_ms >= due {
        Reminder::Now(Duration::from_millis(now_ms.saturating_sub(since)))
    } else {
        Reminder::At(due)
    }
}

/// One monitor at the end of a mute: its live state and the last one announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuteEndInput {
    /// The monitor.
    pub monitor: MonitorId,
    /// Its state now.
    pub now: State,
    /// The last state the chat was told (`None`: never told anything).
    pub announced: Option<State>,
}

/// The monitors whose state now differs from the last one announced, with (from, to).
/// Pending and paused monitors have nothing to announce (pause is never announced).
pub fn mute_end_changes(items: &[MuteEndInput]) -> Vec<(MonitorId, State, State)> {
    items
        .iter()
        .filter(|i| !matches!(i.now, State::Pending | State::Paused))
        .filter(|i| i.announced != Some(i.now))
        .map(|i| (i.monitor, i.announced.unwrap_or(State::Pending), i.now))
        .collect()
}

/// The state a monitor was last announced in, for a mute starting now when nothing was
/// recorded yet: the `from` of its oldest queued change if one waits (the chat has not
/// heard it yet), else its state now.
pub fn baseline(oldest_queued_from: Option<State>, now: State) -> State {
    oldest_queued_from.unwrap_or(now)
}

/// Checks that `parent` can be the parent of `child`: the chain above `parent`
/// (followed through `parent_of`) must not reach `child` nor loop, and must stay within
/// [`MAX_DEPTH`]. The error names the chain.
pub fn check_parent(
    child: MonitorId,
    parent: MonitorId,
    parent_of: impl Fn(MonitorId) -> Option<MonitorId>,
) -> Result<(), Msg> {
    let mut chain = vec![child, parent];
    let mut at = parent;
    loop {
        if at == child || chain[..chain.len() - 1].contains(&at) {
            let path: Vec<String> = chain.iter().map(|id| format!("#{id}")).collect();
            return Err(msg!(
                "err-parent-cycle",
                id = parent.to_string(),
                path = path.join(" → ")
            ));
        }
        let Some(next) = parent_of(at) else {
            return Ok(());
        };
        if chain.len() > MAX_DEPTH {
            return Err(msg!("err-parent-depth", max = MAX_DEPTH));
        }
        chain.push(next);
        at = next;
    }
}

/// One queued outbox row, as far as the decisions need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<'a> {
    /// Outbox key.
    pub key: u64,
    /// The monitor.
    pub monitor: MonitorId,
    /// Forum topic it goes to.
    pub thread: Option<i32>,
    /// What it announces.
    pub notice: &'a Notice,
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// When the change happened (reminders: when queued), ms since the epoch.
    pub at_ms: u64,
}

/// What the sender knows about a monitor's parent right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParentFacts {
    /// The parent.
    pub id: MonitorId,
    /// Its live state.
    pub state: State,
    /// The state its current streak of probe results is counting toward, when that
    /// differs from its state (it is failing but not DOWN yet, or recovering).
    pub heading: Option<State>,
    /// How long it takes the parent to reach a DOWN verdict (fails × interval + timeout).
    pub down_ms: u64,
    /// How long it takes the parent to reach an UP verdict (recovers × interval + timeout).
    pub up_ms: u64,
}

/// What the sender knows about one monitor right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// A mute (its own or the chat's) holds its alerts.
    pub muted: bool,
    /// Its current incident is acked.
    pub acked: bool,
    /// Its last announced DOWN was counted in its parent's alert.
    pub covered: bool,
    /// Its parent, if it has one that still exists.
    pub parent: Option<ParentFacts>,
    /// The longest time one of its children that is failing but not DOWN yet needs
    /// for its verdict (fails × interval + timeout); 0 when none is failing.
    pub children_failing_ms: u64,
}

/// What a planned message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Acks and mutes made through the API.
    Info,
    /// The end of a mute: what changed meanwhile.
    MuteEnded {
        /// It was `/mute all`.
        all: bool,
    },
    /// State changes and reminders.
    Alerts,
}

/// One line of a planned message: a row, and how many children it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    /// The row's outbox key.
    pub key: u64,
    /// Children whose same change is counted in this line ("+ 3 behind it").
    pub behind: usize,
}

/// What the chat is told about a monitor once a message is delivered (or a row folded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// The monitor.
    pub monitor: MonitorId,
    /// The state announced.
    pub state: State,
    /// Announced as counted in this parent's line.
    pub covered_by: Option<MonitorId>,
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Forum topic.
    pub thread: Option<i32>,
    /// What it is.
    pub section: Section,
    /// Every row it accounts for (removed from the outbox once delivered).
    pub keys: Vec<u64>,
    /// The lines, most severe first in a storm, else in the order they happened.
    pub lines: Vec<Line>,
    /// More lines than [`STORM_AT`]: a summary (counts, the first names, `… and N more`).
    pub storm: bool,
    /// Sent without sound (quiet chat, and nothing in it is a problem).
    pub silent: bool,
    /// The monitor its buttons act on (a DOWN/DEGRADED message about one monitor).
    pub buttons: Option<MonitorId>,
    /// What the chat has been told once it is delivered.
    pub marks: Vec<Mark>,
}

/// What to do with a chat's queued rows now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Rows to remove without a message.
    pub fold: Vec<u64>,
    /// What folded rows announced (a child counted under a parent already DOWN).
    pub fold_marks: Vec<Mark>,
    /// Messages to send, in order.
    pub messages: Vec<Message>,
    /// Some rows wait: look again at this time (ms since the epoch).
    pub later_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Fold,
    Send,
    /// Counted in the line of the row with this key.
    Counted(u64),
    Defer(u64),
}

fn is_problem(to: State) -> bool {
    matches!(to, State::Down | State::Degraded)
}

fn severity(notice: &Notice, to: State) -> u8 {
    match (notice, to) {
        (Notice::Change, State::Down) => 0,
        (Notice::Reminder, _) => 1,
        (Notice::Change, State::Degraded) => 2,
        _ => 3,
    }
}

/// Decides what to do now with the queued rows of one chat (oldest first).
/// `facts` answers for any monitor (unknown ones: [`Facts::default`]).
pub fn plan(rows: &[Row<'_>], facts: impl Fn(MonitorId) -> Facts, quiet: bool, now_ms: u64) -> Plan {
    let facts_of: HashMap<MonitorId, Facts> = rows.iter().map(|r| (r.monitor, facts(r.monitor))).collect();
    let f = |id: MonitorId| facts_of.get(&id).copied().unwrap_or_default();
    let mut fates: Vec<Fate> = Vec::with_capacity(rows.len());
    let mut p = Plan::default();
    let later = |p: &mut Plan, at: u64| p.later_ms = Some(p.later_ms.map_or(at, |l| l.min(at)));

    // 1. What holds a row on its own: a mute, an ack (reminders only).
    for r in rows {
        let fx = f(r.monitor);
        let fate = match r.notice {
            Notice::Change if fx.muted => Fate::Fold,
            Notice::Reminder if fx.muted || fx.acked => Fate::Fold,
            _ => Fate::Send,
        };
        fates.push(fate);
    }
    // 2. Children: counted in their parent's line, folded under a parent already DOWN,
    // or waiting for the parent's verdict.
    let index: HashMap<u64, usize> = rows.iter().enumerate().map(|(i, r)| (r.key, i)).collect();
    for i in 0..rows.len() {
        let r = &rows[i];
        if fates[i] != Fate::Send || !r.notice.is_change() {
            continue;
        }
        let fx = f(r.monitor);
        let Some(parent) = fx.parent else { continue };
        let down = r.to == State::Down;
        let up_after_cover = r.to == State::Up && fx.covered;
        if !(down || up_after_cover) {
            continue;
        }
        // The parent's own row with the same change in this batch (the last one).
        let same = rows
            .iter()
            .rposition(|o| o.monitor == parent.id && o.notice.is_change() && o.to == r.to && o.key != r.key);
        fates[i] = match same {
            Some(j) if fates[j] != Fate::Fold => Fate::Counted(rows[j].key),
            _ if down && parent.state == State::Down => {
                p.fold_marks.push(Mark {
                    monitor: r.monitor,
                    state: State::Down,
                    covered_by: Some(parent.id),
                });
                Fate::Fold
            }
            _ => {
                let (heading, wait) = if down {
                    (parent.heading == Some(State::Down), parent.down_ms)
                } else {
                    (
                        parent.state == State::Down && parent.heading == Some(State::Up),
                        parent.up_ms,
                    )
                };
                let until = r
                    .at_ms
                    .saturating_add(wait.saturating_add(PARENT_WAIT_SLACK_MS).min(PARENT_WAIT_MAX_MS));
                if heading && now_ms < until {
                    Fate::Defer(until)
                } else {
                    Fate::Send
                }
            }
        };
    }
    // 2b. A parent's DOWN whose children are failing too waits (briefly) for their
    // verdicts, so its one alert counts them rather than going out alone first.
    for (i, r) in rows.iter().enumerate() {
        let wait = f(r.monitor).children_failing_ms;
        if fates[i] != Fate::Send || !r.notice.is_change() || r.to != State::Down || wait == 0 {
            continue;
        }
        let until = r
            .at_ms
            .saturating_add(wait.saturating_add(PARENT_WAIT_SLACK_MS).min(CHILD_WAIT_MAX_MS));
        if now_ms < until {
            fates[i] = Fate::Defer(until);
        }
    }
    // Counted under a row that is itself counted (grandchildren): the top row counts it;
    // under a row that waits: it waits too.
    for i in 0..rows.len() {
        let mut hops = 0;
        while let Fate::Counted(k) = fates[i] {
            let Some(&j) = index.get(&k) else { break };
            match fates[j] {
                Fate::Counted(k2) if hops < MAX_DEPTH => {
                    fates[i] = Fate::Counted(k2);
                    hops += 1;
                }
                Fate::Defer(t) => fates[i] = Fate::Defer(t),
                _ => break,
            }
        }
    }
    for (i, r) in rows.iter().enumerate() {
        match fates[i] {
            Fate::Fold => p.fold.push(r.key),
            Fate::Defer(t) => later(&mut p, t),
            _ => {}
        }
    }
    // 3. A storm still arriving is gathered into one summary.
    let alert_rows: Vec<usize> = (0..rows.len())
        .filter(|&i| fates[i] == Fate::Send && matches!(rows[i].notice, Notice::Change | Notice::Reminder))
        .collect();
    let mut hold_alerts = false;
    if alert_rows.len() > STORM_AT {
        let changes = alert_rows.iter().filter(|&&i| rows[i].notice.is_change());
        let (oldest, newest) = changes.fold((u64::MAX, 0), |(lo, hi), &i| {
            (lo.min(rows[i].at_ms), hi.max(rows[i].at_ms))
        });
        if newest > 0 {
            let until = newest
                .saturating_add(GATHER_QUIET_MS)
                .min(oldest.saturating_add(GATHER_MAX_MS));
            if now_ms < until {
                hold_alerts = true;
                later(&mut p, until);
            }
        }
    }
    // 4. Messages, topic by topic (in the order topics first appear).
    let mut threads: Vec<Option<i32>> = Vec::new();
    for r in rows {
        if !threads.contains(&r.thread) {
            threads.push(r.thread);
        }
    }
    let mut behind: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, fate) in fates.iter().enumerate() {
        if let Fate::Counted(k) = fate {
            behind.entry(*k).or_default().push(i);
        }
    }
    for thread in threads {
        let in_thread = |i: &usize| rows[*i].thread == thread && fates[*i] == Fate::Send;
        let idx: Vec<usize> = (0..rows.len()).filter(in_thread).collect();
        // Info: acks and mutes made through the API.
        let info: Vec<usize> = idx
            .iter()
            .copied()
            .filter(|&i| {
                matches!(
                    rows[i].notice,
                    Notice::Acked { .. } | Notice::Muted { .. } | Notice::Site { .. }
                )
            })
            .collect();
        if !info.is_empty() {
            p.messages
                .push(message(rows, &info, &behind, Section::Info, quiet, Vec::new()));
        }
        // Mute ends, one message per kind of mute.
        let mut ends: BTreeMap<bool, Vec<usize>> = BTreeMap::new();
        for &i in &idx {
            if let Notice::MuteEnded { all, .. } = rows[i].notice {
                ends.entry(*all).or_default().push(i);
            }
        }
        for (all, ids) in ends {
            let marks = ids
                .iter()
                .filter(|&&i| matches!(rows[i].notice, Notice::MuteEnded { changed: true, .. }))
                .map(|&i| Mark {
                    monitor: rows[i].monitor,
                    state: rows[i].to,
                    covered_by: None,
                })
                .collect();
            p.messages
                .push(message(rows, &ids, &behind, Section::MuteEnded { all }, quiet, marks));
        }
        if hold_alerts {
            continue;
        }
        let mut alerts: Vec<usize> = idx
            .iter()
            .copied()
            .filter(|&i| matches!(rows[i].notice, Notice::Change | Notice::Reminder))
            .collect();
        if alerts.is_empty() {
            continue;
        }
        if alerts.len() > STORM_AT {
            alerts.sort_by_key(|&i| severity(rows[i].notice, rows[i].to));
        }
        let mut marks = Vec::new();
        for &i in &alerts {
            if rows[i].notice.is_change() {
                marks.push(Mark {
                    monitor: rows[i].monitor,
                    state: rows[i].to,
                    covered_by: None,
                });
            }
            for &c in behind.get(&rows[i].key).map(Vec::as_slice).unwrap_or_default() {
                let parent = (rows[c].to == State::Down).then_some(rows[i].monitor);
                marks.push(Mark {
                    monitor: rows[c].monitor,
                    state: rows[c].to,
                    covered_by: parent,
                });
            }
        }
        p.messages
            .push(message(rows, &alerts, &behind, Section::Alerts, quiet, marks));
    }
    p
}

fn message(
    rows: &[Row<'_>],
    lines: &[usize],
    behind: &HashMap<u64, Vec<usize>>,
    section: Section,
    quiet: bool,
    marks: Vec<Mark>,
) -> Message {
    let mut keys = Vec::new();
    let mut out = Vec::with_capacity(lines.len());
    for &i in lines {
        let counted = behind.get(&rows[i].key).map(Vec::as_slice).unwrap_or_default();
        keys.push(rows[i].key);
        keys.extend(counted.iter().map(|&c| rows[c].key));
        out.push(Line {
            key: rows[i].key,
            behind: counted.len(),
        });
    }
    keys.sort_unstable();
    let problem = |i: usize| match rows[i].notice {
        Notice::Change | Notice::MuteEnded { .. } => is_problem(rows[i].to),
        Notice::Reminder => true,
        Notice::Acked { .. } | Notice::Muted { .. } | Notice::Site { .. } => false,
    };
    let storm = lines.len() > STORM_AT;
    let buttons = match lines {
        [i] if !storm && problem(*i) && section != Section::Info => Some(rows[*i].monitor),
        _ => None,
    };
    Message {
        thread: rows[lines[0]].thread,
        section,
        keys,
        lines: out,
        storm,
        silent: quiet && !lines.iter().any(|&i| problem(i)),
        buttons,
        marks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(state: State, since: u64, down_since: Option<u64>) -> Health {
        Health {
            state,
            since_ms: since,
            down_since_ms: down_since,
            ..Health::new(0)
        }
    }

    #[test]
    fn acks_belong_to_their_incident() {
        let down = h(State::Down, 100, Some(100));
        assert_eq!(ack_check(&down), Ok(100));
        let deg_after_down = h(State::Degraded, 300, Some(100));
        assert_eq!(ack_check(&deg_after_down), Ok(100), "the same outage");
        assert_eq!(ack_check(&h(State::Degraded, 300, None)), Ok(300));
        for s in [State::Up, State::Pending, State::Paused] {
            let e = ack_check(&h(s, 1, None)).unwrap_err();
            assert!(e.to_string().contains("only a DOWN or DEGRADED monitor"), "{e}");
            assert!(e.to_string().contains(&s.as_str().to_uppercase()), "{e}");
        }
        let ack = Ack {
            by: "a".into(),
            reason: None,
            at_ms: 150,
            incident_ms: 100,
        };
        for (health, want) in [
            (down.clone(), true),
            (deg_after_down, true),
            (h(State::Up, 400, None), false),
            (h(State::Down, 500, Some(500)), false), // a new outage after a recovery
            (h(State::Paused, 500, None), false),
        ] {
            assert_eq!(ack_active(Some(&ack), &health), want, "{health:?}");
        }
        assert!(!ack_active(None, &down));
    }

    fn mute(until: u64) -> Mute {
        Mute {
            until_ms: until,
            by: "a".into(),
            reason: None,
            at_ms: 0,
        }
    }

    #[test]
    fn the_longer_of_a_monitors_and_its_chats_mute_holds() {
        let (a, b) = (mute(100), mute(200));
        for (own, chat, now, want) in [
            (None, None, 0, None),
            (Some(&a), None, 50, Some(100)),
            (Some(&a), None, 100, None),
            (None, Some(&b), 150, Some(200)),
            (Some(&a), Some(&b), 50, Some(200)),
            (Some(&b), Some(&a), 150, Some(200)),
            (Some(&a), Some(&b), 250, None),
        ] {
            assert_eq!(
                active_mute(own, chat, now).map(|m| m.until_ms),
                want,
                "{own:?} {chat:?} {now}"
            );
        }
    }

    #[test]
    fn reminders_while_down_neither_acked_nor_muted() {
        let every = Some(Duration::from_secs(60));
        let rec = |remind, reminded_ms, ack: Option<u64>| OnCall {
            remind,
            reminded_ms,
            ack: ack.map(|i| Ack {
                by: "a".into(),
                reason: None,
                at_ms: i,
                incident_ms: i,
            }),
            ..OnCall::default()
        };
        let down = h(State::Down, 1_000, Some(1_000));
        for (r, health, muted, now, want) in [
            (
                rec(every, None, None),
                down.clone(),
                false,
                30_000,
                Reminder::At(61_000),
            ),
            (
                rec(every, None, None),
                down.clone(),
                false,
                61_000,
                Reminder::Now(Duration::from_secs(60)),
            ),
            // the next one a period after the last, counted from the outage start
            (
                rec(every, Some(61_000), None),
                down.clone(),
                false,
                100_000,
                Reminder::At(121_000),
            ),
            (
                rec(every, Some(61_000), None),
                down.clone(),
                false,
                125_000,
                Reminder::Now(Duration::from_secs(124)),
            ),
            // after a long stop: one reminder, then a period after it
            (
                rec(every, Some(61_000), None),
                down.clone(),
                false,
                10_000_000,
                Reminder::Now(Duration::from_millis(9_999_000)),
            ),
            // a reminder of an earlier outage does not count for this one
            (
                rec(every, Some(500), None),
                down.clone(),
                false,
                30_000,
                Reminder::At(61_000),
            ),
            (rec(None, None, None), down.clone(), false, 99_000, Reminder::None),
            (
                rec(every, None, Some(1_000)),
                down.clone(),
                false,
                99_000,
                Reminder::None,
            ),
            // an ack of an earlier incident does not silence this one
            (
                rec(every, None, Some(7)),
                down.clone(),
                false,
                99_000,
                Reminder::Now(Duration::from_secs(98)),
            ),
            (rec(every, None, None), down, true, 99_000, Reminder::None),
            (
                rec(every, None, None),
                h(State::Up, 1_000, None),
                false,
                99_000,
                Reminder::None,
            ),
            (
                rec(every, None, None),
                h(State::Degraded, 1_000, None),
                false,
                99_000,
                Reminder::None,
            ),
        ] {
            assert_eq!(
                reminder(&r, &health, muted, now),
                want,
                "{r:?} {health:?} muted={muted} now={now}"
            );
        }
    }

    #[test]
    fn mute_end_names_only_what_differs_from_what_was_announced() {
        let m = |id, now, announced| MuteEndInput {
            monitor: MonitorId(id),
            now,
            announced,
        };
        let got = mute_end_changes(&[
            m(1, State::Down, Some(State::Up)),
            m(2, State::Up, Some(State::Up)),
            m(3, State::Up, Some(State::Down)),
            m(4, State::Up, None),
            m(5, State::Pending, None),
            m(6, State::Paused, Some(State::Up)),
            m(7, State::Degraded, Some(State::Down)),
        ]);
        assert_eq!(
            got,
            vec![
                (MonitorId(1), State::Up, State::Down),
                (MonitorId(3), State::Down, State::Up),
                (MonitorId(4), State::Pending, State::Up),
                (MonitorId(7), State::Down, State::Degraded),
            ]
        );
        assert_eq!(
            baseline(Some(State::Up), State::Down),
            State::Up,
            "the queued DOWN is unheard"
        );
        assert_eq!(baseline(None, State::Down), State::Down);
    }

    #[test]
    fn parents_refuse_cycles_and_long_chains() {
        let parents: HashMap<u64, u64> = [(2, 1), (3, 2), (5, 5)].into_iter().collect();
        let of = |id: MonitorId| parents.get(&id.0).map(|p| MonitorId(*p));
        assert_eq!(check_parent(MonitorId(9), MonitorId(3), of), Ok(()));
        let e = check_parent(MonitorId(1), MonitorId(3), of).unwrap_err();
        assert_eq!(e.to_string(), "parent=3 would make a cycle: #1 → #3 → #2 → #1");
        let e = check_parent(MonitorId(4), MonitorId(4), of).unwrap_err();
        assert_eq!(e.to_string(), "parent=4 would make a cycle: #4 → #4");
        assert!(
            check_parent(MonitorId(9), MonitorId(5), of)
                .unwrap_err()
                .to_string()
                .contains("cycle")
        );
        let long = |id: MonitorId| (id.0 < 100).then(|| MonitorId(id.0 + 1));
        assert!(
            check_parent(MonitorId(0), MonitorId(1), long)
                .unwrap_err()
                .to_string()
                .contains("16 levels")
        );
    }

    // ---- the sender's plan ----

    const CHANGE: Notice = Notice::Change;
    const REMIND: Notice = Notice::Reminder;

    fn row(key: u64, id: u64, notice: &Notice, from: State, to: State, at: u64) -> Row<'_> {
        Row {
            key,
            monitor: MonitorId(id),
            thread: None,
            notice,
            from,
            to,
            at_ms: at,
        }
    }

    fn down(key: u64, id: u64, at: u64) -> Row<'static> {
        row(key, id, &CHANGE, State::Up, State::Down, at)
    }

    fn up(key: u64, id: u64, at: u64) -> Row<'static> {
        row(key, id, &CHANGE, State::Down, State::Up, at)
    }

    fn parent(id: u64, state: State, heading: Option<State>) -> Option<ParentFacts> {
        Some(ParentFacts {
            id: MonitorId(id),
            state,
            heading,
            down_ms: 3_000,
            up_ms: 2_000,
        })
    }

    fn lines(m: &Message) -> Vec<(u64, usize)> {
        m.lines.iter().map(|l| (l.key, l.behind)).collect()
    }

    #[test]
    fn one_down_gets_buttons_and_sound_one_up_is_quiet_in_a_quiet_chat() {
        let p = plan(&[down(1, 7, 0)], |_| Facts::default(), true, 100);
        assert_eq!(p.messages.len(), 1);
        let m = &p.messages[0];
        assert_eq!((m.buttons, m.silent, m.storm), (Some(MonitorId(7)), false, false));
        assert_eq!(m.keys, vec![1]);
        assert_eq!(
            m.marks,
            vec![Mark {
                monitor: MonitorId(7),
                state: State::Down,
                covered_by: None
            }]
        );
        let p = plan(&[up(1, 7, 0)], |_| Facts::default(), true, 100);
        assert_eq!((p.messages[0].buttons, p.messages[0].silent), (None, true));
        let p = plan(&[up(1, 7, 0)], |_| Facts::default(), false, 100);
        assert!(!p.messages[0].silent, "sound unless the chat is quiet");
        // DOWN and UP together: with sound, no buttons (not about one monitor)
        let p = plan(&[down(1, 7, 0), up(2, 8, 0)], |_| Facts::default(), true, 100);
        assert_eq!((p.messages[0].buttons, p.messages[0].silent), (None, false));
        let deg = row(1, 7, &CHANGE, State::Up, State::Degraded, 0);
        assert_eq!(
            plan(&[deg], |_| Facts::default(), false, 1).messages[0].buttons,
            Some(MonitorId(7))
        );
        let rem = row(1, 7, &REMIND, State::Down, State::Down, 0);
        let p = plan(&[rem], |_| Facts::default(), true, 1);
        assert_eq!(
            (p.messages[0].buttons, p.messages[0].silent),
            (Some(MonitorId(7)), false)
        );
        assert!(p.messages[0].marks.is_empty(), "a reminder announces nothing new");
    }

    #[test]
    fn mutes_fold_changes_and_reminders_acks_fold_reminders() {
        let muted = |id: MonitorId| Facts {
            muted: id == MonitorId(7),
            acked: id == MonitorId(8),
            ..Facts::default()
        };
        let rows = [
            down(1, 7, 0),
            row(2, 7, &REMIND, State::Down, State::Down, 0),
            row(3, 8, &REMIND, State::Down, State::Down, 0),
            down(4, 8, 0),
            down(5, 9, 0),
        ];
        let p = plan(&rows, muted, false, 10);
        assert_eq!(p.fold, vec![1, 2, 3]);
        assert!(p.fold_marks.is_empty(), "a held change announces nothing");
        assert_eq!(p.messages.len(), 1);
        assert_eq!(lines(&p.messages[0]), vec![(4, 0), (5, 0)]);
        assert_eq!(p.later_ms, None);
    }

    #[test]
    fn children_are_counted_in_their_parents_line() {
        // #1 is the parent of #2, #3 and #4; #5 is a child of #2 (a grandchild of #1)
        let parents: HashMap<u64, u64> = [(2, 1), (3, 1), (4, 1), (5, 2)].into_iter().collect();
        let parents = &parents;
        let facts = |state: State| {
            move |id: MonitorId| Facts {
                parent: parents.get(&id.0).and_then(|p| parent(*p, state, None)),
                ..Facts::default()
            }
        };
        let rows = [
            down(10, 2, 0),
            down(11, 1, 5),
            down(12, 3, 6),
            down(13, 5, 7),
            down(14, 9, 8),
        ];
        let p = plan(&rows, facts(State::Up), false, 100);
        assert!(p.fold.is_empty());
        assert_eq!(p.messages.len(), 1);
        let m = &p.messages[0];
        assert_eq!(lines(m), vec![(11, 3), (14, 0)], "#2, #3 and #5 behind #1");
        assert_eq!(m.keys, vec![10, 11, 12, 13, 14]);
        assert_eq!(m.buttons, None);
        let covered: Vec<(u64, Option<MonitorId>)> = m.marks.iter().map(|k| (k.monitor.0, k.covered_by)).collect();
        assert!(covered.contains(&(2, Some(MonitorId(1)))), "{covered:?}");
        assert!(covered.contains(&(5, Some(MonitorId(1)))), "{covered:?}");
        assert!(covered.contains(&(1, None)), "{covered:?}");
        // alone with its parent: the parent's message is about one monitor (buttons)
        let p = plan(&[down(10, 2, 0), down(11, 1, 5)], facts(State::Up), false, 100);
        assert_eq!(lines(&p.messages[0]), vec![(11, 1)]);
        assert_eq!(p.messages[0].buttons, Some(MonitorId(1)));
    }

    #[test]
    fn a_childs_down_under_a_parent_already_down_is_folded_as_covered() {
        let facts = |id: MonitorId| Facts {
            parent: (id == MonitorId(2)).then(|| parent(1, State::Down, None)).flatten(),
            ..Facts::default()
        };
        let p = plan(&[down(10, 2, 0)], facts, false, 100);
        assert_eq!(p.fold, vec![10]);
        assert_eq!(
            p.fold_marks,
            vec![Mark {
                monitor: MonitorId(2),
                state: State::Down,
                covered_by: Some(MonitorId(1))
            }]
        );
        assert!(p.messages.is_empty());
    }

    #[test]
    fn a_childs_down_waits_while_its_parent_is_failing_then_goes_alone() {
        let facts = |heading| {
            move |id: MonitorId| Facts {
                parent: (id == MonitorId(2)).then(|| parent(1, State::Up, heading)).flatten(),
                ..Facts::default()
            }
        };
        let until = 1_000 + 3_000 + PARENT_WAIT_SLACK_MS;
        let p = plan(&[down(10, 2, 1_000)], facts(Some(State::Down)), false, 1_500);
        assert!(p.messages.is_empty() && p.fold.is_empty());
        assert_eq!(p.later_ms, Some(until));
        // the parent never went down: sent alone once the wait is over
        let p = plan(&[down(10, 2, 1_000)], facts(Some(State::Down)), false, until);
        assert_eq!(lines(&p.messages[0]), vec![(10, 0)]);
        // a parent that is fine: no wait at all
        let p = plan(&[down(10, 2, 1_000)], facts(None), false, 1_500);
        assert_eq!(lines(&p.messages[0]), vec![(10, 0)]);
    }

    #[test]
    fn a_parents_down_waits_for_failing_children_and_then_counts_them() {
        let facts = |failing| {
            move |id: MonitorId| Facts {
                parent: (id == MonitorId(2)).then(|| parent(1, State::Down, None)).flatten(),
                children_failing_ms: if id == MonitorId(1) { failing } else { 0 },
                ..Facts::default()
            }
        };
        let until = 1_000 + 3_000 + PARENT_WAIT_SLACK_MS;
        // the child is failing: the parent's DOWN waits for it
        let p = plan(&[down(10, 1, 1_000)], facts(3_000), false, 1_500);
        assert!(p.messages.is_empty() && p.fold.is_empty(), "{p:?}");
        assert_eq!(p.later_ms, Some(until));
        // the child's verdict came: one message, the parent counting it
        let p = plan(&[down(10, 1, 1_000), down(11, 2, 2_500)], facts(0), false, 2_600);
        assert_eq!(lines(&p.messages[0]), vec![(10, 1)]);
        // the child never went down: the parent goes alone once the wait is over
        let p = plan(&[down(10, 1, 1_000)], facts(3_000), false, until);
        assert_eq!(lines(&p.messages[0]), vec![(10, 0)]);
        // never longer than CHILD_WAIT_MAX_MS, whatever the child's own pace
        let p = plan(
            &[down(10, 1, 1_000)],
            facts(10 * 60_000),
            false,
            1_000 + CHILD_WAIT_MAX_MS,
        );
        assert_eq!(lines(&p.messages[0]), vec![(10, 0)]);
        // no failing child: no wait
        let p = plan(&[down(10, 1, 1_000)], facts(0), false, 1_001);
        assert_eq!(lines(&p.messages[0]), vec![(10, 0)]);
    }

    #[test]
    fn a_covered_childs_recovery_rides_with_its_parents() {
        let facts = |covered, state, heading| {
            move |id: MonitorId| Facts {
                covered: covered && id == MonitorId(2),
                parent: (id == MonitorId(2)).then(|| parent(1, state, heading)).flatten(),
                ..Facts::default()
            }
        };
        let p = plan(&[up(10, 2, 0), up(11, 1, 1)], facts(true, State::Up, None), false, 10);
        assert_eq!(lines(&p.messages[0]), vec![(11, 1)]);
        // not covered (its DOWN was told on its own): its UP is too
        let p = plan(&[up(10, 2, 0), up(11, 1, 1)], facts(false, State::Up, None), false, 10);
        assert_eq!(lines(&p.messages[0]), vec![(10, 0), (11, 0)]);
        // the parent is recovering: wait for it
        let p = plan(&[up(10, 2, 0)], facts(true, State::Down, Some(State::Up)), false, 10);
        assert_eq!(p.later_ms, Some(2_000 + PARENT_WAIT_SLACK_MS));
        // the parent stays down: the child's recovery is news
        let p = plan(&[up(10, 2, 0)], facts(true, State::Down, None), false, 10);
        assert_eq!(lines(&p.messages[0]), vec![(10, 0)]);
    }

    #[test]
    fn a_muted_parent_does_not_count_its_children_they_fold_under_it() {
        let facts = |id: MonitorId| Facts {
            muted: id == MonitorId(1),
            parent: (id == MonitorId(2)).then(|| parent(1, State::Down, None)).flatten(),
            ..Facts::default()
        };
        let p = plan(&[down(11, 1, 0), down(10, 2, 1)], facts, false, 10);
        assert_eq!(p.fold, vec![11, 10]);
        assert!(p.messages.is_empty());
    }

    #[test]
    fn storms_are_gathered_then_summarised_most_severe_first() {
        let mut rows: Vec<Row<'_>> = (0..1000).map(|i| down(i, i + 1, 1_000 + i)).collect();
        rows.insert(0, up(5000, 5000, 900));
        // still arriving: wait for a quiet moment, at most GATHER_MAX_MS after the first
        let p = plan(&rows, |_| Facts::default(), true, 2_000);
        assert!(p.messages.is_empty());
        assert_eq!(p.later_ms, Some(1_999 + GATHER_QUIET_MS));
        let p = plan(&rows, |_| Facts::default(), true, 1_999 + GATHER_QUIET_MS);
        assert_eq!(p.messages.len(), 1);
        let m = &p.messages[0];
        assert!(m.storm && !m.silent && m.buttons.is_none());
        assert_eq!(m.keys.len(), 1001);
        assert_eq!(m.lines[0].key, 0, "DOWN first");
        assert_eq!(m.lines[1000].key, 5000, "UP last");
        // a trickle that never stops is sent after GATHER_MAX_MS all the same
        let p = plan(&rows, |_| Facts::default(), true, 900 + GATHER_MAX_MS);
        assert_eq!(p.messages.len(), 1);
        // few changes are sent at once, in order
        let few: Vec<Row<'_>> = (0..STORM_AT as u64).map(|i| down(i, i, 1_000 + i)).collect();
        let p = plan(&few, |_| Facts::default(), false, 1_000);
        assert!(!p.messages[0].storm);
        assert_eq!(p.messages[0].lines.len(), STORM_AT);
    }

    #[test]
    fn notices_and_mute_ends_are_their_own_messages() {
        let acked = Notice::Acked {
            by: "operator".into(),
            reason: Some("on it".into()),
        };
        let ended = Notice::MuteEnded {
            all: true,
            changed: true,
        };
        let same = Notice::MuteEnded {
            all: false,
            changed: false,
        };
        let rows = [
            down(1, 1, 0),
            row(2, 1, &acked, State::Down, State::Down, 0),
            row(3, 2, &ended, State::Up, State::Down, 0),
            row(4, 3, &ended, State::Down, State::Up, 0),
            row(5, 4, &same, State::Up, State::Up, 0),
        ];
        let p = plan(&rows, |_| Facts::default(), true, 10);
        let sections: Vec<(Section, Vec<u64>, bool)> = p
            .messages
            .iter()
            .map(|m| (m.section, m.keys.clone(), m.silent))
            .collect();
        assert_eq!(
            sections,
            vec![
                (Section::Info, vec![2], true),
                (Section::MuteEnded { all: false }, vec![5], true),
                (Section::MuteEnded { all: true }, vec![3, 4], false),
                (Section::Alerts, vec![1], false),
            ]
        );
        assert_eq!(p.messages[0].buttons, None, "an info line has no buttons");
        let end_marks: Vec<(u64, State)> = p.messages[2].marks.iter().map(|k| (k.monitor.0, k.state)).collect();
        assert_eq!(end_marks, vec![(2, State::Down), (3, State::Up)]);
        assert!(p.messages[1].marks.is_empty(), "nothing changed, nothing to record");
    }

    #[test]
    fn topics_get_their_own_messages() {
        let mut a = down(1, 1, 0);
        a.thread = Some(7);
        let b = down(2, 2, 0);
        let p = plan(&[a, b], |_| Facts::default(), false, 10);
        let t: Vec<(Option<i32>, Vec<u64>)> = p.messages.iter().map(|m| (m.thread, m.keys.clone())).collect();
        assert_eq!(t, vec![(Some(7), vec![1]), (None, vec![2])]);
    }

    #[test]
    fn records_read_older_forms() {
        let rec: OnCall = serde_json::from_str("{}").unwrap();
        assert_eq!(rec, OnCall::default());
        let s: ChatSettings = serde_json::from_str(r#"{"quiet":true,"lang":"pt"}"#).unwrap();
        assert!(
            s.quiet && s.mute_all.is_none(),
            "unknown fields (a later build's) are kept out"
        );
        let n: Notice = serde_json::from_str(r#"{"kind":"muted","by":"a","until_ms":5,"all":false}"#).unwrap();
        assert!(matches!(n, Notice::Muted { until_ms: 5, .. }));
        let rec = OnCall {
            remind: Some(Duration::from_secs(30)),
            ..OnCall::default()
        };
        let json = serde_json::to_value(&rec).unwrap();
        assert_eq!(json["remind"], 30_000);
        assert_eq!(serde_json::from_value::<OnCall>(json).unwrap(), rec);
    }
}
