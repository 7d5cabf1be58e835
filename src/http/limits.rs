//! Process limits the receivers depend on: the open-file limit (every connection,
//! probe socket and store file is one descriptor). Distributions start services with a
//! soft limit of 1024 (or a few thousand) under a hard limit of 500k or more; a
//! server that keeps the soft one runs out of descriptors at the first connection
//! flood, after which even `/healthz` cannot be accepted.

/// Raises the soft open-file limit to the hard limit (call once at start). Returns
/// the limit now in force; logs what it did. Never fails the start: a server that
/// cannot raise it still runs, with the HTTP connection cap sized from what it has.
pub fn raise_fd_limit() -> Option<u64> {
    let before = rlimit::getrlimit(rlimit::Resource::NOFILE).ok();
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => {
            match before {
                Some((soft, hard)) if soft < now => {
                    tracing::info!(from = soft, to = now, hard, "raised the open-file limit");
                }
                _ => tracing::debug!(limit = now, "open-file limit"),
            }
            Some(now)
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-file limit; connection floods may exhaust it");
            before.map(|(soft, _)| soft)
        }
    }
}

/// The soft open-file limit in force, if it can be read.
pub fn fd_limit() -> Option<u64> {
    rlimit::getrlimit(rlimit::Resource::NOFILE).ok().map(|(soft, _)| soft)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_limit_is_raised_to_the_hard_one() {
        let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        // Lowered by one only: other tests of this process keep their descriptors.
        let lowered = soft.min(hard).saturating_sub(1).max(64);
        rlimit::setrlimit(rlimit::Resource::NOFILE, lowered, hard).unwrap();
        assert_eq!(fd_limit(), Some(lowered));
        let now = raise_fd_limit().unwrap();
        assert_eq!(fd_limit(), Some(now));
        assert!(now >= soft && now > lowered, "{lowered} → {now} (hard {hard})");
    }
}
