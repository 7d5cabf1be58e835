//! `list`: the monitors a caller may see (a chat: its own; the operator: all, or one
//! chat's with `chat_id`).

use serde::{Deserialize, Serialize};

use super::Spec;
use super::args;
use crate::core::service::{Caller, MonitorView, Service, visible_to};
use crate::domain::Monitor;

/// Help and menu text.
pub const SPEC: Spec = Spec {
    name: "list",
    args: "",
    about: "this chat's monitors",
    example: "",
    modifies: false,
};

/// `list`'s input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct ListRequest {
    /// Only this chat's monitors
    #[arg(long, allow_negative_numbers = true, value_name = "ID")]
    #[serde(with = "args::opt_num")]
    pub chat_id: Option<i64>,
}

pub(crate) fn run(svc: &Service, caller: &Caller, chat_filter: Option<i64>) -> Vec<MonitorView> {
    let visible: Vec<Monitor> = svc.read_monitors(|all| {
        all.values()
            .filter(|m| visible_to(caller, m) && chat_filter.is_none_or(|c| m.chat_id == Some(c)))
            .cloned()
            .collect()
    });
    visible.iter().map(|m| svc.view(m, None)).collect()
}
