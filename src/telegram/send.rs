//! The one send path of a bot: command replies and alert batches alike go through
//! [`Courier`], which keeps one queue and at most one worker task per chat.
//!
//! - **Handlers never wait.** A handler queues its [`Answer`] and returns; the chat's
//!   worker sends it. A chat that floods the bot fills only its own queue (bounded), so
//!   it cannot hold teloxide's dispatcher, and with it every other chat.
//! - **Replies first.** A worker takes every queued answer before the next alert batch,
//!   and looks again between the messages of a batch. Alerts draw from the
//!   [`Lane::Alert`] budget, which leaves part of each group's minute for replies.
//! - **One way to send** ([`Courier::deliver`]): paced, HTML with a plain-text fallback
//!   when Telegram rejects the markup, the General topic when a forum topic is gone;
//!   429s hold the chat for `retry_after`, 5xx and network failures back off 1 s, 2 s,
//!   4 s …; a group upgraded to a supergroup is followed, and a chat the bot was removed
//!   from is paused ([`Shared::chat_migrated`], [`Shared::chat_gone`]).
//! - **Alerts leave the outbox the moment Telegram said ok**: the removal and its flush
//!   come before anything else (metrics, logs, the next message), so a crash can repeat
//!   at most the one message whose removal was not yet on disk.
//! - **Alerts wait while the store cannot write** ([`crate::store::Outbox::write_health`]):
//!   a message sent then could not be recorded as delivered (and a failed store cannot
//!   read the outbox either). The workers look again every [`STORE_RETRY`], not after a
//!   growing back-off, so the alerts go as soon as the store recovers; quietly: one
//!   warning per bot when the wait begins, one note when it ends. Answers go on.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::domain::oncall::Mark;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use teloxide::prelude::*;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::api::{self, Verdict, classify};
use super::buttons;
use super::format::{Style, plan_chunks, split_reply, strip_html};
use super::pace::{Lane, Limits, Pacer, retry_delay};
use crate::domain::now_ms;
use crate::store::Alert;

/// Answers one chat may have waiting; past it, new ones are dropped (the chat sends
/// commands faster than Telegram lets a bot answer).
pub const MAX_QUEUED_ANSWERS: usize = 20;
/// Attempts at one answer before it is given up.
const ANSWER_ATTEMPTS: u32 = 4;
/// An answer Telegram holds back for longer than this is given up (it would be stale).
const ANSWER_MAX_WAIT: Duration = Duration::from_secs(30);
/// While the store cannot write, alerts look again this often (as often as the store
/// tries to recover).
pub const STORE_RETRY: Duration = crate::store::RECOVER_EVERY;

/// A message to a chat, with the side jobs that decide its last lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Forum topic to answer in.
    pub thread: Option<i32>,
    /// HTML text (split at 4096 characters when longer).
    pub html: String,
    /// First delete this message of the chat (it carried a secret).
    pub delete: Option<SideJob<i32>>,
    /// First send this privately (push URLs go to the admin's private chat).
    pub private: Option<SideJob<Private>>,
    /// Send this PNG (a `/graph` chart) with `html` as its caption (sendPhoto).
    pub photo: Option<Arc<[u8]>>,
    /// Edit this message of the chat instead of sending a new one (an alert whose
    /// button was pressed), with this keyboard (`None`: none left).
    pub edit: Option<(i32, Option<serde_json::Value>)>,
}

/// A private message: to `user`'s private chat with the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Private {
    /// The user (their private chat has the same id).
    pub user: i64,
    /// HTML text.
    pub html: String,
}

/// A job done before an answer is sent; its outcome picks the line added to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideJob<T> {
    /// What to do.
    pub what: T,
    /// Line added when it worked.
    pub done: String,
    /// Line added when it did not.
    pub failed: String,
}

impl Answer {
    /// A plain answer.
    pub fn text(thread: Option<i32>, html: String) -> Self {
        Self {
            thread,
            html,
            delete: None,
            private: None,
            photo: None,
            edit: None,
        }
    }

    /// A photo with its caption (at most 1,024 characters, so it is one message).
    pub fn photo(thread: Option<i32>, png: Arc<[u8]>, caption: String) -> Self {
        Self {
            photo: Some(png),
            ..Self::text(thread, caption)
        }
    }
}

