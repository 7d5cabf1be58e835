//! On call, in the core: the in-memory book of on-call records and chat settings
//! (write-through to the store), the operations the commands in [`super::cmd`] share
//! (acks, mutes and their end, reminders, notices to chats), the facts the Telegram
//! sender's plan needs ([`Service::oncall_plan`]), and the clock that ends mutes and
//! queues reminders ([`run_clock`]).
//!
//! The decisions themselves are pure and live in [`crate::domain::oncall`]; this module
//! gathers their inputs (live states from the engines, records from the book) and
//! carries out their results (records, outbox rows, flushes, events).
//!
//! Durability: every change here writes its records and any outbox rows it causes
//! without flushing, then flushes once before the command is acknowledged or the
//! senders are woken ([`Service::oncall_commit`]). A mute that ended while upbot was
//! stopped ends at the clock's first tick after the start; its message is written with
//! the mute's removal and both are flushed together, so it is sent once.

use crate::i18n::{Lang, msg};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::error::{CoreError, invalid};
use super::service::Service;
use crate::domain::oncall::{
    self, ChatSettings, Facts, Mark, Mute, MuteEndInput, Notice, OnCall, ParentFacts, Plan, Reminder, Row,
};
use crate::domain::state::Streak;
use crate::domain::{Health, Monitor, MonitorId, State, now_ms, rfc3339};
use crate::events::StateEvent;
use crate::store::{Alert, Store, StoreError};

/// The clock looks at least this often (a safety net; wake-ups do the real work).
const CLOCK_MAX_SLEEP: Duration = Duration::from_secs(30);

/// On-call records and chat settings in memory (the store has the same).
#[derive(Default)]
pub(crate) struct Book {
    records: Mutex<HashMap<MonitorId, OnCall>>,
    chats: Mutex<HashMap<i64, ChatSettings>>,
    /// Wakes the clock: a mute, a reminder period or an ack changed.
    pub(crate) wake: Notify,
    /// Serialises on-call changes (commands and the clock), so a mute cannot end twice.
    pub(crate) ops: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Book {
    /// The book as stored.
    pub(crate) fn load(store: &Store) -> Result<Self, StoreError> {
        let swept = store.oncall_sweep()?;
        if swept > 0 {
            tracing::info!(swept, "removed on-call records left without their monitor");
        }
        Ok(Self {
            records: Mutex::new(store.oncall_records()?.into_iter().collect()),
            chats: Mutex::new(store.chat_settings_all()?.into_iter().collect()),
            ..Self::default()
        })
    }
}

/// What fronts show of a monitor's on-call state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OnCallView {
    /// Who acked the current incident.
    pub acked_by: Option<String>,
    /// Why.
    pub ack_reason: Option<String>,
    /// End of the mute holding its alerts (its own or its chat's), ms since the epoch.
    pub muted_until: Option<u64>,
    /// Its parent.
    pub parent: Option<MonitorId>,
    /// Its reminder period.
    pub remind: Option<Duration>,
}

/// Trims a reason, drops control characters and cuts it to [`oncall::MAX_REASON`].
pub(crate) fn clean_reason(r: Option<&str>) -> Option<String> {
    let r: String = r?.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let r = r.trim();
    if r.is_empty() {
        return None;
    }
    Some(r.chars().take(oncall::MAX_REASON).collect())
}

