//! Telegram's rate limits and the back-off after failures: pure functions over time
//! passed in, so every rule is a table test.
//!
//! Telegram allows about one message a second in a chat, twenty a minute in a group and
//! thirty a second per bot. Replies and alerts share that budget in two lanes: a reply
//! may use all of it, alerts only what leaves room for replies
//! ([`Limits::alert_group_per_minute`], [`Limits::alert_bot_per_second`]), so a command
//! is answered at once even while a storm of alerts is being paced out.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Which budget a message draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// An answer to a command: may use the whole budget, goes first.
    Reply,
    /// An alert batch: uses what is left for replies.
    Alert,
}

/// The limits one bot keeps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Smallest gap between two messages to one chat.
    pub chat_gap: Duration,
    /// Messages a group may get per minute.
    pub group_per_minute: usize,
    /// Of those, how many alerts may use (the rest is kept for replies).
    pub alert_group_per_minute: usize,
    /// Messages a bot may send per second overall.
    pub bot_per_second: usize,
    /// Of those, how many alerts may use.
    pub alert_bot_per_second: usize,
}

impl Limits {
    /// Telegram's limits (Bot FAQ), with a little slack on the per-chat gap so network
    /// jitter never lands two messages within a second.
    pub const TELEGRAM: Self = Self {
        chat_gap: Duration::from_millis(1050),
        group_per_minute: 20,
        alert_group_per_minute: 16,
        bot_per_second: 30,
        alert_bot_per_second: 25,
    };

    /// No pacing at all: only for benchmarks and tests against a fake Bot API.
    pub const UNLIMITED: Self = Self {
        chat_gap: Duration::ZERO,
        group_per_minute: usize::MAX,
        alert_group_per_minute: usize::MAX,
        bot_per_second: usize::MAX,
        alert_bot_per_second: usize::MAX,
    };
}

/// The send history the limits are computed from (all instants in the past), and the
/// holds Telegram asked for with `retry_after`.
#[derive(Debug)]
pub struct PaceState {
    limits: Limits,
    chats: HashMap<i64, VecDeque<Instant>>,
    all: VecDeque<Instant>,
    held: HashMap<i64, Instant>,
}

impl PaceState {
    /// An empty history under `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            chats: HashMap::new(),
            all: VecDeque::new(),
            held: HashMap::new(),
        }
    }

    /// When a message to `chat` in `lane` may go (`None`: now).
    pub fn next_free(&mut self, chat: i64, lane: Lane, now: Instant) -> Option<Instant> {
        let l = self.limits;
        let minute = Duration::from_secs(60);
        let second = Duration::from_secs(1);
        let (per_minute, per_second) = match lane {
            Lane::Reply => (l.group_per_minute, l.bot_per_second),
            Lane::Alert => (l.alert_group_per_minute, l.alert_bot_per_second),
        };
        while self.all.front().is_some_and(|t| now.duration_since(*t) >= second) {
            self.all.pop_front();
        }
        let mut at = now;
        if let Some(until) = self.held.get(&chat).copied() {
            if until > now {
                at = until;
            } else {
                self.held.remove(&chat);
            }
        }
        if let Some(q) = self.chats.get_mut(&chat) {
            while q.front().is_some_and(|t| now.duration_since(*t) >= minute) {
                q.pop_front();
            }
            if let Some(last) = q.back() {
                at = at.max(*last + l.chat_gap);
            }
            if chat < 0 && q.len() >= per_minute {
                at = at.max(q[q.len() - per_minute] + minute);
            }
            if q.is_empty() {
                self.chats.remove(&chat);
            }
        }
        if self.all.len() >= per_second {
            at = at.max(self.all[self.all.len() - per_second] + second);
        }
        (at > now).then_some(at)
    }

    /// Records a message to `chat` sent at `now`.
    pub fn record(&mut self, chat: i64, now: Instant) {
        if self.limits == Limits::UNLIMITED {
            return; // nothing to compute from, and nothing to remember
        }
        self.chats.entry(chat).or_default().push_back(now);
        self.all.push_back(now);
    }

    /// Telegram asked us (429) not to send to `chat` before `until`.
    pub fn hold(&mut self, chat: i64, until: Instant) {
        let h = self.held.entry(chat).or_insert(until);
        *h = (*h).max(until);
    }
}

/// Rate limiter shared by everything one bot sends.
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<PaceState>,
}

