//! `ack`: someone is on it. Anyone in the chat may ack, but only a DOWN or DEGRADED
//! monitor; the ack stops reminders for this incident and ends with it (a recovery, or
//! a new outage after one). The chat is told who and why: a chat's `/ack` by its reply,
//! an ack through the API by a message queued for the chat.

use crate::i18n::msg;
use serde::{Deserialize, Serialize};

use super::{Selector, Spec, args};
use crate::core::error::{CoreError, invalid};
use crate::core::oncall::clean_reason;
use crate::core::service::{Caller, MonitorView, Service};
use crate::domain::oncall::{self, Ack, Notice};
use crate::domain::{MonitorId, now_ms};

/// Help and menu text.
pub const SPEC: Spec = Spec {
    name: "ack",
    args: "<id> [reason]",
    about: "I'm on it: stop reminders until it recovers",
    example: "7 looking into it",
    modifies: false,
};

/// `ack`'s input: `{"id": 7, "reason": "on it"}` on the WS API, `upbot ack 7 --reason …`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    /// Monitor id (7 or #7)
    #[arg(value_parser = args::monitor_id)]
    #[serde(with = "args::num")]
    pub id: u64,
    /// why, shown to the chat (e.g. "looking into it")
    #[arg(long)]
    #[serde(default)]
    pub reason: Option<String>,
    /// Who acks: set by the chat front from the sender (not an input).
    #[arg(skip)]
    #[serde(skip)]
    pub by: Option<String>,
}

impl AckRequest {
    /// The chat form: `<id> [reason…]`.
    pub fn parse_chat(text: &str) -> Result<Self, CoreError> {
        let (id, rest) = split_first(text);
        if id.is_empty() {
            return Err(invalid(msg!("err-usage", cmd = "/ack", args = SPEC.args)));
        }
        Ok(Self {
            id: args::monitor_id(id).map_err(invalid)?,
            reason: (!rest.is_empty()).then(|| rest.to_string()),
            by: None,
        })
    }
}

/// The first word of `text` and the rest, both trimmed.
pub(crate) fn split_first(text: &str) -> (&str, &str) {
    let t = text.trim();
    match t.split_once(char::is_whitespace) {
        Some((a, b)) => (a, b.trim()),
        None => (t, ""),
    }
}

/// Who a caller is, for "acked by …" and "muted by …".
pub(crate) fn who(caller: &Caller, by: Option<&str>) -> String {
    match (caller, by) {
        (_, Some(b)) if !b.trim().is_empty() => b.trim().to_string(),
        (Caller::Operator, _) => "the operator".into(),
        (Caller::Chat { .. }, _) => "someone in this chat".into(),
    }
}

pub(crate) async fn run(svc: &Service, caller: &Caller, req: AckRequest) -> Result<MonitorView, CoreError> {
    let _one = svc.book().ops.lock().await;
    let m = svc.resolve(caller, &Selector::Id(MonitorId(req.id)))?;
    let h = svc.live_health(&m);
    let incident =
        oncall::ack_check(&h).map_err(|e| invalid(msg!("err-on-monitor", id = m.id.to_string(), error = e)))?;
    let now = now_ms();
    let ack = Ack {
        by: who(caller, req.by.as_deref()),
        reason: clean_reason(req.reason.as_deref()),
        at_ms: now,
        incident_ms: incident,
    };
    svc.update_oncall(m.id, |r| r.ack = Some(ack.clone()))?;
    // A chat's own /ack is told by its reply; an ack through the API by a message.
    let queued = matches!(caller, Caller::Operator)
        && svc.queue_notice(
            &m,
            &h,
            Notice::Acked {
                by: ack.by.clone(),
                reason: ack.reason.clone(),
            },
            h.state,
            now,
        )?;
    svc.oncall_commit(queued).await?;
    let text = match &ack.reason {
        Some(r) => format!("acked by {}: {r}", ack.by),
        None => format!("acked by {}", ack.by),
    };
    svc.publish_oncall(&m, &h, "ack", text);
    tracing::info!(monitor = %m.id, by = %ack.by, "incident acked");
    Ok(svc.view(&m, None))
}
