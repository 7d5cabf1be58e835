//! Loss-threshold debouncing for ping monitors: their settings ([`PingSettings`]), the
//! packets of one probe ([`Packets`]), and the loss window ([`LossWindow`]), the step of
//! the verdict pipeline between a probe's outcome and the debounce
//! ([`super::Health::observe`]).
//!
//! The window holds the last `window` probes of a monitor, one byte each, counted in
//! packets: a probe whose first echo went unanswered and whose retry was answered adds
//! one lost and one received packet. When the window is full and its loss reaches
//! `loss` %, an answering probe's [`Outcome::Up`] becomes [`Outcome::Degraded`] ("27%
//! loss over the last 20 probes"), which the debounce then turns into DEGRADED like any
//! other degraded outcome. The step holds on (hysteresis) until the loss has stayed
//! below half of `loss` for a whole window: a lossy link's window dips below half now
//! and then by chance (at 30 % loss, 2 % of 20-probe windows read under 10 %), and a
//! single dip must not announce a recovery. Failed probes and degraded outcomes from
//! elsewhere pass through unchanged, so DOWN still takes `fails` failed probes.
//!
//! An outage empties the window: while the monitor is DOWN (or paused) nothing is
//! counted, so a host that comes back clean is UP, not DEGRADED by the probes that
//! found it dead. Pure data, no I/O, no allocation per probe (the ring is allocated
//! when the window size is first seen), persisted with the monitor's statistics.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::state::{Outcome, State};

/// A loss threshold as users write it: a whole percentage, or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LossLimit {
    /// Never DEGRADED for loss.
    Off,
    /// DEGRADED from this percentage (1–100) of packets lost over the window.
    Pct(u8),
}

impl LossLimit {
    /// Reads `20`, `20%`, ` 20 % `, `off` (also `none`, `false`, `no`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        if matches!(t.as_str(), "off" | "none" | "false" | "no") {
            return Ok(Self::Off);
        }
        let digits = t.strip_suffix('%').unwrap_or(&t).trim();
        match digits.parse::<u8>() {
            Ok(n) => Ok(Self::Pct(n)),
            Err(_) => Err(format!(
                "{s:?} is not a loss threshold (a percentage such as 20 or 20%, or off)"
            )),
        }
    }
}

impl std::fmt::Display for LossLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Off => f.write_str("off"),
            Self::Pct(n) => write!(f, "{n}%"),
        }
    }
}

/// On the wire and on disk: the number (`20`) or the string `"off"`, what a user sends.
impl Serialize for LossLimit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Off => s.serialize_str("off"),
            Self::Pct(n) => s.serialize_u8(*n),
        }
    }
}

impl<'de> Deserialize<'de> for LossLimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Num(u64),
            Word(String),
        }
        match Form::deserialize(d)
            .map_err(|_| serde::de::Error::custom("must be a percentage such as 20 or \"20%\", or \"off\""))?
        {
            Form::Num(n) => u8::try_from(n)
                .map(Self::Pct)
                .map_err(|_| serde::de::Error::custom(format!("{n} is out of range"))),
            Form::Word(w) => Self::parse(&w).map_err(serde::de::Error::custom),
        }
    }
}

/// Settings only ping monitors have (interface.md, "Loss-threshold debouncing").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingSettings {
    /// Echo requests sent again, within the probe timeout, when one gets no reply.
    pub retries: u8,
    /// Packet loss over the window that makes an answering monitor DEGRADED.
    pub loss: LossLimit,
    /// Probes in the loss window.
    pub window: u16,
}

impl PingSettings {
    /// Default `retries` (fping's count of extra tries is the model).
    pub const DEFAULT_RETRIES: u8 = 2;
    /// Default `loss`.
    pub const DEFAULT_LOSS: LossLimit = LossLimit::Pct(20);
    /// Default `window`.
    pub const DEFAULT_WINDOW: u16 = 20;
}

impl Default for PingSettings {
    fn default() -> Self {
        Self {
            retries: Self::DEFAULT_RETRIES,
            loss: Self::DEFAULT_LOSS,
            window: Self::DEFAULT_WINDOW,
        }
    }
}

/// The packets of one probe, as the loss window counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Packets {
    /// Requests that went unanswered: every one sent when the probe failed, else those
    /// sent before the one whose reply came (a retry still in flight when an earlier
    /// request's late reply arrives is neither lost nor received).
    pub lost: u8,
    /// Whether a reply came.
    pub received: bool,
}

/// Lost packets in the low 7 bits of a ring slot; the top bit says a reply came.
const RECEIVED: u8 = 0x80;
const LOST_MASK: u8 = 0x7f;

