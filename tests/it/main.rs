#![allow(unreachable_pub, missing_docs)]
//! One integration-test binary (zero2prod style): every module drives the real server
//! started on port 0 by `helpers::spawn_app`.

mod helpers;
mod netns;
mod probe;
