//! The alert sender: one task per bot drains that bot's durable outbox.
//!
//! - Everything queued for one chat goes out as one message (split at 4096 characters),
//!   so an outage of hundreds of hosts is a few messages, not hundreds.
//! - One chat is served by one task at a time (order kept); chats are independent, so a
//!   chat in back-off never delays another.
//! - [`Pacer`] keeps every send (alerts and replies) under Telegram's limits: ≥ 1 s
//!   between messages to a chat, ≤ 20 a minute to a group, ≤ 30 a second per bot.
//! - An alert leaves the outbox only after the Bot API said ok; failures are classified
//!   ([`classify`]): wait and retry (429, 5xx, network), follow a group migration, pause
//!   the chat's monitors when the bot was removed, fall back to plain text or the
//!   General topic when Telegram rejects the markup or the topic.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use teloxide::ApiError;
use teloxide::RequestError;
use teloxide::payloads::SendMessageSetters;
use teloxide::prelude::*;
use teloxide::types::{MessageId, ParseMode, ThreadId};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::format::{Chunk, alert_chunks, strip_html};
use crate::domain::now_ms;
use crate::store::Alert;

/// Smallest gap between two messages to one chat (Telegram: about one a second; a
/// little more absorbs network jitter so the chat never sees two within a second).
pub const CHAT_GAP: Duration = Duration::from_millis(1050);
/// Messages a group may get per minute.
pub const GROUP_PER_MINUTE: usize = 20;
/// Messages a bot may send per second overall.
pub const BOT_PER_SECOND: usize = 30;
/// After a wake-up, wait this long so a burst of transitions lands in one message.
const LINGER: Duration = Duration::from_millis(300);
/// Re-read the outbox at least this often (a safety net; wake-ups do the real work).
const SAFETY_POLL: Duration = Duration::from_secs(30);
/// First and largest back-off for failures without a `retry_after`.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// How long shutdown waits for sends in flight before abandoning them (they stay queued).
const DRAIN: Duration = Duration::from_secs(3);

/// Rate limiter shared by everything one bot sends.
#[derive(Default)]
pub struct Pacer {
    state: Mutex<PaceState>,
}

/// The send history the limits are computed from (all instants in the past).
#[derive(Default, Debug)]
pub struct PaceState {
    chats: HashMap<i64, VecDeque<Instant>>,
    all: VecDeque<Instant>,
}

impl PaceState {
    /// When a message to `chat` may go (`None`: now).
    pub fn next_free(&mut self, chat: i64, now: Instant) -> Option<Instant> {
        let minute = Duration::from_secs(60);
        let second = Duration::from_secs(1);
        while self.all.front().is_some_and(|t| now.duration_since(*t) >= second) {
            self.all.pop_front();
        }
        let mut at = now;
        if let Some(q) = self.chats.get_mut(&chat) {
            while q.front().is_some_and(|t| now.duration_since(*t) >= minute) {
                q.pop_front();
            }
            if let Some(last) = q.back() {
                at = at.max(*last + CHAT_GAP);
            }
            if chat < 0 && q.len() >= GROUP_PER_MINUTE {
                at = at.max(q[q.len() - GROUP_PER_MINUTE] + minute);
            }
            if q.is_empty() {
                self.chats.remove(&chat);
            }
        }
        if self.all.len() >= BOT_PER_SECOND {
            at = at.max(self.all[self.all.len() - BOT_PER_SECOND] + second);
        }
        (at > now).then_some(at)
    }

    /// Records a message to `chat` sent at `now`.
    pub fn record(&mut self, chat: i64, now: Instant) {
        self.chats.entry(chat).or_default().push_back(now);
        self.all.push_back(now);
    }
}

impl Pacer {
    /// Waits until a message to `chat` is within the limits, and counts it as sent.
    pub async fn acquire(&self, chat: i64) {
        loop {
            let wait = {
                let mut st = match self.state.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                let now = Instant::now();
                match st.next_free(chat, now) {
                    None => {
                        st.record(chat, now);
                        return;
                    }
                    Some(t) => t,
                }
            };
            tokio::time::sleep_until(wait).await;
        }
    }
}

/// What to do after a failed send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Keep it and try again: after `Some(d)` (Telegram said so) or after back-off.
    Retry(Option<Duration>),
    /// The group became a supergroup with this id: move the chat, resend there.
    Migrated(i64),
    /// The bot can no longer post in this chat (kicked, blocked, chat gone).
    Gone(String),
    /// The forum topic is gone: resend to the chat's General topic.
    ThreadGone,
    /// Telegram could not parse our HTML: resend as plain text.
    Markup,
    /// Refused for a reason retrying cannot fix (our bug); logged, then dropped.
    Rejected(String),
}