/// The loss window of one monitor: a fixed ring of its last probes, with running sums.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "WindowRecord", into = "WindowRecord")]
pub struct LossWindow {
    /// One slot per probe (see [`RECEIVED`]); its length is the window. Unused slots
    /// are zero, so sums over the whole ring are sums over the recorded probes.
    ring: Vec<u8>,
    /// The slot the next probe goes into.
    next: usize,
    /// Probes recorded, at most `ring.len()`.
    filled: usize,
    /// Lost packets in the ring.
    lost: u32,
    /// Received packets in the ring.
    received: u32,
    /// Loss reached the threshold and has not stayed below half of it for a window.
    degraded: bool,
    /// While `degraded`: consecutive probes after which the loss read below half.
    calm: usize,
}

/// The persisted form: the sums are recomputed on load, so a damaged record can never
/// make them disagree with the ring.
#[derive(Serialize, Deserialize)]
struct WindowRecord {
    ring: Vec<u8>,
    next: usize,
    filled: usize,
    degraded: bool,
    calm: usize,
}

impl From<WindowRecord> for LossWindow {
    fn from(r: WindowRecord) -> Self {
        let len = r.ring.len();
        let mut w = Self {
            ring: r.ring,
            next: if len == 0 { 0 } else { r.next % len },
            filled: r.filled.min(len),
            degraded: r.degraded,
            calm: r.calm,
            ..Self::default()
        };
        for slot in &w.ring {
            w.lost += u32::from(*slot & LOST_MASK);
            w.received += u32::from(*slot & RECEIVED != 0);
        }
        w
    }
}

impl From<LossWindow> for WindowRecord {
    fn from(w: LossWindow) -> Self {
        Self {
            ring: w.ring,
            next: w.next,
            filled: w.filled,
            degraded: w.degraded,
            calm: w.calm,
        }
    }
}

impl LossWindow {
    /// The loss step of the verdict pipeline: counts one probe's packets and returns
    /// the outcome the debounce sees. `state` is the monitor's state before this
    /// probe. Allocates only when `settings.window` differs from the ring's size (the
    /// first probe, or a changed setting), which starts the window afresh.
    pub fn step(&mut self, settings: &PingSettings, packets: Packets, outcome: Outcome, state: State) -> Outcome {
        let size = usize::from(settings.window.max(1));
        if self.ring.len() != size {
            *self = Self {
                ring: vec![0; size],
                ..Self::default()
            };
        }
        if matches!(state, State::Down | State::Paused) {
            self.clear();
            return outcome;
        }
        self.record(packets);
        let LossLimit::Pct(limit) = settings.loss else {
            self.degraded = false;
            return outcome;
        };
        if self.filled < size {
            return outcome;
        }
        let (lost, total) = (u64::from(self.lost), u64::from(self.lost + self.received));
        let limit = u64::from(limit);
        if !self.degraded {
            if total > 0 && lost * 100 >= limit * total {
                self.degraded = true;
                self.calm = 0;
            }
        } else if lost * 200 < limit * total {
            self.calm += 1;
            if self.calm >= size {
                self.degraded = false;
            }
        } else {
            self.calm = 0;
        }
        match outcome {
            Outcome::Up if self.degraded => Outcome::Degraded(self.reason()),
            other => other,
        }
    }

    /// Forgets every probe (an outage, a pause).
    pub fn clear(&mut self) {
        self.ring.fill(0);
        self.next = 0;
        self.filled = 0;
        self.lost = 0;
        self.received = 0;
        self.degraded = false;
        self.calm = 0;
    }

    fn record(&mut self, p: Packets) {
        let slot = &mut self.ring[self.next];
        self.lost -= u32::from(*slot & LOST_MASK);
        self.received -= u32::from(*slot & RECEIVED != 0);
        let lost = p.lost.min(LOST_MASK);
        *slot = lost | if p.received { RECEIVED } else { 0 };
        self.lost += u32::from(lost);
        self.received += u32::from(p.received);
        self.next = (self.next + 1) % self.ring.len();
        self.filled = (self.filled + 1).min(self.ring.len());
    }

    /// Probes in the window now.
    pub fn probes(&self) -> usize {
        self.filled
    }

    /// Packets lost over the window, % (`None` before any packet).
    pub fn loss_pct(&self) -> Option<f64> {
        let total = self.lost + self.received;
        (total > 0).then(|| f64::from(self.lost) * 100.0 / f64::from(total))
    }

    /// Whether loss holds the monitor DEGRADED.
    pub fn is_degraded(&self) -> bool {
        self.degraded
    }