/// One message as [`Courier::deliver`] sends it.
#[derive(Debug, Clone, Copy)]
struct Out<'a> {
    thread: Option<i32>,
    html: &'a str,
    silent: bool,
    markup: Option<&'a serde_json::Value>,
    /// Edit this message instead of sending.
    edit: Option<i32>,
    /// Send this PNG with `html` as its caption (sendPhoto).
    photo: Option<&'a [u8]>,
}

impl<'a> Out<'a> {
    fn text(thread: Option<i32>, html: &'a str) -> Self {
        Self {
            thread,
            html,
            silent: false,
            markup: None,
            edit: None,
            photo: None,
        }
    }
}

/// One chat's queue.
#[derive(Default)]
struct Slot {
    answers: VecDeque<Answer>,
    /// The outbox may hold alerts for this chat.
    alerts: bool,
    /// A worker serves this chat.
    worker: bool,
    /// Queued rows wait until then (unless new ones come first).
    look_at: Option<Instant>,
    /// Wakes the worker out of a back-off wait.
    wake: Arc<Notify>,
}

/// How a [`Courier::deliver`] ended without failing.
#[derive(Debug, PartialEq, Eq)]
enum Delivered {
    /// Telegram took it.
    Sent,
    /// Not sent: an answer came in while an alert waited for its turn (alerts only).
    Preempted,
}

/// What a chat's worker does next.
enum Job {
    Answer(Answer),
    Alerts,
    Wait(Instant, Arc<Notify>),
    Done,
}

/// The alert back-off of one chat (kept by its worker).
#[derive(Default)]
struct Backoff {
    /// Consecutive failures that came without a `retry_after`.
    blind: u32,
    /// No alert batch before this.
    until: Option<Instant>,
}

/// Everything one bot sends.
pub struct Courier {
    pub(super) bot: Bot,
    pub(super) username: String,
    pub(super) shared: Arc<Shared>,
    pacer: Pacer,
    chats: Mutex<HashMap<i64, Slot>>,
    stop: CancellationToken,
    workers: Mutex<JoinSet<()>>,
    /// Alerts are waiting for the store to write again (said once, not per pass).
    store_wait: AtomicBool,
}

impl Courier {
    /// A courier for `bot`; its workers end when `stop` is cancelled.
    pub(super) fn new(
        bot: Bot,
        username: String,
        shared: Arc<Shared>,
        limits: Limits,
        stop: CancellationToken,
    ) -> Arc<Self> {
        Arc::new(Self {
            bot,
            username,
            shared,
            pacer: Pacer::new(limits),
            chats: Mutex::new(HashMap::new()),
            stop,
            workers: Mutex::new(JoinSet::new()),
            store_wait: AtomicBool::new(false),
        })
    }