impl Pacer {
    /// A pacer keeping to `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            state: Mutex::new(PaceState::new(limits)),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PaceState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until a message to `chat` in `lane` is within the limits, and counts it
    /// as sent. Only send workers call this, never a command handler.
    pub async fn acquire(&self, chat: i64, lane: Lane) {
        loop {
            let wait = {
                let mut st = self.state();
                let now = Instant::now();
                match st.next_free(chat, lane, now) {
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

    /// Holds every send to `chat` for `d` (Telegram's `retry_after`).
    pub fn hold(&self, chat: i64, d: Duration) {
        self.state().hold(chat, Instant::now() + d);
    }
}

/// Back-off step and ceiling for failures Telegram gave no `retry_after` for.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// How long to wait before the next attempt: exactly what Telegram asked for when it
/// said (`retry_after`); otherwise 1 s, 2 s, 4 s … 30 s, doubling with each failure
/// that came without one (`blind_failures`, counting this one).
///
/// 429s do not grow the exponent: Telegram told us the time, and waiting longer only
/// makes the alert later. (With a shared counter, 2×429 then a 500 waited 1+2+4 s.)
pub fn retry_delay(retry_after: Option<Duration>, blind_failures: u32) -> Duration {
    if let Some(d) = retry_after {
        return d;
    }
    let exp = blind_failures.saturating_sub(1).min(5);
    (BACKOFF_MIN * 2u32.pow(exp)).min(BACKOFF_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_per_chat_group_and_bot() {
        let gap = Limits::TELEGRAM.chat_gap;
        let t0 = Instant::now();
        let mut p = PaceState::new(Limits::TELEGRAM);
        assert_eq!(p.next_free(-100, Lane::Alert, t0), None);
        p.record(-100, t0);
        assert_eq!(
            p.next_free(-100, Lane::Alert, t0),
            Some(t0 + gap),
            "one a second per chat"
        );
        assert_eq!(p.next_free(-100, Lane::Reply, t0), Some(t0 + gap), "replies too");
        assert_eq!(p.next_free(42, Lane::Alert, t0), None, "other chats are free");
        // private chats have no per-minute cap
        let mut p = PaceState::new(Limits::TELEGRAM);
        for i in 0..20 {
            p.record(7, t0 + gap * i);
        }
        assert_eq!(p.next_free(7, Lane::Alert, t0 + gap * 20), None);
        // 30 a second per bot
        let mut p = PaceState::new(Limits::TELEGRAM);
        for c in 0..30 {
            p.record(c + 1, t0);
        }
        assert_eq!(p.next_free(1000, Lane::Reply, t0), Some(t0 + Duration::from_secs(1)));
        assert_eq!(p.next_free(1000, Lane::Reply, t0 + Duration::from_secs(1)), None);
    }

    #[test]
    fn alerts_leave_room_for_replies() {
        let gap = Limits::TELEGRAM.chat_gap;
        let minute = Duration::from_secs(60);
        let t0 = Instant::now();
        let mut p = PaceState::new(Limits::TELEGRAM);
        // 16 alerts to a group in 16.8 s: the alert lane of that group is full
        for i in 0..16 {
            let at = t0 + gap * i;
            assert_eq!(p.next_free(-100, Lane::Alert, at), None, "alert {i}");
            p.record(-100, at);
        }
        let now = t0 + gap * 16;
        assert_eq!(p.next_free(-100, Lane::Alert, now), Some(t0 + minute), "alerts wait");
        // … and four replies still go at the chat's pace
        for i in 0..4 {
            let at = now + gap * i;
            assert_eq!(p.next_free(-100, Lane::Reply, at), None, "reply {i}");
            p.record(-100, at);
        }
        assert_eq!(
            p.next_free(-100, Lane::Reply, now + gap * 4),
            Some(t0 + minute),
            "group budget spent"
        );
        // 25 alerts a second per bot, 30 with replies
        let mut p = PaceState::new(Limits::TELEGRAM);
        for c in 0..25 {
            p.record(c + 1, t0);
        }
        assert_eq!(p.next_free(1000, Lane::Alert, t0), Some(t0 + Duration::from_secs(1)));
        assert_eq!(p.next_free(1000, Lane::Reply, t0), None);
    }

    #[test]
    fn retry_after_holds_the_chat_for_both_lanes() {
        let t0 = Instant::now();
        let mut p = PaceState::new(Limits::TELEGRAM);
        p.hold(-100, t0 + Duration::from_secs(5));
        p.hold(-100, t0 + Duration::from_secs(2)); // a shorter hold does not shorten it
        assert_eq!(p.next_free(-100, Lane::Reply, t0), Some(t0 + Duration::from_secs(5)));
        assert_eq!(p.next_free(-100, Lane::Alert, t0), Some(t0 + Duration::from_secs(5)));
        assert_eq!(p.next_free(-200, Lane::Alert, t0), None, "other chats are not held");
        assert_eq!(p.next_free(-100, Lane::Alert, t0 + Duration::from_secs(5)), None);
    }

    #[test]
    fn unlimited_never_waits() {
        let t0 = Instant::now();
        let mut p = PaceState::new(Limits::UNLIMITED);
        for _ in 0..1000 {
            assert_eq!(p.next_free(-100, Lane::Alert, t0), None);
            p.record(-100, t0);
        }
    }

    #[test]
    fn retry_delays() {
        let s = Duration::from_secs;
        // (retry_after, failures without one so far) → wait
        let table = [
            (None, 1, s(1)),
            (None, 2, s(2)),
            (None, 3, s(4)),
            (None, 4, s(8)),
            (None, 5, s(16)),
            (None, 6, s(30)),
            (None, 60, s(30)),
            (None, 0, s(1)),
            (Some(s(1)), 0, s(1)),
            (Some(s(1)), 5, s(1)),
            (Some(s(45)), 1, s(45)),
        ];
        for (after, n, want) in table {
            assert_eq!(retry_delay(after, n), want, "{after:?} after {n} failures");
        }
        // the sequence of item 4: 2×429 (retry_after 1), then a 500: 1 + 1 + 1 s
        let waits = [
            retry_delay(Some(s(1)), 0),
            retry_delay(Some(s(1)), 0),
            retry_delay(None, 1),
        ];
        assert_eq!(waits.iter().sum::<Duration>(), s(3));
    }
}