    /// "27% loss over the last 20 probes".
    pub fn reason(&self) -> String {
        let total = self.lost + self.received;
        let pct = (self.lost * 100 + total / 2).checked_div(total).unwrap_or(0);
        format!("{pct}% loss over the last {} probes", self.filled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One probe of a table: its packets and the outcome the probe itself had.
    #[derive(Clone, Copy)]
    enum P {
        /// Answered at the first echo.
        Ok,
        /// Answered after `n` unanswered echoes.
        Retried(u8),
        /// Every echo (retries + 1 = 3) lost.
        Lost,
    }

    fn input(p: P) -> (Packets, Outcome) {
        match p {
            P::Ok => (
                Packets {
                    lost: 0,
                    received: true,
                },
                Outcome::Up,
            ),
            P::Retried(n) => (
                Packets {
                    lost: n,
                    received: true,
                },
                Outcome::Up,
            ),
            P::Lost => (
                Packets {
                    lost: 3,
                    received: false,
                },
                Outcome::Down("3 of 3 pings lost".into()),
            ),
        }
    }

    /// What the step returned, in short: `U`p, `G` (degraded, with its reason) or `D`own.
    fn short(o: &Outcome) -> String {
        match o {
            Outcome::Up => "U".into(),
            Outcome::Degraded(r) => format!("G:{r}"),
            Outcome::Down(_) => "D".into(),
        }
    }

    fn settings(loss: LossLimit, window: u16) -> PingSettings {
        PingSettings {
            retries: 2,
            loss,
            window,
        }
    }

    /// Runs probes through a window of 4 at loss 50 % (exit below 25 %), the monitor UP.
    fn run(w: &mut LossWindow, s: &PingSettings, probes: &[P]) -> Vec<String> {
        probes
            .iter()
            .map(|p| {
                let (packets, outcome) = input(*p);
                short(&w.step(s, packets, outcome, State::Up))
            })
            .collect()
    }

    #[test]
    fn window_and_hysteresis_table() {
        use P::*;
        // A window of 4 probes, DEGRADED from 50 % loss, calm below 25 %.
        let s = settings(LossLimit::Pct(50), 4);
        let g = |pct: u32| format!("G:{pct}% loss over the last 4 probes");
        // (probe, the window after it (oldest first), what the step returns)
        let table: Vec<(P, &str, String)> = vec![
            // Filling: nothing is judged before the window is full, even at 100 % loss.
            (Lost, "L3", "D".into()),
            (Lost, "L3 L3", "D".into()),
            (Lost, "L3 L3 L3", "D".into()),
            // Full: 9 of 10 packets lost; an answer is DEGRADED.
            (Ok, "L3 L3 L3 R0", g(90)),
            (Retried(2), "L3 L3 R0 R2", g(80)),
            (Ok, "L3 R0 R2 R0", g(63)), // 5 of 8
            // 2 of 6: below 50 %, not below half of it: held DEGRADED (hysteresis).
            (Ok, "R0 R2 R0 R0", g(33)),
            (Ok, "R2 R0 R0 R0", g(33)),
            // Below half: calm 1, 2, 3 …
            (Ok, "R0 R0 R0 R0", g(0)),
            (Ok, "R0 R0 R0 R0", g(0)),
            (Ok, "R0 R0 R0 R0", g(0)),
            // … a whole window of calm: UP.
            (Ok, "R0 R0 R0 R0", "U".into()),
            // From UP, the threshold itself (not half of it) is what counts again.
            (Retried(1), "R0 R0 R0 R1", "U".into()), // 1 of 5
            (Retried(1), "R0 R0 R1 R1", "U".into()), // 2 of 6
            (Retried(2), "R0 R1 R1 R2", g(50)),      // 4 of 8
        ];
        let mut w = LossWindow::default();
        for (i, (p, window, want)) in table.into_iter().enumerate() {
            let got = run(&mut w, &s, &[p]).remove(0);
            assert_eq!(got, want, "probe {i}, window {window}");
        }
    }

    #[test]
    fn a_dip_below_half_must_last_a_whole_window() {
        use P::*;
        let s = settings(LossLimit::Pct(50), 4);
        let mut w = LossWindow::default();
        run(&mut w, &s, &[Lost, Lost, Lost, Lost]);
        assert!(w.is_degraded());
        // Clean probes bring the loss down (0 % from the 4th on); the lost probe at 5,
        // two probes into the calm, puts it back at 50 % for a window and the calm
        // count starts again once it has left: calm at 9, 10, 11, 12 → UP at 12.
        let got = run(&mut w, &s, &[Ok, Ok, Ok, Ok, Ok, Lost, Ok, Ok, Ok, Ok, Ok, Ok, Ok, Ok]);
        let ups: Vec<usize> = got
            .iter()
            .enumerate()
            .filter(|(_, o)| *o == "U")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(ups, vec![12, 13], "{got:?}");
        assert_eq!(got[5], "D", "a failed probe stays a failure");
    }

    #[test]
    fn thirty_percent_counted_loss_is_one_long_degraded_and_never_up() {
        // `numgen inc mod 10 < 3` with retries 2: every 8th probe loses all 3 echoes,
        // the 7 others answer at once; 30 % of the packets are lost.
        let s = PingSettings::default();
        let mut w = LossWindow::default();
        let mut outs = Vec::new();
        for i in 0..400 {
            let (packets, outcome) = input(if i % 8 == 0 { P::Lost } else { P::Ok });
            outs.push(short(&w.step(&s, packets, outcome, State::Up)));
        }
        let first_g = outs.iter().position(|o| o.starts_with('G')).unwrap();
        assert!(first_g >= 19, "not before the window is full: {first_g}");
        assert!(outs[first_g..].iter().all(|o| o != "U"), "no UP while the loss lasts");
        assert!(outs.iter().filter(|o| *o == "D").count() == 50);
        let pct = w.loss_pct().unwrap();
        assert!((20.0..40.0).contains(&pct), "{pct}");
    }

    #[test]
    fn an_outage_empties_the_window_and_off_never_degrades() {
        let s = settings(LossLimit::Pct(20), 3);
        let mut w = LossWindow::default();
        for _ in 0..3 {
            let (p, o) = input(P::Lost);
            w.step(&s, p, o, State::Up);
        }
        // DOWN now: counted nothing, forgot everything.
        let (p, o) = input(P::Ok);
        assert_eq!(w.step(&s, p, o, State::Down), Outcome::Up);
        assert_eq!((w.probes(), w.loss_pct(), w.is_degraded()), (0, None, false));
        // A clean host after the outage is not DEGRADED by the probes that found it dead.
        for _ in 0..5 {
            let (p, o) = input(P::Ok);
            assert_eq!(w.step(&s, p, o, State::Up), Outcome::Up);
        }
        // loss=off: counted (for /status) but never DEGRADED.
        let off = settings(LossLimit::Off, 3);
        for _ in 0..5 {
            let (p, o) = input(P::Retried(2));
            assert_eq!(w.step(&off, p, o, State::Up), Outcome::Up);
        }
        assert_eq!(w.loss_pct(), Some(200.0 / 3.0));
        // Degraded outcomes from elsewhere pass through.
        let slow = Outcome::Degraded("slow".into());
        assert_eq!(w.step(&s, Packets::default(), slow.clone(), State::Up), slow);
    }

    #[test]
    fn survives_a_restart_and_a_damaged_record_is_made_consistent() {
        let s = PingSettings::default();
        let mut w = LossWindow::default();
        for i in 0..30 {
            let (p, o) = input(if i % 3 == 0 { P::Retried(2) } else { P::Ok });
            w.step(&s, p, o, State::Up);
        }
        let json = serde_json::to_string(&w).unwrap();
        let back: LossWindow = serde_json::from_str(&json).unwrap();
        assert_eq!(back, w);
        assert!(!json.contains("\"lost\""), "sums are not stored: {json}");
        let bad = r#"{"ring":[255,1,2],"next":7,"filled":9,"degraded":true,"calm":0}"#;
        let w: LossWindow = serde_json::from_str(bad).unwrap();
        assert_eq!((w.next, w.filled, w.lost, w.received), (1, 3, 127 + 1 + 2, 1));
    }

    #[test]
    fn loss_limits_read_as_people_write_them() {
        assert_eq!(LossLimit::parse("20"), Ok(LossLimit::Pct(20)));
        assert_eq!(LossLimit::parse(" 20 % "), Ok(LossLimit::Pct(20)));
        assert_eq!(LossLimit::parse("OFF"), Ok(LossLimit::Off));
        assert!(LossLimit::parse("lots").is_err());
        assert!(LossLimit::parse("300").is_err());
        let v: LossLimit = serde_json::from_str("\"35%\"").unwrap();
        assert_eq!(v, LossLimit::Pct(35));
        assert_eq!(serde_json::to_string(&LossLimit::Pct(35)).unwrap(), "35");
        assert_eq!(serde_json::to_string(&LossLimit::Off).unwrap(), "\"off\"");
        assert!(serde_json::from_str::<LossLimit>("-1").is_err());
        assert!(serde_json::from_str::<LossLimit>("true").is_err());
        assert_eq!(LossLimit::Pct(20).to_string(), "20%");
    }
}