    fn chats(&self) -> MutexGuard<'_, HashMap<i64, Slot>> {
        self.chats.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The pacer (the operator's "can the bot post there?" check draws from it too).
    pub(super) fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    /// Queues an answer for `chat`. Never waits: a handler calls this and returns.
    pub fn answer(self: &Arc<Self>, chat: i64, a: Answer) {
        let mut chats = self.chats();
        let slot = chats.entry(chat).or_default();
        let plain = a.delete.is_none() && a.private.is_none();
        if plain && slot.answers.iter().any(|q| *q == a) {
            // The same text is already on its way (a command repeated while queued).
            return;
        }
        if slot.answers.len() >= MAX_QUEUED_ANSWERS {
            tracing::warn!(bot = %self.username, chat, "chat sends commands faster than Telegram lets the bot answer; answer dropped");
            return;
        }
        slot.answers.push_back(a);
        self.serve_soon(chat, slot);
    }

    /// The outbox has (or may have) alerts for `chat`.
    pub(super) fn kick(self: &Arc<Self>, chat: i64) {
        let mut chats = self.chats();
        let slot = chats.entry(chat).or_default();
        slot.alerts = true;
        self.serve_soon(chat, slot);
    }

    fn serve_soon(self: &Arc<Self>, chat: i64, slot: &mut Slot) {
        if slot.worker {
            slot.wake.notify_one();
            return;
        }
        if self.stop.is_cancelled() {
            return;
        }
        slot.worker = true;
        let me = self.clone();
        let mut workers = self.workers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while workers.try_join_next().is_some() {} // reap finished workers
        workers.spawn(async move { me.serve(chat).await });
    }

    /// Waits (until `deadline`) for workers to finish what they are sending, then
    /// abandons the rest: queued answers are lost, alerts stay in the outbox.
    pub(super) async fn shutdown(&self, deadline: Instant) {
        let mut workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let drain = async { while workers.join_next().await.is_some() {} };
        if tokio::time::timeout_at(deadline, drain).await.is_err() {
            workers.abort_all();
        }
    }

    /// The worker of one chat: answers first, then alert batches, until both are done.
    async fn serve(self: Arc<Self>, chat: i64) {
        let mut backoff = Backoff::default();
        loop {
            if self.stop.is_cancelled() {
                return;
            }
            match self.next_job(chat, &backoff) {
                Job::Done => return,
                Job::Answer(a) => self.send_answer(chat, a).await,
                Job::Alerts if !self.store_writes() => {
                    // Quietly (debug): look again soon (new rows and answers still wake us).
                    tracing::debug!(bot = %self.username, chat, retry_in = ?STORE_RETRY, "alerts still wait for the store");
                    if let Some(slot) = self.chats().get_mut(&chat) {
                        slot.look_at = Some(Instant::now() + STORE_RETRY);
                    }
                }
                Job::Alerts => match self.send_alerts(chat).await {
                    Ok(later) => {
                        backoff = Backoff::default();
                        // Rows wait (a storm still arriving, a child waiting for its
                        // parent): look again then, or as soon as new rows come.
                        if let Some(slot) = self.chats().get_mut(&chat) {
                            slot.look_at = later;
                        }
                    }
                    Err(v) => self.alerts_failed(chat, v, &mut backoff).await,
                },
                Job::Wait(until, wake) => {
                    tokio::select! {
                        () = self.stop.cancelled() => return,
                        () = tokio::time::sleep_until(until) => {}
                        () = wake.notified() => {}
                    }
                }
            }
        }
    }

    fn next_job(&self, chat: i64, backoff: &Backoff) -> Job {
        let mut chats = self.chats();
        let Some(slot) = chats.get_mut(&chat) else {
            return Job::Done;
        };
        if let Some(a) = slot.answers.pop_front() {
            return Job::Answer(a);
        }
        let now = Instant::now();
        if slot.alerts || slot.look_at.is_some() {
            if let Some(until) = backoff.until.filter(|u| *u > now) {
                return Job::Wait(until, slot.wake.clone());
            }
            match slot.look_at {
                Some(t) if !slot.alerts && t > now => return Job::Wait(t, slot.wake.clone()),
                _ => {}
            }
            slot.alerts = false;
            slot.look_at = None;
            return Job::Alerts;
        }
        chats.remove(&chat);
        Job::Done
    }

    /// Whether the store writes, so a delivered alert can be recorded as delivered.
    /// Says so once when that stops (per bot, not per chat or pass) and once when it
    /// is back.
    fn store_writes(&self) -> bool {
        match self.shared.outbox.write_health() {
            Ok(()) => {
                if self.store_wait.swap(false, Ordering::AcqRel) {
                    tracing::info!(bot = %self.username, "the store writes again; sending the alerts that waited");
                }
                true
            }
            Err(why) => {
                if !self.store_wait.swap(true, Ordering::AcqRel) {
                    tracing::warn!(bot = %self.username, reason = %why, "alerts wait in the outbox until the store writes again (a delivery could not be recorded)");
                }
                false
            }
        }
    }

    fn answers_waiting(&self, chat: i64) -> bool {
        self.chats().get(&chat).is_some_and(|s| !s.answers.is_empty())
    }

    /// Waits for the pacer's go for one message to `chat`. An alert gives way (false)
    /// when an answer for the chat comes in meanwhile: the alert lane may wait most of
    /// a minute, and the answer must not wait with it.
    async fn my_turn(&self, chat: i64, lane: Lane) -> Result<bool, Verdict> {
        let wake = match lane {
            Lane::Reply => None,
            Lane::Alert => self.chats().get(&chat).map(|s| s.wake.clone()),
        };
        loop {
            tokio::select! {
                () = self.stop.cancelled() => return Err(Verdict::Retry(None)),
                () = self.pacer.acquire(chat, lane) => return Ok(true),
                () = async {
                    match &wake {
                        Some(w) => w.notified().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if self.answers_waiting(chat) {
                        return Ok(false);
                    }
                }
            }
        }
    }

    /// Sends one message, paced, with the fallbacks: plain text when the HTML is
    /// refused, the General topic when the forum topic is gone. A 429 holds the chat
    /// (both lanes) for `retry_after`. Other failures are returned for the caller.
    async fn deliver(&self, chat: i64, out: Out<'_>, lane: Lane) -> Result<Delivered, Verdict> {
        let html = out.html;
        let mut thread = out.thread;
        let mut as_html = true;
        let mut text = html.to_string();
        let extras = api::Extras {
            silent: out.silent,
            markup: out.markup.cloned(),
        };
        for _ in 0..3 {
            if !self.my_turn(chat, lane).await? {
                return Ok(Delivered::Preempted);
            }
            let sent = match (out.edit, out.photo) {
                (Some(id), _) => api::edit_message(&self.bot, chat, id, &text, as_html, out.markup).await,
                (None, Some(png)) => api::send_photo(&self.bot, chat, thread, png, &text, as_html).await,
                (None, None) => api::send_message_with(&self.bot, chat, thread, &text, as_html, &extras).await,
            };
            let failure = match sent {
                Ok(()) => return Ok(Delivered::Sent),
                Err(f) => f,
            };
            if lane == Lane::Alert {
                self.shared.service.metrics().alert_failed();
            }
            match classify(&failure) {
                Verdict::ThreadGone if thread.is_some() => {
                    tracing::warn!(bot = %self.username, chat, thread = ?thread, "forum topic gone; sending to the General topic");
                    thread = None;
                }
                Verdict::Markup if as_html => {
                    tracing::error!(bot = %self.username, chat, error = %failure, "Telegram rejected our HTML; resending as plain text");
                    as_html = false;
                    text = strip_html(html);
                }
                Verdict::Retry(Some(d)) => {
                    self.pacer.hold(chat, d);
                    tracing::info!(bot = %self.username, chat, retry_after = ?d, "Telegram asks to wait (429)");
                    return Err(Verdict::Retry(Some(d)));
                }
                Verdict::ThreadGone | Verdict::Markup => {
                    return Err(Verdict::Rejected(format!("{failure} (after the fallbacks)")));
                }
                v => {
                    tracing::debug!(bot = %self.username, chat, error = %failure, verdict = ?v, "send failed");
                    return Err(v);
                }
            }
        }
        Err(Verdict::Rejected("refused after the fallbacks".into()))
    }

    /// Sends `html` (in parts when long) to `chat` as an answer, retrying a few times.
    /// `own_chat`: the answer belongs to the chat that asked, so a migration moves it
    /// and a removal pauses the chat; a private side message only reports failure.
    async fn deliver_answer(
        self: &Arc<Self>,
        chat: i64,
        thread: Option<i32>,
        html: &str,
        photo: Option<&[u8]>,
        own_chat: bool,
        edit: Option<&(i32, Option<serde_json::Value>)>,
    ) -> Result<(), Verdict> {
        let mut chat = chat;
        // An edit replaces one message and a photo's caption is one part: neither is split.
        let parts = match (edit, photo) {
            (None, None) => split_reply(html),
            _ => vec![html.to_string()],
        };
        for part in parts {
            let mut blind = 0;
            let mut attempt = 0;
            loop {
                attempt += 1;
                let out = Out {
                    edit: edit.map(|e| e.0),
                    markup: edit.and_then(|e| e.1.as_ref()),
                    photo,
                    ..Out::text(thread, &part)
                };
                // (The reply lane never gives way: Ok is always Sent.)
                let Err(err) = self.deliver(chat, out, Lane::Reply).await else {
                    break;
                };
                match err {
                    Verdict::Retry(after) if attempt < ANSWER_ATTEMPTS && !self.stop.is_cancelled() => {
                        if after.is_none() {
                            blind += 1;
                        }
                        let wait = retry_delay(after, blind);
                        if wait > ANSWER_MAX_WAIT {
                            return Err(Verdict::Retry(after));
                        }
                        // A 429 already holds the chat in the pacer; other failures wait here.
                        if after.is_none() {
                            tokio::select! {
                                () = self.stop.cancelled() => return Err(Verdict::Retry(None)),
                                () = tokio::time::sleep(wait) => {}
                            }
                        }
                    }
                    Verdict::Migrated(new) if own_chat && new != chat => {
                        self.follow_migration(chat, new).await;
                        chat = new;
                    }
                    Verdict::Gone(why) if own_chat => {
                        self.chat_gone(chat, &why).await;
                        return Err(Verdict::Gone(why));
                    }
                    v => return Err(v),
                }
            }
        }
        Ok(())
    }

    async fn send_answer(self: &Arc<Self>, chat: i64, a: Answer) {
        let mut html = a.html;
        if let Some(job) = a.delete {
            let line = match api::delete_message(&self.bot, chat, job.what).await {
                Ok(()) => job.done,
                Err(e) => {
                    tracing::info!(bot = %self.username, chat, error = %e, "could not delete a message that carried a secret");
                    job.failed
                }
            };
            html = format!("{html}\n{line}");
        }
        if let Some(job) = a.private {
            let line = match self
                .deliver_answer(job.what.user, None, &job.what.html, None, false, None)
                .await
            {
                Ok(()) => job.done,
                Err(v) => {
                    tracing::info!(bot = %self.username, chat, user = job.what.user, verdict = ?v, "could not message a user privately");
                    job.failed
                }
            };
            html = format!("{html}\n{line}");
        }
        if let Err(v) = self
            .deliver_answer(chat, a.thread, &html, a.photo.as_deref(), true, a.edit.as_ref())
            .await
        {
            tracing::warn!(bot = %self.username, chat, verdict = ?v, "reply not delivered");
        }
    }

    /// Sends what the chat's queued rows call for now, as the on-call plan decides
    /// ([`crate::domain::oncall::plan`]): rows held by a mute (or otherwise folded)
    /// leave the outbox unsent; the rest go as few messages as fit, topic by topic;
    /// rows that must wait (a storm still arriving, a child waiting for its parent's
    /// verdict) stay, and `Ok(Some(t))` says when to look again. Stops early (and comes
    /// back) when an answer is waiting.
    async fn send_alerts(self: &Arc<Self>, chat: i64) -> Result<Option<Instant>, Verdict> {
        let pending = match self.shared.outbox.for_chat(&self.username, chat) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(bot = %self.username, chat, error = %e, "cannot read the outbox; retrying");
                return Err(Verdict::Retry(None));
            }
        };
        if pending.is_empty() {
            return Ok(None);
        }
        let svc = &self.shared.service;
        let now = now_ms();
        let plan = svc.oncall_plan(chat, &pending, now);
        let later = plan
            .later_ms
            .map(|t| Instant::now() + Duration::from_millis(t.saturating_sub(now)));
        if !plan.fold.is_empty() {
            let recorded = svc.oncall_delivered(&plan.fold_marks);
            if let Err(e) = recorded
                .map_err(|e| e.to_string())
                .and(self.shared.outbox.remove(&plan.fold).await.map_err(|e| e.to_string()))
            {
                tracing::error!(bot = %self.username, chat, error = %e, "cannot drop held alerts; retrying");
                return Err(Verdict::Retry(None));
            }
            tracing::debug!(bot = %self.username, chat, rows = plan.fold.len(), "held or covered alerts folded");
        }
        let rows: HashMap<u64, &Alert> = pending.iter().map(|(k, a)| (*k, a)).collect();
        let lang = self.shared.service.chat_lang(chat).unwrap_or_default();
        let style = Style::new(&self.username, chat > 0).in_lang(lang);
        for msg in &plan.messages {
            let markup = msg.buttons.map(|id| buttons::keyboard(id, lang));
            for chunk in plan_chunks(msg, &rows, &style, now) {
                if self.answers_waiting(chat) {
                    self.kick(chat); // the rest after the answers
                    return Ok(None);
                }
                let out = Out {
                    silent: msg.silent,
                    markup: markup.as_ref(),
                    ..Out::text(msg.thread, &chunk.html)
                };
                let marks = if chunk.keys.is_empty() { &[][..] } else { &msg.marks[..] };
                if self.send_chunk(chat, out, &chunk.keys, marks).await? == Delivered::Preempted {
                    self.kick(chat); // the rest after the answers
                    return Ok(None);
                }
            }
        }
        Ok(later)
    }

