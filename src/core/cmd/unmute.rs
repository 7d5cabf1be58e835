//! `unmute`: end a mute now. The chat gets the same end-of-mute message as when a mute
//! runs out: each monitor whose state differs from the last one it was told.
//! `unmute all` ends the chat's `all` and every monitor's own mute in it.

use crate::i18n::msg;
use serde::{Deserialize, Serialize};

use super::Spec;
use super::ack::split_first;
use super::args::{self, Scope};
use super::mute::scoped;
use crate::core::error::{CoreError, invalid};
use crate::core::service::{Caller, Service};
use crate::core::view::UnmuteView;
use crate::domain::now_ms;

/// Help and menu text.
pub const SPEC: Spec = Spec {
    name: "unmute",
    args: "<id|all>",
    about: "end a mute now and hear what changed",
    example: "7",
    modifies: true,
};

/// `unmute`'s input: `{"id": 7 | "all", "chat_id"?}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct UnmuteRequest {
    /// Monitor id (7 or #7), or all: every monitor of the chat
    #[arg(value_parser = args::scope)]
    #[serde(with = "args::scope")]
    pub id: Scope,
    /// the chat whose monitors `all` means (operator only)
    #[arg(long, allow_negative_numbers = true, value_name = "ID")]
    #[serde(default, with = "args::opt_num")]
    pub chat_id: Option<i64>,
}

impl UnmuteRequest {
    /// The chat form: `<id|all>`.
    pub fn parse_chat(text: &str) -> Result<Self, CoreError> {
        let (id, rest) = split_first(text);
        if id.is_empty() || !rest.is_empty() {
            return Err(invalid(msg!("err-usage", cmd = "/unmute", args = SPEC.args)));
        }
        Ok(Self {
            id: args::scope(id).map_err(invalid)?,
            chat_id: None,
        })
    }
}

pub(crate) async fn run(svc: &Service, caller: &Caller, req: UnmuteRequest) -> Result<UnmuteView, CoreError> {
    svc.check_modify(caller)?;
    let _one = svc.book().ops.lock().await;
    let (monitors, chat) = scoped(svc, caller, req.id, req.chat_id)?;
    let all = req.id == Scope::All;
    let now = now_ms();
    let chat_mute = chat
        .and_then(|c| svc.chat_settings(c).mute_all)
        .filter(|m| m.active(now));
    if !all {
        let m = &monitors[0];
        let own = svc.oncall(m.id).mute.filter(|mu| mu.active(now));
        if own.is_none() {
            return Err(invalid(match chat_mute {
                Some(_) => msg!("err-muted-with-all", id = m.id.to_string()),
                None => msg!("err-not-muted", id = m.id.to_string()),
            }));
        }
    } else if chat_mute.is_none()
        && !monitors
            .iter()
            .any(|m| svc.oncall(m.id).mute.is_some_and(|mu| mu.active(now)))
    {
        return Err(invalid(msg!("err-nothing-muted")));
    }
    let (ended, changed) = svc.end_mutes(&monitors, chat, true, all).await?;
    Ok(UnmuteView {
        all,
        chat_id: chat,
        changed,
        monitors: ended.iter().map(|m| svc.view(m, None)).collect(),
    })
}
