//! The quorum step: from what each site says about a monitor to what the cluster says.
//! Pure (no I/O, no clock), so every rule has a table test.
//!
//! Rules:
//! - A site is counted when it probes the monitor and has reported within the last
//!   3 intervals; the others are left out of the count ("not reporting").
//! - `need` is the monitor's `quorum` (at most the counted sites; at least 1), or a
//!   majority of the counted sites.
//! - DOWN when at least `need` counted sites say DOWN; else DEGRADED when at least `need`
//!   say DOWN or DEGRADED; else UP when at least `need` say UP; else no verdict (the
//!   cluster keeps what it said last). So UP after an outage takes the same quorum.
//! - Sites without a verdict yet (pending) are counted but vote for nothing.
//!
//! The result is fed to the monitor's cluster-wide [`crate::domain::Health`] with
//! `fails = recovers = 1` (the sites have debounced already), which gives the usual
//! rules for free: the first verdict is announced once, a pause and resume, the outage's
//! length on recovery.

use crate::domain::{Outcome, State};

/// One site's say about one monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote<'a> {
    /// The site.
    pub site: &'a str,
    /// Its verdict (`None`: none yet).
    pub state: Option<State>,
    /// Its reason for DOWN or DEGRADED.
    pub reason: &'a str,
    /// It reported within the last 3 intervals.
    pub counted: bool,
}

/// What the cluster says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The outcome to feed the cluster's health (`None`: no quorum either way).
    pub outcome: Option<Outcome>,
    /// Counted sites.
    pub counted: usize,
    /// How many must agree.
    pub need: usize,
}

/// How many of `counted` sites must agree, for a monitor's `quorum` setting.
pub fn need(quorum: Option<u32>, counted: usize) -> usize {
    match quorum {
        None => counted / 2 + 1,
        Some(q) => usize::try_from(q).unwrap_or(usize::MAX).min(counted).max(1),
    }
}

/// The sites' votes (sorted by site) → the cluster's outcome.
pub fn decide(votes: &[Vote<'_>], quorum: Option<u32>) -> Decision {
    let counted: Vec<&Vote<'_>> = votes.iter().filter(|v| v.counted).collect();
    let n = counted.len();
    let need = need(quorum, n);
    let with = |states: &[State]| -> Vec<&Vote<'_>> {
        counted
            .iter()
            .copied()
            .filter(|v| v.state.is_some_and(|s| states.contains(&s)))
            .collect()
    };
    let down = with(&[State::Down]);
    let troubled = with(&[State::Down, State::Degraded]);
    let up = with(&[State::Up]);
    let outcome = if n == 0 {
        None
    } else if down.len() >= need {
        Some(Outcome::Down(reason("down", &down, n)))
    } else if troubled.len() >= need {
        Some(Outcome::Degraded(reason("degraded", &troubled, n)))
    } else if up.len() >= need {
        Some(Outcome::Up)
    } else {
        None
    };
    Decision {
        outcome,
        counted: n,
        need,
    }
}