    async fn send_chunk(&self, chat: i64, out: Out<'_>, keys: &[u64], marks: &[Mark]) -> Result<Delivered, Verdict> {
        let outbox = &self.shared.outbox;
        match self.deliver(chat, out, Lane::Alert).await {
            Ok(Delivered::Preempted) => Ok(Delivered::Preempted),
            Ok(Delivered::Sent) => {
                // First of all, on disk: delivered, and what the chat now knows. (A
                // crash before this flush ends sends the message again; nothing else
                // runs in that window.)
                if let Err(e) = self.shared.service.oncall_delivered(marks) {
                    tracing::error!(bot = %self.username, chat, error = %e, "what was announced could not be recorded");
                }
                if let Err(e) = outbox.remove(keys).await {
                    tracing::error!(bot = %self.username, chat, error = %e, "delivered alerts not removed; they may be sent again");
                    return Err(Verdict::Retry(None));
                }
                let metrics = self.shared.service.metrics();
                for _ in keys {
                    metrics.alert_sent();
                }
                tracing::debug!(bot = %self.username, chat, alerts = keys.len(), "alerts delivered");
                Ok(Delivered::Sent)
            }
            Err(Verdict::Rejected(why)) => {
                // Retrying cannot fix it and would block the chat forever.
                tracing::error!(bot = %self.username, chat, alerts = keys.len(), reason = %why, "Telegram refused alerts for good; dropping them");
                outbox.remove(keys).await.map_err(|_| Verdict::Retry(None))?;
                Ok(Delivered::Sent)
            }
            Err(v) => Err(v),
        }
    }