/// Classifies a Bot API failure (teloxide reports many 403s as `Unknown("Forbidden: …")`,
/// so texts are checked too).
pub fn classify(err: &RequestError) -> Verdict {
    match err {
        RequestError::MigrateToChatId(new) => Verdict::Migrated(new.0),
        RequestError::RetryAfter(s) => Verdict::Retry(Some(s.duration())),
        RequestError::Network(_) | RequestError::InvalidJson { .. } | RequestError::Io(_) => Verdict::Retry(None),
        RequestError::Api(api) => match api {
            ApiError::BotBlocked
            | ApiError::BotKicked
            | ApiError::BotKickedFromSupergroup
            | ApiError::BotKickedFromChannel
            | ApiError::ChatNotFound
            | ApiError::GroupDeactivated
            | ApiError::UserDeactivated
            | ApiError::CantInitiateConversation
            | ApiError::CantTalkWithBots
            | ApiError::NotEnoughRightsToPostMessages => Verdict::Gone(api.to_string()),
            ApiError::CantParseEntities(_) => Verdict::Markup,
            // A revoked token: keep the alerts (the operator may fix the token), retry slowly.
            ApiError::InvalidToken => Verdict::Retry(Some(BACKOFF_MAX)),
            ApiError::Unknown(t) if t.starts_with("Forbidden") => Verdict::Gone(t.clone()),
            ApiError::Unknown(t) if t.contains("message thread not found") => Verdict::ThreadGone,
            ApiError::Unknown(t) if t.contains("not enough rights to send text messages") => Verdict::Gone(t.clone()),
            ApiError::Unknown(t)
                if t.starts_with("Too Many Requests")
                    || t.contains("Internal Server Error")
                    || t.contains("Bad Gateway")
                    || t.contains("Gateway")
                    || t.contains("Service Unavailable") =>
            {
                Verdict::Retry(None)
            }
            other => Verdict::Rejected(other.to_string()),
        },
    }
}

/// Back-off after `failures` consecutive failures: 1 s, 2 s, 4 s … 60 s.
pub fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(6);
    (BACKOFF_MIN * 2u32.pow(exp)).min(BACKOFF_MAX)
}

/// Sends one message in HTML, into `thread` when given. Paced.
pub async fn send_html(
    bot: &Bot,
    pacer: &Pacer,
    chat: i64,
    thread: Option<i32>,
    html: &str,
) -> Result<teloxide::types::Message, RequestError> {
    pacer.acquire(chat).await;
    let mut req = bot.send_message(ChatId(chat), html).parse_mode(ParseMode::Html);
    if let Some(t) = thread {
        req = req.message_thread_id(ThreadId(MessageId(t)));
    }
    req.await
}

/// Outbox rows (key, alert), oldest first.
type Queued = Vec<(u64, Alert)>;

/// How one chat's turn ended.
#[derive(Debug)]
enum Outcome {
    /// Everything taken was delivered (or dropped as unsendable).
    Done,
    /// Stopped at a failure; what is left stays queued.
    Failed(Verdict),
}

/// One bot's sender task.
pub(super) struct Sender {
    pub(super) bot: Bot,
    pub(super) username: String,
    pub(super) pacer: Arc<Pacer>,
    pub(super) shared: Arc<Shared>,
}

#[derive(Default)]
struct ChatState {
    failures: u32,
    retry_at: Option<Instant>,
}