/// Where the counted sites are taking a cluster whose verdict is `current`: DOWN while
/// some of them say DOWN and the quorum has not (yet) said so; UP while the verdict is
/// DOWN or DEGRADED and some say UP; else none. The on-call plan waits on a heading as a
/// single node waits on its debounce streak (a parent heading DOWN holds its children's
/// alerts; a parent's DOWN waits for children that are failing).
pub fn heading(votes: &[Vote<'_>], current: State) -> Option<State> {
    let says = |s: State| votes.iter().any(|v| v.counted && v.state == Some(s));
    match current {
        State::Paused => None,
        State::Down => says(State::Up).then_some(State::Up),
        State::Degraded if !says(State::Down) => says(State::Up).then_some(State::Up),
        _ => says(State::Down).then_some(State::Down),
    }
}

/// "down from 2 of 3 sites: fra, sin (connection refused)": the sites that see it, and
/// the first of their reasons (most sites share it).
fn reason(word: &str, sites: &[&Vote<'_>], of: usize) -> String {
    let names: Vec<&str> = sites.iter().map(|v| v.site).collect();
    let why = sites.iter().map(|v| v.reason).find(|r| !r.is_empty());
    let noun = if of == 1 { "site" } else { "sites" };
    match why {
        Some(r) => format!("{word} from {} of {of} {noun}: {} ({r})", names.len(), names.join(", ")),
        None => format!("{word} from {} of {of} {noun}: {}", names.len(), names.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::{Degraded, Down, Pending, Up};

    fn v(site: &'static str, state: Option<State>, counted: bool) -> Vote<'static> {
        let reason = match state {
            Some(Down) => "connection refused",
            Some(Degraded) => "slow",
            _ => "",
        };
        Vote {
            site,
            state,
            reason,
            counted,
        }
    }

    #[test]
    fn need_is_a_majority_of_the_counted_sites_or_the_quorum() {
        for (quorum, counted, want) in [
            (None, 0, 1),
            (None, 1, 1),
            (None, 2, 2),
            (None, 3, 2),
            (None, 4, 3),
            (None, 5, 3),
            (Some(1), 3, 1),
            (Some(3), 3, 3),
            // a quorum larger than the sites still reporting is what they can give
            (Some(3), 2, 2),
            (Some(2), 1, 1),
        ] {
            assert_eq!(need(quorum, counted), want, "quorum {quorum:?} of {counted}");
        }
    }

    #[test]
    fn heading_is_where_some_counted_sites_already_are() {
        let votes = |a, b, counted| [v("a", a, true), v("b", b, counted), v("c", Some(Up), true)];
        for (votes, current, want) in [
            (votes(Some(Up), Some(Down), true), Up, Some(Down)),
            (votes(Some(Up), Some(Down), true), Pending, Some(Down)),
            // a site left out does not count
            (votes(Some(Up), Some(Down), false), Up, None),
            (votes(Some(Up), Some(Up), true), Up, None),
            (votes(Some(Down), Some(Down), true), Down, Some(Up)),
            (votes(Some(Down), Some(Up), true), Degraded, Some(Down)),
            (votes(Some(Degraded), Some(Pending), true), Degraded, Some(Up)),
            (votes(Some(Down), Some(Down), true), State::Paused, None),
        ] {
            assert_eq!(heading(&votes, current), want, "{votes:?} while {current:?}");
        }
        let all_down = [v("a", Some(Down), true), v("b", Some(Down), true)];
        assert_eq!(heading(&all_down, Down), None);
    }

    /// What, the votes, the quorum, the outcome.
    type Case = (&'static str, Vec<Vote<'static>>, Option<u32>, Option<Outcome>);

    #[test]
    fn table() {
        let cases: Vec<Case> = vec![
            (
                "one of three down: no verdict yet (the others say up)",
                vec![v("a", Some(Up), true), v("b", Some(Down), true), v("c", Some(Up), true)],
                None,
                Some(Outcome::Up),
            ),
            (
                "two of three down",
                vec![
                    v("a", Some(Up), true),
                    v("b", Some(Down), true),
                    v("c", Some(Down), true),
                ],
                None,
                Some(Outcome::Down(
                    "down from 2 of 3 sites: b, c (connection refused)".into(),
                )),
            ),
            (
                "all down",
                vec![
                    v("a", Some(Down), true),
                    v("b", Some(Down), true),
                    v("c", Some(Down), true),
                ],
                None,
                Some(Outcome::Down(
                    "down from 3 of 3 sites: a, b, c (connection refused)".into(),
                )),
            ),
            (
                "a site not reporting is left out: 2 of 2 counted",
                vec![
                    v("a", Some(Up), false),
                    v("b", Some(Down), true),
                    v("c", Some(Down), true),
                ],
                None,
                Some(Outcome::Down(
                    "down from 2 of 2 sites: b, c (connection refused)".into(),
                )),
            ),
            (
                "1 up 1 down of 2 counted: no majority, no verdict",
                vec![
                    v("a", Some(Down), false),
                    v("b", Some(Down), true),
                    v("c", Some(Up), true),
                ],
                None,
                None,
            ),
            (
                "pending sites count but vote for nothing",
                vec![
                    v("a", Some(Down), true),
                    v("b", Some(Pending), true),
                    v("c", None, true),
                ],
                None,
                None,
            ),
            (
                "quorum=1: any site",
                vec![v("a", Some(Up), true), v("b", Some(Down), true), v("c", Some(Up), true)],
                Some(1),
                Some(Outcome::Down("down from 1 of 3 sites: b (connection refused)".into())),
            ),
            (
                "quorum=3 with one down: still up",
                vec![
                    v("a", Some(Down), true),
                    v("b", Some(Down), true),
                    v("c", Some(Up), true),
                ],
                Some(3),
                None,
            ),
            (
                "degraded counts with down toward DEGRADED",
                vec![
                    v("a", Some(Degraded), true),
                    v("b", Some(Down), true),
                    v("c", Some(Up), true),
                ],
                None,
                Some(Outcome::Degraded("degraded from 2 of 3 sites: a, b (slow)".into())),
            ),
            (
                "one site alone",
                vec![v("a", Some(Down), true)],
                None,
                Some(Outcome::Down("down from 1 of 1 site: a (connection refused)".into())),
            ),
            (
                "nobody reporting: no verdict",
                vec![v("a", Some(Down), false)],
                None,
                None,
            ),
            ("no sites", vec![], None, None),
        ];
        for (what, votes, quorum, want) in cases {
            assert_eq!(decide(&votes, quorum).outcome, want, "{what}");
        }
    }

    #[test]
    fn up_again_takes_the_same_quorum() {
        // Through the cluster's health: one site cut (nothing), DOWN by 2 of 3, one of
        // them recovers (still 2 of 3 up: UP once, with the outage's length).
        let mut h = crate::domain::Health::new(0);
        let mut feed = |votes: &[Vote<'_>], at: u64| {
            decide(votes, None)
                .outcome
                .and_then(|o| h.observe(&o, 1, 1, at))
                .map(|t| (t.from, t.to, t.announce, t.down_for_ms))
        };
        let all_up = [v("a", Some(Up), true), v("b", Some(Up), true), v("c", Some(Up), true)];
        assert_eq!(feed(&all_up, 1), Some((Pending, Up, true, None)));
        let one = [v("a", Some(Up), true), v("b", Some(Down), true), v("c", Some(Up), true)];
        assert_eq!(feed(&one, 2), None, "one site cut: no alert");
        let two = [
            v("a", Some(Up), true),
            v("b", Some(Down), true),
            v("c", Some(Down), true),
        ];
        assert_eq!(feed(&two, 3), Some((Up, Down, true, None)));
        assert_eq!(feed(&two, 4), None, "said once");
        let all = [
            v("a", Some(Down), true),
            v("b", Some(Down), true),
            v("c", Some(Down), true),
        ];
        assert_eq!(feed(&all, 5), None, "more sites agreeing is no new alert");
        let a_back = [
            v("a", Some(Up), true),
            v("b", Some(Down), true),
            v("c", Some(Down), true),
        ];
        assert_eq!(feed(&a_back, 6), None, "one site back is not a quorum for UP");
        assert_eq!(feed(&one, 9), Some((Down, Up, true, Some(6))));
        assert_eq!(feed(&all_up, 10), None);
    }
}
