#![allow(unreachable_pub, missing_docs, clippy::unwrap_used)]
//! One integration-test binary (zero2prod style): every module drives the real server
//! started on port 0 by `helpers::spawn_app`.

mod cli;
mod cluster;
mod fake_telegram;
mod fuzz;
mod helpers;
mod http;
mod kinds;
mod legacy;
mod loss;
mod netns;
mod oncall;
mod ops;
mod pictures;
mod probe;
mod process;
mod servers;
mod store;
mod surface;
mod telegram;
mod ws;
