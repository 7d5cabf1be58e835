//! `list`: the monitors a caller may see (a chat: its own; the operator: all, or one
//! chat's with `chat_id`); `list down`: only those not UP (after a storm summary, the
//! full list of what is down).

use serde::{Deserialize, Serialize};

use super::Spec;
use super::args;
use crate::core::service::{Caller, MonitorView, Service, visible_to};
use crate::domain::{Monitor, State};

/// Help and menu text.
pub const SPEC: Spec = Spec {
    name: "list",
    args: "[down]",
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
    /// Only the monitors not UP
    #[arg(long, value_parser = args::flag, num_args = 0..=1, default_missing_value = "true")]
    #[serde(with = "args::opt_flag")]
    pub down: Option<bool>,
}

pub(crate) fn run(svc: &Service, caller: &Caller, chat_filter: Option<i64>) -> Vec<MonitorView> {
    let visible: Vec<Monitor> = svc.read_monitors(|all| {
        all.values()
            .filter(|m| visible_to(caller, m) && chat_filter.is_none_or(|c| m.chat_id == Some(c)))
            .map(|m| Monitor::clone(m))
            .collect()
    });
    visible.iter().map(|m| svc.view(m, None)).collect()
}

/// `list down`: the visible monitors that are not UP, worst first (DOWN, DEGRADED, then
/// the rest), by id within each.
pub(crate) fn run_down(svc: &Service, caller: &Caller, chat_filter: Option<i64>) -> Vec<MonitorView> {
    let mut views: Vec<MonitorView> = run(svc, caller, chat_filter)
        .into_iter()
        .filter(|v| v.state != State::Up)
        .collect();
    views.sort_by_key(|v| {
        let rank = match v.state {
            State::Down => 0,
            State::Degraded => 1,
            _ => 2,
        };
        (rank, v.id)
    });
    views
}
