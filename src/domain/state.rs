//! The debounce state machine: turns a stream of probe outcomes into verdicts.
//!
//! Pure and deterministic (time is passed in), so every rule has a table test.
//! Rules (modelled on gatus `watchdog/alerting.go`):
//! - `fails` consecutive DOWN outcomes → DOWN; `recovers` consecutive UP outcomes → UP;
//!   consecutive DEGRADED outcomes → DEGRADED (after `fails` when coming from UP, since
//!   getting worse is debounced like a failure, after `recovers` otherwise).
//! - The first verdict of a new monitor (PENDING → X) is announced once.
//! - Pause/resume change the state but are never announced; after a resume the first
//!   verdict is announced only if it differs from the state before the pause.
//! - Everything (state, streak, the pre-pause state, outage start) is plain data that is
//!   persisted, so a restart continues a half-counted outage instead of forgetting it.

use std::num::NonZeroU8;

use serde::{Deserialize, Serialize};

/// A monitor's state as users see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// No verdict yet.
    Pending,
    /// Reachable.
    Up,
    /// Alive but not healthy (e.g. a push monitor reporting `degraded`).
    Degraded,
    /// Unreachable.
    Down,
    /// Probing stopped by the user.
    Paused,
}

impl State {
    /// Wire name (`pending`, `up`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Up => "up",
            State::Degraded => "degraded",
            State::Down => "down",
            State::Paused => "paused",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one probe (or one push report), classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The target answered properly.
    Up,
    /// The target answered, but reports or shows trouble; the text says why.
    Degraded(String),
    /// The probe failed; the text says why ("timeout", "connection refused").
    Down(String),
}

/// Which kind of outcome the current streak counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Streak {
    /// Consecutive [`Outcome::Up`].
    Up,
    /// Consecutive [`Outcome::Degraded`].
    Degraded,
    /// Consecutive [`Outcome::Down`].
    Down,
}

/// A state change produced by the machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// Why ("timeout", "paused by user", …).
    pub reason: String,
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// Whether the owning chat should be told (false for pause/resume and for a
    /// post-resume verdict equal to the pre-pause state).
    pub announce: bool,
    /// On recovery from an outage: how long it lasted, in ms.
    #[serde(default)]
    pub down_for_ms: Option<u64>,
}

/// Persisted debounce state of one monitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Current state.
    pub state: State,
    /// When the current state began, ms since the epoch.
    pub since_ms: u64,
    /// Reason for the current state.
    #[serde(default)]
    pub reason: String,
    /// Kind of the current run of identical outcomes.
    #[serde(default)]
    pub streak_kind: Option<Streak>,
    /// Length of that run.
    #[serde(default)]
    pub streak: u32,
    /// State before a pause; decides whether the first verdict after resume is news.
    #[serde(default)]
    pub before_pause: Option<State>,
    /// Start of the current outage (set on entering DOWN, cleared on UP).
    #[serde(default)]
    pub down_since_ms: Option<u64>,
    /// How far an ongoing DEGRADED has gone, as last announced (a certificate's 14, 3
    /// or 1 days before expiry as levels 1, 2, 3); see [`Health::observe_stepped`].
    /// One byte, so the record does not grow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<NonZeroU8>,
}

impl Health {
    /// A new monitor: pending, nothing counted.
    pub fn new(now_ms: u64) -> Self {
        Self {
            state: State::Pending,
            since_ms: now_ms,
            reason: String::new(),
            streak_kind: None,
            streak: 0,
            before_pause: None,
            down_since_ms: None,
            step: None,
        }
    }

    /// A new monitor that starts paused.
    pub fn new_paused(now_ms: u64) -> Self {
        Self {
            state: State::Paused,
            ..Self::new(now_ms)
        }
    }

    /// Feeds one outcome. Returns the transition when the state changes.
    pub fn observe(&mut self, outcome: &Outcome, fails: u32, recovers: u32, now_ms: u64) -> Option<Transition> {
        if self.state == State::Paused {
            return None;
        }
        let (kind, target, reason) = match outcome {
            Outcome::Up => (Streak::Up, State::Up, String::new()),
            Outcome::Degraded(r) => (Streak::Degraded, State::Degraded, r.clone()),
            Outcome::Down(r) => (Streak::Down, State::Down, r.clone()),
        };
        if self.streak_kind == Some(kind) {
            self.streak = self.streak.saturating_add(1);
        } else {
            self.streak_kind = Some(kind);
            self.streak = 1;
        }
        let threshold = match target {
            State::Up => recovers,
            State::Down => fails,
            _ if self.state == State::Up => fails,
            _ => recovers,
        }
        .max(1);
        if self.state == target {
            // Keep the freshest reason for an ongoing DOWN/DEGRADED.
            if !reason.is_empty() {
                self.reason = reason;
            }
            return None;
        }
        if self.streak < threshold {
            return None;
        }
        let from = self.state;
        let resumed_same = from == State::Pending && self.before_pause == Some(target);
        self.before_pause = None;
        let down_for_ms = match target {
            State::Down => {
                self.down_since_ms.get_or_insert(now_ms);
                None
            }
            State::Up => self.down_since_ms.take().map(|s| now_ms.saturating_sub(s)),
            _ => None,
        };
        Some(self.enter(from, target, reason, now_ms, !resumed_same, down_for_ms))
    }

