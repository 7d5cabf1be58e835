//! Durations as people read and write them: the one parser and the one formatter every
//! front uses (chat replies and alerts, WS and CLI input, the CLI's tables, push
//! "no heartbeat for …" reasons).
//!
//! Written forms: a number of seconds (`30`, `0.5`) or a humantime string (`30s`,
//! `1500ms`, `5m`, `1h`, `1m30s`). Shown form: the two largest units of whole seconds
//! (`5m 3s`, `1h 2m`, `1d 1h`); under a minute, fractions are kept (`1.5s`, `500ms`),
//! because probe timeouts live there.

use std::time::Duration;

/// Largest number of seconds accepted (keeps `Duration` arithmetic far from overflow).
pub const MAX_SECONDS: f64 = 1e9;

/// Parses a duration as users write it: `30` (seconds), `0.5`, `30s`, `1500ms`, `5m`,
/// `1h`, `1m30s`. The error says what was expected.
pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return from_secs(secs).ok_or_else(|| format!("invalid duration {s:?}"));
    }
    humantime::parse_duration(s).map_err(|_| format!("invalid duration {s:?}: use e.g. 30, 30s, 5m"))
}

/// A number of seconds as a duration, if it is between 0 and [`MAX_SECONDS`].
pub fn from_secs(secs: f64) -> Option<Duration> {
    (0.0..=MAX_SECONDS)
        .contains(&secs)
        .then(|| Duration::from_secs_f64(secs))
}

/// The one display form: `5m 3s`, `2h`, `1d 1h`, `30s`, `1.5s`, `500ms`, `0s`.
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(60) && d.subsec_millis() != 0 {
        if d < Duration::from_secs(1) {
            return format!("{}ms", d.subsec_millis());
        }
        let s = format!("{:.3}", d.as_secs_f64());
        return format!("{}s", s.trim_end_matches('0').trim_end_matches('.'));
    }
    let mut left = d.as_secs();
    if left == 0 {
        return "0s".into();
    }
    let mut parts = Vec::new();
    for (unit, secs) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if left >= secs {
            parts.push(format!("{}{unit}", left / secs));
            left %= secs;
        }
    }
    parts.truncate(2);
    parts.join(" ")
}

/// [`human`] of a number of seconds (the WS monitor object's `interval`, `timeout`).
pub fn human_secs(secs: f64) -> String {
    from_secs(secs).map_or_else(|| format!("{secs}s"), human)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_written_form() {
        for (s, ms) in [
            ("30", 30_000),
            ("30s", 30_000),
            ("5m", 300_000),
            ("1500ms", 1500),
            ("1m30s", 90_000),
            ("0.5", 500),
            (" 2 ", 2_000),
        ] {
            assert_eq!(parse(s).unwrap(), Duration::from_millis(ms), "{s}");
        }
        for s in ["", "abc", "-1", "5 parsecs", "NaN", "inf", "1e10"] {
            assert!(parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn shows_two_units_and_fractions_under_a_minute() {
        for (ms, want) in [
            (303_400, "5m 3s"),
            (10, "10ms"),
            (0, "0s"),
            (500, "500ms"),
            (1_500, "1.5s"),
            (1_250, "1.25s"),
            (30_000, "30s"),
            (90_000, "1m 30s"),
            (300_000, "5m"),
            (3_661_000, "1h 1m"),
            (3_905_000, "1h 5m"),
            (86_400_000, "1d"),
            (90_000_000, "1d 1h"),
            (360_400, "6m"),
        ] {
            assert_eq!(human(Duration::from_millis(ms)), want, "{ms} ms");
        }
        assert_eq!(human_secs(5.0), "5s");
        assert_eq!(human_secs(7200.0), "2h");
        assert_eq!(human_secs(-1.0), "-1s");
    }
}
