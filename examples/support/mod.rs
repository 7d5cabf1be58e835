//! What the benchmarks in `examples/` share (not an example itself: Cargo only builds
//! `examples/*.rs` and `examples/*/main.rs`).

/// CPU seconds (user+sys) and peak RSS (KiB) of `who` (`libc::RUSAGE_SELF`,
/// `libc::RUSAGE_CHILDREN`).
#[allow(unsafe_code)]
pub fn rusage(who: libc::c_int) -> (f64, u64) {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a complete rusage into the pointer it is given.
    let ru = unsafe {
        libc::getrusage(who, ru.as_mut_ptr());
        ru.assume_init()
    };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_utime) + t(ru.ru_stime), ru.ru_maxrss as u64)
}

/// Bytes the allocator (jemalloc, as in the binary) has handed out and holds
/// resident: how much of the RSS is live data and how much the allocator keeps.
#[allow(dead_code)]
pub fn heap_in_use_and_resident() -> (usize, usize) {
    use tikv_jemalloc_ctl::{epoch, stats};
    // The figures are refreshed when the epoch advances.
    let _ = epoch::advance();
    (
        stats::allocated::read().unwrap_or(0),
        stats::resident::read().unwrap_or(0),
    )
}