    async fn alerts_failed(self: &Arc<Self>, chat: i64, v: Verdict, b: &mut Backoff) {
        let retry = |b: &mut Backoff, after: Option<Duration>| {
            if after.is_none() {
                b.blind = b.blind.saturating_add(1);
            }
            let wait = retry_delay(after, b.blind);
            b.until = Some(Instant::now() + wait);
            wait
        };
        match v {
            Verdict::Retry(after) => {
                let wait = retry(b, after);
                tracing::warn!(bot = %self.username, chat, retry_in = ?wait, failures = b.blind, "alert delivery delayed");
            }
            Verdict::Migrated(new) => {
                *b = Backoff::default();
                if !self.follow_migration(chat, new).await {
                    retry(b, None);
                }
            }
            Verdict::Gone(why) => {
                *b = Backoff::default();
                if !self.chat_gone(chat, &why).await {
                    retry(b, None);
                }
            }
            other => {
                // deliver() turns these into Rejected, which send_chunk handles.
                tracing::error!(bot = %self.username, chat, verdict = ?other, "unexpected send outcome");
                retry(b, None);
            }
        }
        // Whatever is left is tried again (after the back-off, or in the new chat).
        let mut chats = self.chats();
        if let Some(slot) = chats.get_mut(&chat) {
            slot.alerts = true;
        }
    }

    /// The group became a supergroup: move its monitors and alerts (the outbox wakes
    /// the new chat's worker) and the answers queued here. False if moving failed.
    async fn follow_migration(self: &Arc<Self>, old: i64, new: i64) -> bool {
        if let Err(e) = self.shared.chat_migrated(&self.username, old, new).await {
            tracing::error!(bot = %self.username, chat = old, new, error = %e, "moving a migrated chat failed; retrying");
            return false;
        }
        let moved: Vec<Answer> = self
            .chats()
            .get_mut(&old)
            .map(|s| s.answers.drain(..).collect())
            .unwrap_or_default();
        let mut chats = self.chats();
        let slot = chats.entry(new).or_default();
        slot.answers.extend(moved);
        slot.alerts = true;
        self.serve_soon(new, slot);
        true
    }

    /// The bot cannot post in `chat` any more: pause it, and forget its queued answers.
    async fn chat_gone(&self, chat: i64, why: &str) -> bool {
        if let Some(s) = self.chats().get_mut(&chat) {
            s.answers.clear();
        }
        match self.shared.chat_gone(&self.username, chat, why).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(bot = %self.username, chat, error = %e, "pausing a lost chat failed; retrying");
                false
            }
        }
    }
}
