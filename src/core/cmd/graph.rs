//! `graph`: one monitor's response time over a period as a PNG chart, with the
//! period's uptime and incidents (read from the monitor's history, see
//! [`crate::domain::history`]). The chat sends the PNG as a photo with a caption, the
//! WS API returns it in base64, the CLI writes it to a file.
//!
//! Drawing takes a few milliseconds of CPU; at most [`MAX_RENDERS`] run at once, on
//! the blocking pool, so a burst of requests queues instead of stalling a runtime.

use crate::i18n::{Msg, msg};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Selector, Spec, args};
use crate::core::error::CoreError;
use crate::core::service::{Caller, MonitorView, Service};
use crate::domain::history::{Bucket, DAY_MS, HOUR_MS, Incident, MINUTE_MS, Series, utc};
use crate::domain::now_ms;
use crate::pictures::chart;

/// Help and menu text.
pub const SPEC: Spec = Spec {
    name: "graph",
    args: "<id> [1h|24h|7d|30d]",
    about: "response-time chart with uptime and incidents",
    example: "7 24h",
    modifies: false,
};

/// Charts drawn at once.
pub const MAX_RENDERS: usize = 2;

/// The period a chart covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Period {
    /// The last hour, per minute.
    #[serde(rename = "1h")]
    Hour,
    /// The last 24 hours, per 5 minutes.
    #[default]
    #[serde(rename = "24h", alias = "1d")]
    Day,
    /// The last 7 days, per hour.
    #[serde(rename = "7d", alias = "1w")]
    Week,
    /// The last 30 days, per 3 hours.
    #[serde(rename = "30d")]
    Month,
}

impl Period {
    /// Every period, in order.
    pub const ALL: [Period; 4] = [Period::Hour, Period::Day, Period::Week, Period::Month];

    /// `1h`, `24h`, `7d`, `30d`.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Hour => "1h",
            Period::Day => "24h",
            Period::Week => "7d",
            Period::Month => "30d",
        }
    }

    /// `last 24 h`.
    pub fn label(self) -> &'static str {
        match self {
            Period::Hour => "last hour",
            Period::Day => "last 24 h",
            Period::Week => "last 7 days",
            Period::Month => "last 30 days",
        }
    }

    /// The span, ms.
    pub fn span_ms(self) -> u64 {
        match self {
            Period::Hour => HOUR_MS,
            Period::Day => DAY_MS,
            Period::Week => 7 * DAY_MS,
            Period::Month => 30 * DAY_MS,
        }
    }

    /// The step the history is read at (figures and incidents come from it).
    pub fn read_step_ms(self) -> u64 {
        match self {
            Period::Hour | Period::Day | Period::Week => MINUTE_MS,
            Period::Month => HOUR_MS,
        }
    }

    /// The step the chart is drawn at (about 60 to 300 points).
    pub fn chart_step_ms(self) -> u64 {
        match self {
            Period::Hour => MINUTE_MS,
            Period::Day => 5 * MINUTE_MS,
            Period::Week => HOUR_MS,
            Period::Month => 3 * HOUR_MS,
        }
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Period {
    type Err = Msg;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "1h" => Ok(Period::Hour),
            "24h" | "1d" => Ok(Period::Day),
            "7d" | "1w" => Ok(Period::Week),
            "30d" => Ok(Period::Month),
            other => Err(msg!("err-unknown-period", value = format!("{other:?}"))),
        }
    }
}

/// `graph`'s input: `{"id": 7, "period": "24h"}` on the WS API, `upbot graph 7 24h`
/// on the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct GraphRequest {
    /// Monitor id (7 or #7)
    #[arg(value_parser = args::monitor_id)]
    #[serde(with = "args::num")]
    pub id: u64,
    /// Period: 1h, 24h, 7d or 30d
    #[arg(default_value = "24h")]
    #[serde(default)]
    pub period: Period,
}

impl GraphRequest {
    /// Parses the chat form `<id|host> [period]`.
    pub fn parse_chat(text: &str) -> Result<(Selector, Period), CoreError> {
        let mut words = text.split_whitespace();
        let sel = Selector::parse(words.next().unwrap_or(""))?;
        let period = match words.next() {
            Some(p) => p.parse().map_err(CoreError::Validation)?,
            None => Period::default(),
        };
        if let Some(extra) = words.next() {
            return Err(CoreError::Validation(msg!(
                "err-unexpected-usage",
                word = format!("{extra:?}"),
                cmd = "/graph",
                args = SPEC.args
            )));
        }
        Ok((sel, period))
    }
}

/// A chart and what its caption says.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphView {
    /// The monitor.
    pub monitor: MonitorView,
    /// The period.
    pub period: Period,
    /// Start of the period, ms.
    pub from_ms: u64,
    /// End of the period (now), ms.
    pub to_ms: u64,
    /// Everything in the period merged: probes, RTT, time known/DOWN/DEGRADED.
    pub totals: Bucket,
    /// DOWN periods, oldest first.
    pub incidents: Vec<Incident>,
    /// The chart.
    pub png: Vec<u8>,
}