    /// [`Health::observe`] for an outcome that may carry a step: how far a DEGRADED
    /// cause has gone (a certificate 14, then 3, then 1 day from expiry: levels 1, 2,
    /// 3; higher is worse). Entering DEGRADED records the step; while DEGRADED, reaching a new,
    /// worse step is a DEGRADED → DEGRADED transition, announced with the new reason
    /// (once per step, however many probes see it); a step that eases or goes away is
    /// recorded without a word. Leaving DEGRADED forgets the step.
    pub fn observe_stepped(
        &mut self,
        outcome: &Outcome,
        step: Option<NonZeroU8>,
        fails: u32,
        recovers: u32,
        now_ms: u64,
    ) -> Option<Transition> {
        let step = step.filter(|_| matches!(outcome, Outcome::Degraded(_)));
        if let Some(t) = self.observe(outcome, fails, recovers, now_ms) {
            self.step = if t.to == State::Degraded { step } else { None };
            return Some(t);
        }
        let Outcome::Degraded(reason) = outcome else {
            return None;
        };
        if self.state != State::Degraded || self.step == step {
            return None;
        }
        let worse = match (self.step, step) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(old), Some(new)) => new > old,
        };
        self.step = step;
        worse.then(|| Transition {
            from: State::Degraded,
            to: State::Degraded,
            reason: reason.clone(),
            at_ms: now_ms,
            announce: true,
            down_for_ms: None,
        })
    }

    /// Stops probing: state becomes PAUSED (never announced).
    pub fn pause(&mut self, now_ms: u64) -> Option<Transition> {
        if self.state == State::Paused {
            return None;
        }
        let from = self.state;
        self.before_pause = Some(from);
        self.down_since_ms = None;
        Some(self.enter(from, State::Paused, "paused by user".into(), now_ms, false, None))
    }

    /// Restarts probing: state becomes PENDING with nothing counted (never announced).
    pub fn resume(&mut self, now_ms: u64) -> Option<Transition> {
        if self.state != State::Paused {
            return None;
        }
        Some(self.enter(
            State::Paused,
            State::Pending,
            "resumed by user".into(),
            now_ms,
            false,
            None,
        ))
    }

    fn enter(
        &mut self,
        from: State,
        to: State,
        reason: String,
        now_ms: u64,
        announce: bool,
        down_for_ms: Option<u64>,
    ) -> Transition {
        self.state = to;
        self.since_ms = now_ms;
        self.reason = reason.clone();
        if to != State::Degraded {
            self.step = None;
        }
        if matches!(to, State::Paused | State::Pending) {
            self.streak_kind = None;
            self.streak = 0;
        }
        Transition {
            from,
            to,
            reason,
            at_ms: now_ms,
            announce,
            down_for_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One step of a scenario: the input and the expected (to, announce) if any.
    enum Step {
        U,
        D,
        G,
        Pause,
        Resume,
    }
    use Step::*;

    fn run(steps: &[(Step, Option<(State, bool)>)], fails: u32, recovers: u32) -> Health {
        let mut h = Health::new(0);
        for (i, (step, want)) in steps.iter().enumerate() {
            let now = (i as u64 + 1) * 1000;
            let got = match step {
                U => h.observe(&Outcome::Up, fails, recovers, now),
                D => h.observe(&Outcome::Down("timeout".into()), fails, recovers, now),
                G => h.observe(&Outcome::Degraded("slow".into()), fails, recovers, now),
                Pause => h.pause(now),
                Resume => h.resume(now),
            };
            let got = got.map(|t| (t.to, t.announce));
            assert_eq!(got, *want, "step {i}");
        }
        h
    }

    const UP: Option<(State, bool)> = Some((State::Up, true));
    const DOWN: Option<(State, bool)> = Some((State::Down, true));
    const NONE: Option<(State, bool)> = None;

    /// Certificate steps: one alert on entering DEGRADED (at 14 days), one at 3 and
    /// one at 1, none for the daily reason changes between them, none when it eases,
    /// and the step is forgotten on recovery.
    #[test]
    fn degraded_steps_announce_once_each() {
        let mut h = Health::new(0);
        let cert = |d: u32| Outcome::Degraded(format!("certificate expires in {d} days"));
        let mut seen = Vec::new();
        let level = NonZeroU8::new;
        let feed = |h: &mut Health, o: &Outcome, step: Option<NonZeroU8>, seen: &mut Vec<(State, State, String)>| {
            if let Some(t) = h.observe_stepped(o, step, 2, 2, 1) {
                assert!(t.announce);
                seen.push((t.from, t.to, t.reason));
            }
        };
        for _ in 0..3 {
            feed(&mut h, &Outcome::Up, None, &mut seen);
        }
        for d in [14, 14, 13, 12, 4, 3, 3, 2, 1, 1] {
            let step = if d <= 1 {
                3
            } else if d <= 3 {
                2
            } else {
                1
            };
            feed(&mut h, &cert(d), level(step), &mut seen);
        }
        assert_eq!(h.step, level(3));
        // Slow but the certificate renewed: still DEGRADED, step forgotten, no word.
        feed(&mut h, &Outcome::Degraded("slow".into()), None, &mut seen);
        assert_eq!((h.state, h.step), (State::Degraded, None));
        // A later certificate step is news again.
        feed(&mut h, &cert(10), level(1), &mut seen);
        for _ in 0..2 {
            feed(&mut h, &Outcome::Up, None, &mut seen);
        }
        assert_eq!((h.state, h.step), (State::Up, None));
        let want = |from, to, r: &str| (from, to, r.to_string());
        assert_eq!(
            seen,
            [
                want(State::Pending, State::Up, ""),
                want(State::Up, State::Degraded, "certificate expires in 14 days"),
                want(State::Degraded, State::Degraded, "certificate expires in 3 days"),
                want(State::Degraded, State::Degraded, "certificate expires in 1 days"),
                want(State::Degraded, State::Degraded, "certificate expires in 10 days"),
                want(State::Degraded, State::Up, ""),
            ]
        );
        // A step carried by an outcome that is not DEGRADED is ignored.
        assert_eq!(h.observe_stepped(&Outcome::Up, level(2), 2, 2, 1), None);
        assert_eq!(h.step, None);
    }

    #[test]
    fn first_verdict_up_after_recovers() {
        run(&[(U, NONE), (U, UP), (U, NONE), (U, NONE)], 3, 2);
    }

    #[test]
    fn first_verdict_down_after_fails() {
        run(&[(D, NONE), (D, NONE), (D, DOWN), (D, NONE)], 3, 2);
    }

    #[test]
    fn lost_pings_below_threshold_never_alert() {
        run(
            &[
                (U, NONE),
                (U, UP),
                (D, NONE),
                (D, NONE),
                (U, NONE),
                (D, NONE),
                (D, NONE),
                (U, NONE),
            ],
            3,
            2,
        );
    }

    #[test]
    fn outage_and_recovery_reports_duration() {
        let mut h = Health::new(0);
        h.observe(&Outcome::Up, 2, 1, 1_000);
        h.observe(&Outcome::Down("refused".into()), 2, 1, 2_000);
        let t = h.observe(&Outcome::Down("refused".into()), 2, 1, 3_000).unwrap();
        assert_eq!((t.from, t.to, t.reason.as_str()), (State::Up, State::Down, "refused"));
        let t = h.observe(&Outcome::Up, 2, 1, 10_000).unwrap();
        assert_eq!((t.to, t.down_for_ms), (State::Up, Some(7_000)));
    }

    #[test]
    fn flapping_recovery_needs_consecutive_successes() {
        run(
            &[
                (D, NONE),
                (D, NONE),
                (D, DOWN),
                (U, NONE),
                (D, NONE),
                (U, NONE),
                (U, UP),
            ],
            3,
            2,
        );
    }

    #[test]
    fn degraded_debounced_like_failure_from_up() {
        let deg = Some((State::Degraded, true));
        run(
            &[(U, NONE), (U, UP), (G, NONE), (G, NONE), (G, deg), (U, NONE), (U, UP)],
            3,
            2,
        );
    }

    #[test]
    fn pause_and_resume_are_silent_and_same_verdict_is_not_news() {
        let paused = Some((State::Paused, false));
        let pending = Some((State::Pending, false));
        run(
            &[
                (U, NONE),
                (U, UP),
                (Pause, paused),
                (D, NONE),
                (Pause, NONE),
                (Resume, pending),
                (U, NONE),
                (U, Some((State::Up, false))),
            ],
            3,
            2,
        );
    }

    #[test]
    fn resume_into_different_state_is_announced() {
        let paused = Some((State::Paused, false));
        let pending = Some((State::Pending, false));
        run(
            &[
                (U, NONE),
                (U, UP),
                (Pause, paused),
                (Resume, pending),
                (D, NONE),
                (D, NONE),
                (D, DOWN),
            ],
            3,
            2,
        );
    }

    #[test]
    fn threshold_one_is_immediate() {
        run(&[(D, DOWN), (U, UP), (D, DOWN)], 1, 1);
        // zero is treated as one, never as "never"
        run(&[(D, DOWN)], 0, 0);
    }

    #[test]
    fn half_counted_outage_survives_a_restart() {
        let mut h = Health::new(0);
        h.observe(&Outcome::Up, 3, 1, 1);
        h.observe(&Outcome::Down("t".into()), 3, 1, 2);
        h.observe(&Outcome::Down("t".into()), 3, 1, 3);
        let json = serde_json::to_string(&h).unwrap();
        let mut back: Health = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
        let t = back.observe(&Outcome::Down("t".into()), 3, 1, 4).unwrap();
        assert_eq!(t.to, State::Down);
    }
}
