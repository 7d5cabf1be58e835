//! The inline buttons under an alert about one DOWN or DEGRADED monitor: ack, mute for
//! an hour, pause. A press runs the same core command a typed one would, with the same
//! permission rules ([`super::bot`] decides who may), is answered with
//! `answerCallbackQuery` (a refusal with its reason), and the alert is edited to say
//! who did what.
//!
//! The button data carries everything a press needs (`ack:7`, `mute:7:3600`,
//! `pause:7`, far below Telegram's 64 bytes), and monitor ids are never reused, so a
//! button sent before a restart works after it: nothing about a sent alert has to be
//! remembered. A press acts on the monitor as it is now (an ack on an UP monitor is
//! refused, with the reason).

use std::time::Duration;

use serde_json::{Value, json};
use teloxide::types::InlineKeyboardMarkup;

use crate::domain::MonitorId;
use crate::domain::oncall::BUTTON_MUTE;
use crate::i18n::{Lang, tr};

/// Telegram's limit on `callback_data`.
pub const MAX_DATA: usize = 64;

/// What a button asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Press {
    /// Ack the monitor's incident.
    Ack(MonitorId),
    /// Mute the monitor for this long.
    Mute(MonitorId, Duration),
    /// Pause the monitor.
    Pause(MonitorId),
}

impl Press {
    /// The monitor pressed about.
    pub fn monitor(self) -> MonitorId {
        match self {
            Press::Ack(id) | Press::Mute(id, _) | Press::Pause(id) => id,
        }
    }

    /// Whether the press changes monitors (groups: admins only), as the command does.
    pub fn modifies(self) -> bool {
        !matches!(self, Press::Ack(_))
    }
}

/// The button data of a press.
pub fn encode(p: Press) -> String {
    match p {
        Press::Ack(id) => format!("ack:{id}"),
        Press::Mute(id, d) => format!("mute:{id}:{}", d.as_secs()),
        Press::Pause(id) => format!("pause:{id}"),
    }
}

/// Reads button data; `None` for data that is not ours (or not any more).
pub fn decode(data: &str) -> Option<Press> {
    let mut parts = data.split(':');
    let (what, id) = (parts.next()?, parts.next()?);
    let id = MonitorId(id.parse().ok()?);
    let p = match (what, parts.next()) {
        ("ack", None) => Press::Ack(id),
        ("pause", None) => Press::Pause(id),
        ("mute", Some(secs)) => {
            let secs: u64 = secs.parse().ok()?;
            if secs == 0 {
                return None;
            }
            Press::Mute(id, Duration::from_secs(secs))
        }
        _ => return None,
    };
    parts.next().is_none().then_some(p)
}

/// The keyboard under an alert about monitor `id`, labelled in `lang`.
pub fn keyboard(id: MonitorId, lang: Lang) -> Value {
    let b = |label: &str, p: Press| json!({"text": tr!(lang, label), "callback_data": encode(p)});
    json!({"inline_keyboard": [[
        b("button-ack", Press::Ack(id)),
        b("button-mute", Press::Mute(id, BUTTON_MUTE)),
        b("button-pause", Press::Pause(id)),
    ]]})
}

/// The message's keyboard without the button pressed (`None`: nothing left).
pub fn without(markup: Option<&InlineKeyboardMarkup>, pressed: &str) -> Option<Value> {
    let rows: Vec<Vec<Value>> = markup?
        .inline_keyboard
        .iter()
        .map(|row| {
            row.iter()
                .filter_map(|b| {
                    let v = serde_json::to_value(b).ok()?;
                    (v["callback_data"].as_str() != Some(pressed)).then_some(v)
                })
                .collect::<Vec<Value>>()
        })
        .filter(|r| !r.is_empty())
        .collect();
    (!rows.is_empty()).then(|| json!({ "inline_keyboard": rows }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn button_data_round_trips_and_fits() {
        for p in [
            Press::Ack(MonitorId(7)),
            Press::Mute(MonitorId(u64::MAX), BUTTON_MUTE),
            Press::Pause(MonitorId(123_456)),
        ] {
            let d = encode(p);
            assert!(d.len() <= MAX_DATA, "{d}");
            assert_eq!(decode(&d), Some(p));
        }
        for bad in [
            "",
            "ack",
            "ack:x",
            "ack:7:1",
            "mute:7",
            "mute:7:0",
            "mute:7:x",
            "del:7",
            "pause:7:1",
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
        assert!(Press::Mute(MonitorId(1), BUTTON_MUTE).modifies());
        assert!(!Press::Ack(MonitorId(1)).modifies());
    }

    #[test]
    fn the_pressed_button_leaves_the_keyboard() {
        let kb: InlineKeyboardMarkup = serde_json::from_value(keyboard(MonitorId(7), Lang::En)).unwrap();
        let left = without(Some(&kb), "ack:7").unwrap();
        let texts: Vec<&str> = left["inline_keyboard"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["callback_data"].as_str().unwrap())
            .collect();
        assert_eq!(texts, vec!["mute:7:3600", "pause:7"]);
        let one: InlineKeyboardMarkup = serde_json::from_value(json!({"inline_keyboard": [[
            {"text": "x", "callback_data": "pause:7"}]]}))
        .unwrap();
        assert_eq!(without(Some(&one), "pause:7"), None);
        assert_eq!(without(None, "pause:7"), None);
    }
}