impl GraphView {
    /// Uptime over the period, percent (`None`: nothing known yet).
    pub fn uptime_pct(&self) -> Option<f64> {
        self.totals.uptime_pct()
    }
}

/// `2026-11-23 12:40`.
pub fn utc_stamp(ms: u64) -> String {
    let (y, mo, d, h, mi) = utc(ms);
    format!("{y}-{mo:02}-{d:02} {h:02}:{mi:02}")
}

/// `99.95%` (never rounded up to 100), `—` when nothing is known.
pub fn uptime_text(v: Option<f64>) -> String {
    crate::pictures::page::pct(v)
}

fn subtitle(period: Period, from: u64, to: u64, totals: &Bucket, incidents: usize) -> String {
    let inc = match incidents {
        0 => "no incidents".to_string(),
        1 => "1 incident".to_string(),
        n => format!("{n} incidents"),
    };
    format!(
        "{} · {} – {} UTC · uptime {} · {inc}",
        period.label(),
        utc_stamp(from),
        utc_stamp(to),
        uptime_text(totals.uptime_pct())
    )
}

pub(crate) async fn run(
    svc: &Service,
    caller: &Caller,
    sel: &Selector,
    period: Period,
) -> Result<GraphView, CoreError> {
    let m = svc.resolve(caller, sel)?;
    let now = now_ms();
    let from = now.saturating_sub(period.span_ms());
    let fine: Series = svc.history(&m, from, now, period.read_step_ms(), now)?;
    let totals = fine.totals();
    let incidents = fine.incidents();
    let view = svc.view(&m, None);
    let title = if view.name == view.target || view.target.is_empty() {
        view.name.clone()
    } else {
        format!("{} ({})", view.name, view.target)
    };
    let sub = subtitle(period, from, now, &totals, incidents.len());
    let series = fine.resample(period.chart_step_ms());
    let _slot = svc.render_slot().await;
    let png = tokio::task::spawn_blocking(move || {
        chart::render(&chart::Chart {
            title: &title,
            subtitle: &sub,
            series: &series,
        })
        .map(|(png, _)| png)
    })
    .await
    .map_err(|e| CoreError::Internal(format!("chart task: {e}")))?
    .map_err(|e| CoreError::Internal(e.to_string()))?;
    Ok(GraphView {
        monitor: view,
        period,
        from_ms: from,
        to_ms: now,
        totals,
        incidents,
        png,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MonitorId;
    use serde_json::json;

    #[test]
    fn periods_parse_in_every_form() {
        for (s, p) in [
            ("1h", Period::Hour),
            ("24H", Period::Day),
            ("1d", Period::Day),
            ("7d", Period::Week),
            ("30d", Period::Month),
        ] {
            assert_eq!(s.parse::<Period>(), Ok(p));
        }
        assert!(
            "2h".parse::<Period>()
                .unwrap_err()
                .to_string()
                .contains("1h, 24h, 7d or 30d")
        );
        let r: GraphRequest = args::from_json(json!({"id": "7"})).unwrap();
        assert_eq!(r.period, Period::Day, "24h by default");
        let r: GraphRequest = args::from_json(json!({"id": 7, "period": "7d"})).unwrap();
        assert_eq!(r.period, Period::Week);
        assert!(args::from_json::<GraphRequest>(json!({"id": 7, "period": "2h"})).is_err());
        for p in Period::ALL {
            assert_eq!(p.as_str().parse::<Period>(), Ok(p));
            assert!(p.span_ms() / p.chart_step_ms() <= 300);
            assert_eq!(p.chart_step_ms() % p.read_step_ms(), 0);
        }
    }

    #[test]
    fn chat_form() {
        assert_eq!(
            GraphRequest::parse_chat("7").unwrap(),
            (Selector::Id(MonitorId(7)), Period::Day)
        );
        assert_eq!(
            GraphRequest::parse_chat("#7 30d").unwrap(),
            (Selector::Id(MonitorId(7)), Period::Month)
        );
        assert_eq!(
            GraphRequest::parse_chat("db 1h").unwrap(),
            (Selector::Host("db".into()), Period::Hour)
        );
        assert!(GraphRequest::parse_chat("").is_err());
        assert!(GraphRequest::parse_chat("7 2h").is_err());
        assert!(GraphRequest::parse_chat("7 1h extra").is_err());
    }

    #[test]
    fn subtitles_say_the_period_and_its_figures() {
        let t0 = 1_795_392_000_000;
        let mut b = Bucket::default();
        b.spend(crate::domain::State::Up, 999_000);
        b.spend(crate::domain::State::Down, 1_000);
        assert_eq!(
            subtitle(Period::Day, t0, t0 + DAY_MS, &b, 1),
            "last 24 h · 2026-11-23 00:00 – 2026-11-24 00:00 UTC · uptime 99.90% · 1 incident"
        );
        assert!(subtitle(Period::Hour, t0, t0, &Bucket::default(), 0).ends_with("uptime — · no incidents"));
    }
}
