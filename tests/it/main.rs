#![allow(unreachable_pub, missing_docs, clippy::unwrap_used)]
//! One integration-test binary (zero2prod style): every module drives the real server
//! started on port 0 by `helpers::spawn_app`.

mod fake_telegram;
mod helpers;
mod process;
mod telegram;