/// The state the streak of `h` counts toward, when that is not its state.
fn heading(h: &Health) -> Option<State> {
    let to = match h.streak_kind? {
        Streak::Up => State::Up,
        Streak::Down => State::Down,
        Streak::Degraded => State::Degraded,
    };
    (to != h.state && h.streak > 0).then_some(to)
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Service {
    /// A monitor's on-call record (the default when it has none).
    pub fn oncall(&self, id: MonitorId) -> OnCall {
        lock(&self.book().records).get(&id).cloned().unwrap_or_default()
    }

    /// A chat's settings (the default when it has none).
    pub fn chat_settings(&self, chat: i64) -> ChatSettings {
        lock(&self.book().chats).get(&chat).cloned().unwrap_or_default()
    }

    /// The language a chat has, if one was decided (`/lang`, or its first command).
    pub fn chat_lang(&self, chat: i64) -> Option<Lang> {
        lock(&self.book().chats).get(&chat).and_then(|s| s.lang)
    }

    /// The language to answer a command in `chat` with, deciding it on the chat's
    /// first command: the sender's language when upbot speaks it (`sender`, from
    /// Telegram's `language_code`), else English. A chat that already has monitors
    /// (it was set up before it ever spoke, or before languages existed) has been told
    /// things in English, and stays English until `/lang`. Written, not flushed: a
    /// crash before the next flush only decides it again.
    pub fn chat_lang_first(&self, chat: i64, sender: Option<Lang>) -> Lang {
        if let Some(l) = self.chat_lang(chat) {
            return l;
        }
        let lang = if self.chat_monitors(chat).is_empty() {
            sender.unwrap_or_default()
        } else {
            Lang::En
        };
        if let Err(e) = self.update_chat(chat, |s| s.lang = Some(lang)) {
            tracing::warn!(chat, error = %e, "the chat's language could not be recorded");
        }
        lang
    }

    /// The mute holding `m`'s alerts at `now`, if any.
    pub(crate) fn mute_of(&self, m: &Monitor, now: u64) -> Option<Mute> {
        let own = self.oncall(m.id).mute;
        let chat = m.chat_id.and_then(|c| self.chat_settings(c).mute_all);
        oncall::active_mute(own.as_ref(), chat.as_ref(), now).cloned()
    }

    /// What fronts show of `m`'s on-call state, its live state being `h`.
    pub(crate) fn oncall_view(&self, m: &Monitor, h: &Health) -> OnCallView {
        let rec = self.oncall(m.id);
        let ack = rec.ack.as_ref().filter(|_| oncall::ack_active(rec.ack.as_ref(), h));
        OnCallView {
            acked_by: ack.map(|a| a.by.clone()),
            ack_reason: ack.and_then(|a| a.reason.clone()),
            muted_until: self.mute_of(m, now_ms()).map(|mu| mu.until_ms),
            parent: rec.parent,
            remind: rec.remind,
        }
    }

    /// Changes a monitor's record in the book and the store (not flushed).
    pub(crate) fn update_oncall(&self, id: MonitorId, f: impl FnOnce(&mut OnCall)) -> Result<OnCall, CoreError> {
        let mut all = lock(&self.book().records);
        let mut rec = all.get(&id).cloned().unwrap_or_default();
        f(&mut rec);
        self.store().put_oncall(id, &rec)?;
        if rec == OnCall::default() {
            all.remove(&id);
        } else {
            all.insert(id, rec.clone());
        }
        Ok(rec)
    }

    /// Changes a chat's settings in the book and the store (not flushed).
    pub(crate) fn update_chat(&self, chat: i64, f: impl FnOnce(&mut ChatSettings)) -> Result<ChatSettings, CoreError> {
        let mut all = lock(&self.book().chats);
        let mut s = all.get(&chat).cloned().unwrap_or_default();
        f(&mut s);
        self.store().put_chat_settings(chat, &s)?;
        if s == ChatSettings::default() {
            all.remove(&chat);
        } else {
            all.insert(chat, s.clone());
        }
        Ok(s)
    }

    /// Records a new monitor's on-call settings (before its monitor record is written).
    pub(crate) fn put_new_oncall(&self, id: MonitorId, rec: OnCall) -> Result<(), CoreError> {
        self.update_oncall(id, |r| *r = rec).map(|_| ())
    }

    /// Forgets a deleted monitor's record (durable with the delete's flush or the next).
    pub(crate) fn forget_oncall(&self, id: MonitorId) {
        lock(&self.book().records).remove(&id);
        if let Err(e) = self.store().remove_oncall(id) {
            tracing::warn!(monitor = %id, error = %e, "forgetting the on-call record failed; the next start sweeps it");
        }
    }

    /// Cluster mode: another node changed `id`'s record; take it as is (local store
    /// only, the clock looks again).
    pub(crate) fn set_oncall_here(&self, id: MonitorId, rec: OnCall) -> Result<(), CoreError> {
        let mut all = lock(&self.book().records);
        if all.get(&id).cloned().unwrap_or_default() == rec {
            return Ok(());
        }
        self.store().local().put_oncall(id, &rec)?;
        if rec == OnCall::default() {
            all.remove(&id);
        } else {
            all.insert(id, rec);
        }
        drop(all);
        self.book().wake.notify_one();
        Ok(())
    }

    /// Cluster mode: another node changed `chat`'s settings; take them as they are.
    pub(crate) fn set_chat_here(&self, chat: i64, s: ChatSettings) -> Result<(), CoreError> {
        let mut all = lock(&self.book().chats);
        if all.get(&chat).cloned().unwrap_or_default() == s {
            return Ok(());
        }
        self.store().local().put_chat_settings(chat, &s)?;
        if s == ChatSettings::default() {
            all.remove(&chat);
        } else {
            all.insert(chat, s);
        }
        drop(all);
        self.book().wake.notify_one();
        Ok(())
    }

    /// Cluster mode: a monitor deleted on another node; its record goes here too.
    pub(crate) fn forget_oncall_here(&self, id: MonitorId) {
        lock(&self.book().records).remove(&id);
        if let Err(e) = self.store().local().remove_oncall(id) {
            tracing::warn!(monitor = %id, error = %e, "forgetting the on-call record failed; the next start sweeps it");
        }
    }

    /// A chat moved (group → supergroup): its settings move with it (not flushed).
    pub fn move_chat_settings(&self, old: i64, new: i64) -> Result<(), CoreError> {
        let s = self.chat_settings(old);
        if s == ChatSettings::default() {
            return Ok(());
        }
        self.update_chat(new, |n| *n = s)?;
        self.update_chat(old, |o| *o = ChatSettings::default())?;
        Ok(())
    }

    /// Makes on-call changes durable, then wakes the senders (when rows were queued)
    /// and the clock.
    pub(crate) async fn oncall_commit(&self, queued: bool) -> Result<(), CoreError> {
        self.store().flush().await?;
        self.store().settle().await?;
        if queued {
            self.store().outbox_notify();
        }
        self.book().wake.notify_one();
        Ok(())
    }

    /// Queues a row that is not a state change for `m`'s chat (not flushed). False when
    /// `m` has no chat to tell.
    pub(crate) fn queue_notice(
        &self,
        m: &Monitor,
        h: &Health,
        notice: Notice,
        from: State,
        at_ms: u64,
    ) -> Result<bool, CoreError> {
        let Some(row) = Alert::notice(m, h, notice, from, at_ms) else {
            return Ok(false);
        };
        self.store().queue_notices(std::slice::from_ref(&row))?;
        Ok(true)
    }

    /// Tells WS subscribers about an on-call change of `m` (`ack`, `mute`, `unmute`,
    /// `remind`): a `state` event whose `from` and `to` are its state, with the ack and
    /// mute it now has.
    pub(crate) fn publish_oncall(&self, m: &Monitor, h: &Health, what: &'static str, text: String) {
        let now = now_ms();
        let view = self.oncall_view(m, h);
        let t = crate::domain::Transition {
            from: h.state,
            to: h.state,
            reason: text,
            at_ms: now,
            announce: false,
            down_for_ms: None,
        };
        let mut ev = StateEvent::new(m, &t);
        ev.oncall = Some(what);
        ev.acked_by = view.acked_by;
        ev.ack_reason = view.ack_reason;
        ev.muted_until = view.muted_until.map(rfc3339);
        self.events().state(ev);
    }

    /// Live state of `m` (a new monitor's when its engine does not know it).
    pub(crate) fn live_health(&self, m: &Monitor) -> Health {
        self.live(m)
            .map(|(h, _)| h)
            .unwrap_or_else(|_| Health::new(m.created_ms))
    }

    /// The monitors of `chat` the caller may see.
    pub(crate) fn chat_monitors(&self, chat: i64) -> Vec<Monitor> {
        self.read_monitors(|all| {
            all.values()
                .filter(|m| m.chat_id == Some(chat))
                .map(|m| Monitor::clone(m))
                .collect()
        })
    }

    /// Records, for monitors about to be muted, the state last announced when nothing
    /// was recorded yet: the `from` of the oldest queued change (the chat has not heard
    /// it), else the state now. The end of the mute compares against it.
    pub(crate) fn fill_baselines(&self, monitors: &[Monitor]) -> Result<(), CoreError> {
        let missing: Vec<&Monitor> = monitors
            .iter()
            .filter(|m| self.oncall(m.id).announced.is_none())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut oldest: HashMap<MonitorId, State> = HashMap::new();
        let chats: HashSet<(String, i64)> = missing
            .iter()
            .filter_map(|m| Some((m.bot.clone()?, m.chat_id?)))
            .collect();
        for (bot, chat) in chats {
            for (_, a) in self.store().outbox_for_chat(&bot, chat)? {
                if a.notice.is_change() {
                    oldest.entry(a.monitor_id).or_insert(a.transition.from);
                }
            }
        }
        for m in missing {
            let state = oncall::baseline(oldest.get(&m.id).copied(), self.live_health(m).state);
            self.update_oncall(m.id, |r| r.announced = Some(state))?;
        }
        Ok(())
    }

    /// Ends mutes of `monitors` (all in one chat): clears each one's own mute when
    /// `clear_own`, the chat's `all` when `clear_all`; then, for those no longer muted,
    /// drops their queued changes and queues one end-of-mute message naming each whose
    /// state differs from the last one announced (or saying nothing changed). Durable
    /// when it returns. Returns the monitors whose mute ended and how many changed.
    pub(crate) async fn end_mutes(
        &self,
        monitors: &[Monitor],
        chat: Option<i64>,
        clear_own: bool,
        clear_all: bool,
    ) -> Result<(Vec<Monitor>, usize), CoreError> {
        let now = now_ms();
        if clear_own {
            for m in monitors {
                if self.oncall(m.id).mute.is_some() {
                    self.update_oncall(m.id, |r| r.mute = None)?;
                }
            }
        }
        if let (true, Some(c)) = (clear_all, chat) {
            self.update_chat(c, |s| s.mute_all = None)?;
        }
        let ending: Vec<Monitor> = monitors
            .iter()
            .filter(|m| self.mute_of(m, now).is_none())
            .cloned()
            .collect();
        // What is still queued for them was held (or would be): the message below says
        // where they stand now instead. The newest queued change may be newer than the
        // engine's memory for a moment (it commits before it changes memory).
        let ids: HashSet<MonitorId> = ending.iter().map(|m| m.id).collect();
        let mut newest: HashMap<MonitorId, (u64, State)> = HashMap::new();
        let mut drop = Vec::new();
        let chats: HashSet<(String, i64)> = ending
            .iter()
            .filter_map(|m| Some((m.bot.clone()?, m.chat_id?)))
            .collect();
        for (bot, c) in chats {
            for (k, a) in self.store().outbox_for_chat(&bot, c)? {
                if ids.contains(&a.monitor_id) && matches!(a.notice, Notice::Change | Notice::Reminder) {
                    drop.push(k);
                    if a.notice.is_change() {
                        newest.insert(a.monitor_id, (a.transition.at_ms, a.transition.to));
                    }
                }
            }
        }
        if !drop.is_empty() {
            self.store().outbox_remove(&drop).await?;
        }
        let healths: HashMap<MonitorId, Health> = ending.iter().map(|m| (m.id, self.live_health(m))).collect();
        let inputs: Vec<MuteEndInput> = ending
            .iter()
            .map(|m| {
                let h = &healths[&m.id];
                let state = match newest.get(&m.id) {
                    Some((at, to)) if *at >= h.since_ms => *to,
                    _ => h.state,
                };
                MuteEndInput {
                    monitor: m.id,
                    now: state,
                    announced: self.oncall(m.id).announced,
                }
            })
            .collect();
        let changes = oncall::mute_end_changes(&inputs);
        let all = clear_all;
        let mut queued = false;
        let by_id: HashMap<MonitorId, &Monitor> = ending.iter().map(|m| (m.id, m)).collect();
        for (id, from, to) in &changes {
            let (m, h) = (by_id[id], &healths[id]);
            if let Some(mut row) = Alert::notice(m, h, Notice::MuteEnded { all, changed: true }, *from, h.since_ms) {
                row.transition.to = *to;
                self.store().queue_notices(std::slice::from_ref(&row))?;
                queued = true;
            }
        }
        if changes.is_empty() {
            if let Some(m) = ending.first() {
                let h = &healths[&m.id];
                let notice = Notice::MuteEnded { all, changed: false };
                queued |= self.queue_notice(m, h, notice, h.state, now)?;
            }
        }
        self.oncall_commit(queued).await?;
        for m in &ending {
            self.publish_oncall(m, &healths[&m.id], "unmute", "mute ended".into());
        }
        tracing::info!(chat = ?chat, monitors = ending.len(), changed = changes.len(), "mute ended");
        Ok((ending, changes.len()))
    }

    /// What the Telegram sender of `chat` should do now with its queued rows.
    pub fn oncall_plan(&self, chat: i64, rows: &[(u64, Alert)], now: u64) -> Plan {
        let settings = self.chat_settings(chat);
        let mut facts: HashMap<MonitorId, Facts> = HashMap::new();
        for (_, a) in rows {
            if facts.contains_key(&a.monitor_id) {
                continue;
            }
            let f = self.facts(a.monitor_id, &settings, now);
            facts.insert(a.monitor_id, f);
        }
        // Children of the monitors with a DOWN here that are failing but not DOWN yet.
        let downs: HashSet<MonitorId> = rows
            .iter()
            .filter(|(_, a)| a.notice.is_change() && a.transition.to == State::Down)
            .map(|(_, a)| a.monitor_id)
            .collect();
        if !downs.is_empty() {
            let children: Vec<(MonitorId, MonitorId)> = lock(&self.book().records)
                .iter()
                .filter_map(|(child, rec)| rec.parent.filter(|p| downs.contains(p)).map(|p| (*child, p)))
                .collect();
            for (child, parent) in children {
                let Some(m) = self.read_monitors(|all| all.get(&child).map(|m| Monitor::clone(m))) else {
                    continue;
                };
                if m.paused || self.heading_of(&m) != Some(State::Down) {
                    continue;
                }
                let need = ms(m.interval)
                    .saturating_mul(u64::from(m.fails.max(1)))
                    .saturating_add(ms(m.timeout));
                if let Some(f) = facts.get_mut(&parent) {
                    f.children_failing_ms = f.children_failing_ms.max(need);
                }
            }
        }
        let views: Vec<Row<'_>> = rows
            .iter()
            .map(|(k, a)| Row {
                key: *k,
                monitor: a.monitor_id,
                thread: a.thread_id,
                notice: &a.notice,
                from: a.transition.from,
                to: a.transition.to,
                at_ms: a.transition.at_ms,
            })
            .collect();
        oncall::plan(
            &views,
            |id| facts.get(&id).copied().unwrap_or_default(),
            settings.quiet,
            now,
        )
    }

    fn facts(&self, id: MonitorId, settings: &ChatSettings, now: u64) -> Facts {
        let Some(m) = self.read_monitors(|all| all.get(&id).map(|m| Monitor::clone(m))) else {
            return Facts::default();
        };
        let rec = self.oncall(id);
        let h = self.live_health(&m);
        let muted = oncall::active_mute(rec.mute.as_ref(), settings.mute_all.as_ref(), now).is_some();
        let parent = rec
            .parent
            .and_then(|p| self.read_monitors(|all| all.get(&p).map(|m| Monitor::clone(m))))
            .map(|p| {
                let ph = self.live_health(&p);
                let verdict = |n: u32| {
                    ms(p.interval)
                        .saturating_mul(u64::from(n.max(1)))
                        .saturating_add(ms(p.timeout))
                };
                ParentFacts {
                    id: p.id,
                    state: ph.state,
                    heading: self.heading_of(&p),
                    down_ms: verdict(p.fails),
                    up_ms: verdict(p.recovers),
                }
            });
        Facts {
            muted,
            acked: oncall::ack_active(rec.ack.as_ref(), &h),
            covered: rec.covered_by.is_some(),
            parent,
            children_failing_ms: 0, // filled by oncall_plan, which sees the whole batch
        }
    }

    /// Where `m`'s state is heading (see [`heading`]). In cluster mode the state shown is
    /// the cluster's verdict, whose own streak means nothing (the sites debounce): where
    /// the sites' views are taking it, else where this site's own probes are.
    fn heading_of(&self, m: &Monitor) -> Option<State> {
        let shown = self.live_health(m);
        let Some(c) = self.cluster() else {
            return heading(&shown);
        };
        c.heading(m).or_else(|| {
            let (own, _) = self.engines().of(m.kind).live(m.id)?;
            heading(&own).filter(|s| *s != shown.state)
        })
    }

    /// Records what a delivered message (or folded rows) told the chat: each monitor's
    /// announced state; a recovery ends its ack. Not flushed: the sender's removal of
    /// the rows flushes both.
    pub fn oncall_delivered(&self, marks: &[Mark]) -> Result<(), CoreError> {
        for mk in marks {
            if self.read_monitors(|all| !all.contains_key(&mk.monitor)) {
                continue;
            }
            self.update_oncall(mk.monitor, |r| {
                r.announced = Some(mk.state);
                r.covered_by = mk.covered_by;
                if mk.state == State::Up {
                    r.ack = None;
                }
            })?;
        }
        Ok(())
    }

    /// One look of the clock: ends the mutes that are over, queues the reminders that
    /// are due, drops acks whose incident is over. Returns when to look again.
    async fn clock_tick(&self, now: u64) -> Result<u64, CoreError> {
        let _one = self.book().ops.lock().await;
        let mut next = now.saturating_add(ms(CLOCK_MAX_SLEEP));
        // Mutes that are over, per chat.
        let records: Vec<(MonitorId, OnCall)> = lock(&self.book().records)
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        let chats: Vec<(i64, ChatSettings)> = lock(&self.book().chats).iter().map(|(k, v)| (*k, v.clone())).collect();
        let mut own_over: BTreeMap<Option<i64>, Vec<Monitor>> = BTreeMap::new();
        for (id, rec) in &records {
            let Some(mu) = &rec.mute else { continue };
            if mu.active(now) {
                next = next.min(mu.until_ms);
                continue;
            }
            match self.read_monitors(|all| all.get(id).map(|m| Monitor::clone(m))) {
                Some(m) => own_over.entry(m.chat_id).or_default().push(m),
                None => {
                    self.update_oncall(*id, |r| r.mute = None)?;
                }
            }
        }
        for (chat, group) in own_over {
            self.end_mutes(&group, chat, true, false).await?;
        }
        for (chat, s) in &chats {
            let Some(mu) = &s.mute_all else { continue };
            if mu.active(now) {
                next = next.min(mu.until_ms);
                continue;
            }
            let group = self.chat_monitors(*chat);
            self.end_mutes(&group, Some(*chat), false, true).await?;
        }
        // Reminders, and acks whose incident is over.
        let mut queued = false;
        let mut wrote = false;
        for (id, rec) in records {
            if rec.remind.is_none() && rec.ack.is_none() {
                continue;
            }
            let Some(m) = self.read_monitors(|all| all.get(&id).map(|m| Monitor::clone(m))) else {
                continue;
            };
            let h = self.live_health(&m);
            if rec.ack.is_some() && !oncall::ack_active(rec.ack.as_ref(), &h) {
                self.update_oncall(id, |r| r.ack = None)?;
                wrote = true;
            }
            let muted = self.mute_of(&m, now).is_some();
            match oncall::reminder(&self.oncall(id), &h, muted, now) {
                Reminder::None => {}
                Reminder::At(t) => next = next.min(t),
                Reminder::Now(_) => {
                    if self.queue_notice(&m, &h, Notice::Reminder, State::Down, now)? {
                        queued = true;
                    }
                    let rec = self.update_oncall(id, |r| r.reminded_ms = Some(now))?;
                    wrote = true;
                    if let Reminder::At(t) = oncall::reminder(&rec, &h, muted, now) {
                        next = next.min(t);
                    }
                    tracing::info!(monitor = %id, "reminder queued: still DOWN");
                }
            }
        }
        if queued || wrote {
            self.oncall_commit(queued).await?;
        }
        Ok(next)
    }
}

/// Runs the on-call clock until `stop`: mutes end on time (also those that ended while
/// upbot was stopped, at the first look), reminders go out while monitors stay DOWN.
/// It sleeps until the next mute end or reminder, and wakes early when an on-call
/// record changes or a monitor changes state.
pub async fn run_clock(svc: Service, stop: CancellationToken) {
    let mut states = svc.events().subscribe().state;
    loop {
        let now = now_ms();
        let next = match svc.clock_tick(now).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "on-call clock failed; trying again shortly");
                now + 5_000
            }
        };
        let wait = Duration::from_millis(next.saturating_sub(now_ms())).min(CLOCK_MAX_SLEEP);
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
            () = svc.book().wake.notified() => {}
            r = states.recv() => {
                if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    break;
                }
                // A burst of changes costs one look.
                while states.try_recv().is_ok() {}
            }
        }
    }
    tracing::debug!("on-call clock stopped");
}

