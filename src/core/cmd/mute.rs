//! `mute`: hold a monitor's alerts (or, with `all`, every monitor's of the chat) for a
//! while. Probing goes on; when the mute ends (at its time, by `unmute`, or at the
//! first start after it expired) the chat gets one message naming each monitor whose
//! state differs from the last one it was told ([`crate::core::oncall`]). Admins only
//! in groups.

use crate::i18n::msg;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ack::{split_first, who};
use super::args::{self, Scope};
use super::{Selector, Spec};
use crate::core::error::{CoreError, invalid};
use crate::core::oncall::{check_mute, clean_reason, until_text};
use crate::core::service::{Caller, Service, validate_chat_id};
use crate::core::view::MuteView;
use crate::domain::oncall::{Mute, Notice};
use crate::domain::{Monitor, MonitorId, now_ms};

/// Help and menu text.
pub const SPEC: Spec = Spec {
    name: "mute",
    args: "<id|all> <duration> [reason]",
    about: "hold alerts for a while; probing goes on",
    example: "7 1h deploy",
    modifies: true,
};

/// `mute`'s input: `{"id": 7 | "all", "duration": "1h", "reason"?, "chat_id"?}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct MuteRequest {
    /// Monitor id (7 or #7), or all: every monitor of the chat
    #[arg(value_parser = args::scope)]
    #[serde(with = "args::scope")]
    pub id: Scope,
    /// how long, e.g. 30m, 2h
    #[arg(value_parser = args::duration)]
    #[serde(default, with = "args::opt_duration")]
    pub duration: Option<Duration>,
    /// why, shown to the chat
    #[arg(long)]
    #[serde(default)]
    pub reason: Option<String>,
    /// the chat whose monitors `all` means (operator only)
    #[arg(long, allow_negative_numbers = true, value_name = "ID")]
    #[serde(default, with = "args::opt_num")]
    pub chat_id: Option<i64>,
    /// Who mutes: set by the chat front from the sender (not an input).
    #[arg(skip)]
    #[serde(skip)]
    pub by: Option<String>,
}

impl MuteRequest {
    /// The chat form: `<id|all> <duration> [reason…]`.
    pub fn parse_chat(text: &str) -> Result<Self, CoreError> {
        let usage = || invalid(msg!("err-usage", cmd = "/mute", args = SPEC.args));
        let (id, rest) = split_first(text);
        let (dur, reason) = split_first(rest);
        if id.is_empty() || dur.is_empty() {
            return Err(usage());
        }
        Ok(Self {
            id: args::scope(id).map_err(invalid)?,
            duration: Some(args::duration(dur).map_err(|e| invalid(msg!("err-field", field = "duration", error = e)))?),
            reason: (!reason.is_empty()).then(|| reason.to_string()),
            chat_id: None,
            by: None,
        })
    }
}

/// The monitors `scope` names for `caller`, and their chat. `all` needs a chat: the
/// caller's own, or `chat_id` from the operator.
pub(crate) fn scoped(
    svc: &Service,
    caller: &Caller,
    scope: Scope,
    chat_id: Option<i64>,
) -> Result<(Vec<Monitor>, Option<i64>), CoreError> {
    match (scope, caller) {
        (Scope::Id(id), _) => {
            if chat_id.is_some() && matches!(caller, Caller::Operator) {
                return Err(invalid("chat_id goes with id \"all\" only"));
            }
            let m = svc.resolve(caller, &Selector::Id(MonitorId(id)))?;
            let chat = m.chat_id;
            Ok((vec![m], chat))
        }
        (Scope::All, Caller::Chat { chat_id: own, .. }) => {
            if chat_id.is_some_and(|c| c != *own) {
                return Err(invalid(msg!("err-set-by-chat", field = "chat_id")));
            }
            Ok((svc.chat_monitors(*own), Some(*own)))
        }
        (Scope::All, Caller::Operator) => {
            let c = chat_id.ok_or_else(|| invalid("id \"all\" needs the chat_id whose monitors it means"))?;
            validate_chat_id(c)?;
            Ok((svc.chat_monitors(c), Some(c)))
        }
    }
}

pub(crate) async fn run(svc: &Service, caller: &Caller, req: MuteRequest) -> Result<MuteView, CoreError> {
    svc.check_modify(caller)?;
    let d = check_mute(req.duration)?;
    let _one = svc.book().ops.lock().await;
    let (monitors, chat) = scoped(svc, caller, req.id, req.chat_id)?;
    let all = req.id == Scope::All;
    let now = now_ms();
    let mute = Mute {
        until_ms: now.saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        by: who(caller, req.by.as_deref()),
        reason: clean_reason(req.reason.as_deref()),
        at_ms: now,
    };
    svc.fill_baselines(&monitors)?;
    match (all, chat) {
        (true, Some(c)) => {
            svc.update_chat(c, |s| s.mute_all = Some(mute.clone()))?;
        }
        _ => {
            for m in &monitors {
                svc.update_oncall(m.id, |r| r.mute = Some(mute.clone()))?;
            }
        }
    }
    let mut queued = false;
    if let (Caller::Operator, Some(m)) = (caller, monitors.first()) {
        let h = svc.live_health(m);
        let notice = Notice::Muted {
            by: mute.by.clone(),
            until_ms: mute.until_ms,
            reason: mute.reason.clone(),
            all,
        };
        queued = svc.queue_notice(m, &h, notice, h.state, now)?;
    }
    svc.oncall_commit(queued).await?;
    let text = format!("muted by {} until {}", mute.by, until_text(mute.until_ms));
    for m in &monitors {
        svc.publish_oncall(m, &svc.live_health(m), "mute", text.clone());
    }
    tracing::info!(chat = ?chat, all, monitors = monitors.len(), until = mute.until_ms, "muted");
    Ok(MuteView {
        all,
        chat_id: chat,
        muted_until: until_text(mute.until_ms),
        by: mute.by,
        reason: mute.reason,
        monitors: monitors.iter().map(|m| svc.view(m, None)).collect(),
    })
}
