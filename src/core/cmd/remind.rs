//! `remind`: while a monitor stays DOWN, neither acked nor muted, remind the chat every
//! `duration` ("still DOWN for 30m"); `off` stops it. Also `remind=` on `add`. The
//! reminders are queued by the on-call clock ([`crate::core::oncall::run_clock`]).

use crate::i18n::msg;
use serde::{Deserialize, Serialize};

use super::Spec;
use super::ack::split_first;
use super::args::{self, Every, Scope};
use super::mute::scoped;
use crate::core::error::{CoreError, invalid};
use crate::core::oncall::check_remind;
use crate::core::service::{Caller, Service};
use crate::core::view::RemindView;

/// Help and menu text.
pub const SPEC: Spec = Spec {
    name: "remind",
    args: "<id|all> <duration|off>",
    about: "remind while DOWN (neither acked nor muted)",
    example: "7 30m",
    modifies: true,
};

/// `remind`'s input: `{"id": 7 | "all", "duration": "30m" | null, "chat_id"?}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct RemindRequest {
    /// Monitor id (7 or #7), or all: every monitor of the chat
    #[arg(value_parser = args::scope)]
    #[serde(with = "args::scope")]
    pub id: Scope,
    /// remind every this long while DOWN (at least 10s), or off
    #[arg(value_parser = args::every)]
    #[serde(default, with = "args::every")]
    pub duration: Option<Every>,
    /// the chat whose monitors `all` means (operator only)
    #[arg(long, allow_negative_numbers = true, value_name = "ID")]
    #[serde(default, with = "args::opt_num")]
    pub chat_id: Option<i64>,
}

impl RemindRequest {
    /// The chat form: `<id|all> <duration|off>`.
    pub fn parse_chat(text: &str) -> Result<Self, CoreError> {
        let (id, rest) = split_first(text);
        if id.is_empty() || rest.is_empty() || rest.contains(char::is_whitespace) {
            return Err(invalid(msg!("err-usage", cmd = "/remind", args = SPEC.args)));
        }
        Ok(Self {
            id: args::scope(id).map_err(invalid)?,
            duration: Some(args::every(rest).map_err(|e| invalid(msg!("err-field", field = "duration", error = e)))?),
            chat_id: None,
        })
    }
}

pub(crate) async fn run(svc: &Service, caller: &Caller, req: RemindRequest) -> Result<RemindView, CoreError> {
    svc.check_modify(caller)?;
    let every = match req.duration {
        None => return Err(invalid("duration is required: a period such as 30m, or off (null)")),
        Some(Every::Off) => None,
        Some(Every::Period(d)) => Some(check_remind(d)?),
    };
    let _one = svc.book().ops.lock().await;
    let (monitors, _) = scoped(svc, caller, req.id, req.chat_id)?;
    for m in &monitors {
        svc.update_oncall(m.id, |r| r.remind = every)?;
    }
    svc.oncall_commit(false).await?;
    let text = match every {
        Some(d) => format!("reminders every {}", crate::domain::duration::human(d)),
        None => "reminders off".into(),
    };
    for m in &monitors {
        svc.publish_oncall(m, &svc.live_health(m), "remind", text.clone());
    }
    Ok(RemindView {
        remind: every.map(|d| d.as_secs_f64()),
        monitors: monitors.iter().map(|m| svc.view(m, None)).collect(),
    })
}