/// The `muted_until` shown for a mute ending at `until_ms`.
pub(crate) fn until_text(until_ms: u64) -> String {
    rfc3339(until_ms)
}

/// Validates a mute's length.
pub(crate) fn check_mute(d: Option<Duration>) -> Result<Duration, CoreError> {
    let d = d.ok_or_else(|| invalid(msg!("err-duration-required")))?;
    if d < Duration::from_secs(1) || d > oncall::MAX_MUTE {
        return Err(invalid(msg!("err-mute-range", got = d)));
    }
    Ok(d)
}

/// Validates a reminder period.
pub(crate) fn check_remind(d: Duration) -> Result<Duration, CoreError> {
    if d < oncall::MIN_REMIND || d > oncall::MAX_REMIND {
        return Err(invalid(msg!("err-remind-range", got = d)));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_cleaned_and_cut() {
        assert_eq!(clean_reason(None), None);
        assert_eq!(clean_reason(Some("   ")), None);
        assert_eq!(clean_reason(Some(" on\nit ")), Some("on it".into()));
        assert_eq!(
            clean_reason(Some(&"x".repeat(500))).map(|r| r.len()),
            Some(oncall::MAX_REASON)
        );
    }

    #[test]
    fn headings_follow_the_streak() {
        let mut h = Health::new(0);
        h.state = State::Up;
        assert_eq!(heading(&h), None);
        h.streak_kind = Some(Streak::Down);
        h.streak = 1;
        assert_eq!(heading(&h), Some(State::Down));
        h.state = State::Down;
        assert_eq!(heading(&h), None);
        h.streak_kind = Some(Streak::Up);
        assert_eq!(heading(&h), Some(State::Up));
    }

    #[test]
    fn lengths() {
        assert!(check_mute(None).is_err());
        assert!(check_mute(Some(Duration::from_millis(10))).is_err());
        assert_eq!(
            check_mute(Some(Duration::from_secs(3600))).unwrap(),
            Duration::from_secs(3600)
        );
        assert!(check_remind(Duration::from_secs(9)).is_err());
        assert!(check_remind(Duration::from_secs(10)).is_ok());
    }
}