impl Sender {
    /// Drains the outbox until `stop` is cancelled.
    pub(super) async fn run(self, stop: CancellationToken) {
        let this = Arc::new(self);
        let store = this.shared.service.store().clone();
        let mut wake = store.outbox_watch();
        let mut chats: HashMap<i64, ChatState> = HashMap::new();
        let mut busy: HashSet<i64> = HashSet::new();
        let mut tasks: JoinSet<(i64, Outcome)> = JoinSet::new();
        tracing::info!(bot = %this.username, pending = store.outbox(&this.username).map_or(0, |v| v.len()), "alert sender started");
        loop {
            wake.borrow_and_update();
            let pending = match store.outbox(&this.username) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(bot = %this.username, error = %e, "cannot read the outbox; retrying");
                    Vec::new()
                }
            };
            let mut by_chat: BTreeMap<i64, Queued> = BTreeMap::new();
            for (k, a) in pending {
                by_chat.entry(a.chat_id).or_default().push((k, a));
            }
            let now = Instant::now();
            let mut next = now + SAFETY_POLL;
            for (chat, items) in by_chat {
                if busy.contains(&chat) {
                    continue;
                }
                if let Some(at) = chats.get(&chat).and_then(|c| c.retry_at).filter(|at| *at > now) {
                    next = next.min(at);
                    continue;
                }
                busy.insert(chat);
                let t = this.clone();
                tasks.spawn(async move { (chat, t.send_chat(chat, items).await) });
            }
            tokio::select! {
                () = stop.cancelled() => break,
                changed = wake.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(LINGER) => {}
                    }
                }
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    match done {
                        Ok((chat, outcome)) => {
                            busy.remove(&chat);
                            this.settle(chat, outcome, chats.entry(chat).or_default()).await;
                        }
                        Err(e) => {
                            // A panicking send must not wedge its chat forever.
                            tracing::error!(bot = %this.username, error = %e, "alert send task failed");
                            busy.clear();
                        }
                    }
                }
                () = tokio::time::sleep_until(next) => {}
            }
        }
        // Sends in flight may finish (and be removed); the rest stays for the next start.
        let drain = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(DRAIN, drain).await.is_err() {
            tasks.abort_all();
        }
        tracing::info!(bot = %this.username, "alert sender stopped");
    }

    /// Applies how a chat's turn ended to its retry state.
    async fn settle(&self, chat: i64, outcome: Outcome, st: &mut ChatState) {
        match outcome {
            Outcome::Done => *st = ChatState::default(),
            Outcome::Failed(Verdict::Retry(after)) => {
                st.failures = st.failures.saturating_add(1);
                let wait = after.unwrap_or_else(|| backoff(st.failures));
                st.retry_at = Some(Instant::now() + wait);
                tracing::warn!(bot = %self.username, chat, retry_in = ?wait, failures = st.failures, "alert delivery delayed");
            }
            Outcome::Failed(Verdict::Migrated(new)) => {
                *st = ChatState::default();
                if let Err(e) = self.shared.chat_migrated(&self.username, chat, new).await {
                    tracing::error!(bot = %self.username, chat, new, error = %e, "moving a migrated chat failed; retrying");
                    st.failures = 1;
                    st.retry_at = Some(Instant::now() + backoff(1));
                }
            }
            Outcome::Failed(Verdict::Gone(why)) => {
                *st = ChatState::default();
                if let Err(e) = self.shared.chat_gone(&self.username, chat, &why).await {
                    tracing::error!(bot = %self.username, chat, error = %e, "pausing a lost chat failed; retrying");
                    st.failures = 1;
                    st.retry_at = Some(Instant::now() + backoff(1));
                }
            }
            Outcome::Failed(other) => {
                // Rejections are handled inside send_chat; nothing else reaches here.
                tracing::error!(bot = %self.username, chat, verdict = ?other, "unexpected send outcome");
                st.retry_at = Some(Instant::now() + BACKOFF_MAX);
            }
        }
    }

    /// Sends everything taken for one chat, topic by topic, oldest first.
    async fn send_chat(&self, chat: i64, items: Queued) -> Outcome {
        let mut threads: Vec<(Option<i32>, Queued)> = Vec::new();
        for (k, a) in items {
            match threads.iter_mut().find(|(t, _)| *t == a.thread_id) {
                Some((_, v)) => v.push((k, a)),
                None => threads.push((a.thread_id, vec![(k, a)])),
            }
        }
        for (thread, alerts) in threads {
            for chunk in alert_chunks(&alerts, now_ms()) {
                if let Err(v) = self.send_chunk(chat, thread, &chunk).await {
                    return Outcome::Failed(v);
                }
            }
        }
        Outcome::Done
    }

    /// Sends one chunk, with the plain-text and General-topic fallbacks, and removes its
    /// alerts from the outbox once delivered.
    async fn send_chunk(&self, chat: i64, thread: Option<i32>, chunk: &Chunk) -> Result<(), Verdict> {
        let store = self.shared.service.store();
        let mut thread = thread;
        let mut html = true;
        for _ in 0..3 {
            let res = if html {
                send_html(&self.bot, &self.pacer, chat, thread, &chunk.html).await
            } else {
                self.pacer.acquire(chat).await;
                let mut req = self.bot.send_message(ChatId(chat), strip_html(&chunk.html));
                if let Some(t) = thread {
                    req = req.message_thread_id(ThreadId(MessageId(t)));
                }
                req.await
            };
            let metrics = self.shared.service.metrics();
            let verdict = match res {
                Ok(_) => {
                    for _ in &chunk.keys {
                        metrics.alert_sent();
                    }
                    None
                }
                Err(e) => {
                    metrics.alert_failed();
                    Some(classify(&e))
                }
            };
            match verdict {
                None => {
                    if let Err(e) = store.outbox_remove(&chunk.keys).await {
                        // Delivered but not removed: it may be sent again (at least once).
                        tracing::error!(bot = %self.username, chat, error = %e, "cannot remove delivered alerts");
                        return Err(Verdict::Retry(None));
                    }
                    tracing::debug!(bot = %self.username, chat, alerts = chunk.keys.len(), "alerts delivered");
                    return Ok(());
                }
                Some(Verdict::ThreadGone) if thread.is_some() => {
                    tracing::warn!(bot = %self.username, chat, thread = ?thread, "forum topic gone; alerting the General topic");
                    thread = None;
                }
                Some(Verdict::Markup) if html => {
                    tracing::error!(bot = %self.username, chat, "Telegram rejected our HTML; resending as plain text");
                    html = false;
                }
                Some(Verdict::Rejected(why)) => return self.drop_unsendable(chat, chunk, &why).await,
                Some(Verdict::ThreadGone | Verdict::Markup) => {
                    return self.drop_unsendable(chat, chunk, "rejected after fallbacks").await;
                }
                Some(v) => return Err(v),
            }
        }
        self.drop_unsendable(chat, chunk, "rejected after fallbacks").await
    }

    /// Drops alerts Telegram refuses for good (retrying would block the chat forever).
    async fn drop_unsendable(&self, chat: i64, chunk: &Chunk, why: &str) -> Result<(), Verdict> {
        tracing::error!(bot = %self.username, chat, alerts = chunk.keys.len(), reason = why, "Telegram refused alerts for good; dropping them");
        self.shared
            .service
            .store()
            .outbox_remove(&chunk.keys)
            .await
            .map_err(|_| Verdict::Retry(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::types::Seconds;

    #[test]
    fn pacing_per_chat_group_and_bot() {
        let t0 = Instant::now();
        let mut p = PaceState::default();
        assert_eq!(p.next_free(-100, t0), None);
        p.record(-100, t0);
        assert_eq!(p.next_free(-100, t0), Some(t0 + CHAT_GAP), "one a second per chat");
        assert_eq!(p.next_free(42, t0), None, "other chats are free");
        // 20 a minute per group
        let mut p = PaceState::default();
        for i in 0..20 {
            p.record(-100, t0 + CHAT_GAP * i);
        }
        let at = t0 + CHAT_GAP * 20;
        assert_eq!(p.next_free(-100, at), Some(t0 + Duration::from_secs(60)));
        // private chats have no per-minute cap
        let mut p = PaceState::default();
        for i in 0..20 {
            p.record(7, t0 + CHAT_GAP * i);
        }
        assert_eq!(p.next_free(7, at), None);
        // 30 a second per bot
        let mut p = PaceState::default();
        for c in 0..30 {
            p.record(c + 1, t0);
        }
        assert_eq!(p.next_free(1000, t0), Some(t0 + Duration::from_secs(1)));
        assert_eq!(p.next_free(1000, t0 + Duration::from_secs(1)), None);
    }

    #[test]
    fn classification() {
        assert_eq!(
            classify(&RequestError::RetryAfter(Seconds::from_seconds(3))),
            Verdict::Retry(Some(Duration::from_secs(3)))
        );
        assert_eq!(
            classify(&RequestError::MigrateToChatId(ChatId(-1001000000003))),
            Verdict::Migrated(-1001000000003)
        );
        let api = |e: ApiError| classify(&RequestError::Api(e));
        assert!(matches!(api(ApiError::BotKickedFromSupergroup), Verdict::Gone(_)));
        assert!(matches!(api(ApiError::ChatNotFound), Verdict::Gone(_)));
        assert!(matches!(api(ApiError::BotBlocked), Verdict::Gone(_)));
        assert!(matches!(
            api(ApiError::Unknown(
                "Forbidden: bot was kicked from the group chat".into()
            )),
            Verdict::Gone(_)
        ));
        assert_eq!(
            api(ApiError::Unknown("Internal Server Error".into())),
            Verdict::Retry(None)
        );
        assert_eq!(
            api(ApiError::Unknown("Bad Request: message thread not found".into())),
            Verdict::ThreadGone
        );
        assert_eq!(api(ApiError::CantParseEntities("x".into())), Verdict::Markup);
        assert!(matches!(api(ApiError::MessageIsTooLong), Verdict::Rejected(_)));
        assert_eq!(api(ApiError::InvalidToken), Verdict::Retry(Some(BACKOFF_MAX)));
    }

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let b: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(b, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
