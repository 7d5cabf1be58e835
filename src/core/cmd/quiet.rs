//! `quiet`: a chat's UP and recovery messages arrive without sound
//! (`disable_notification`); DOWN always makes a sound. A chat setting, kept in the
//! chat's settings record.

use crate::i18n::msg;
use serde::{Deserialize, Serialize};

use super::Spec;
use super::args;
use crate::core::error::{CoreError, invalid};
use crate::core::service::{Caller, Service, validate_chat_id};
use crate::core::view::QuietView;

/// Help and menu text.
pub const SPEC: Spec = Spec {
    name: "quiet",
    args: "on|off",
    about: "UP messages without sound (DOWN always with)",
    example: "on",
    modifies: true,
};

/// `quiet`'s input: `{"on": true, "chat_id"?}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct QuietRequest {
    /// on or off
    #[arg(value_parser = args::flag)]
    #[serde(default, with = "args::opt_flag")]
    pub on: Option<bool>,
    /// the chat (operator only)
    #[arg(long, allow_negative_numbers = true, value_name = "ID")]
    #[serde(default, with = "args::opt_num")]
    pub chat_id: Option<i64>,
}

impl QuietRequest {
    /// The chat form: `on|off`.
    pub fn parse_chat(text: &str) -> Result<Self, CoreError> {
        let t = text.trim();
        if t.is_empty() || t.contains(char::is_whitespace) {
            return Err(invalid(msg!("err-usage", cmd = "/quiet", args = SPEC.args)));
        }
        Ok(Self {
            on: Some(args::flag(t).map_err(|_| invalid(msg!("err-usage", cmd = "/quiet", args = SPEC.args)))?),
            chat_id: None,
        })
    }
}

pub(crate) async fn run(svc: &Service, caller: &Caller, req: QuietRequest) -> Result<QuietView, CoreError> {
    svc.check_modify(caller)?;
    let on = req.on.ok_or_else(|| invalid("on is required: true or false"))?;
    let chat = match caller {
        Caller::Chat { chat_id, .. } if req.chat_id.is_none_or(|c| c == *chat_id) => *chat_id,
        Caller::Chat { .. } => return Err(invalid(msg!("err-set-by-chat", field = "chat_id"))),
        Caller::Operator => req.chat_id.ok_or_else(|| invalid("chat_id is required"))?,
    };
    validate_chat_id(chat)?;
    let _one = svc.book().ops.lock().await;
    svc.update_chat(chat, |s| s.quiet = on)?;
    svc.oncall_commit(false).await?;
    tracing::info!(chat, quiet = on, "quiet recoveries set");
    Ok(QuietView {
        chat_id: chat,
        quiet: on,
    })
}
