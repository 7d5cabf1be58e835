//! ICMP echo probes over surge-ping 0.9.1 (see probing.md P1-P9).
//!
//! [`IcmpClients`] owns ONE raw socket per address family, shared by every monitor:
//! every raw socket receives a copy of every ICMP packet on the host, so more sockets
//! cost O(n²) (P7). The sockets are RAW, not DGRAM: DGRAM is refused by
//! `ping_group_range` here and collides identifiers between pingers to one host (#73).
//! Each socket is tuned at creation: an ICMP filter so the receive task only wakes for
//! echo replies and errors (P6), and an 8 MiB receive buffer so a burst of replies is
//! not dropped (P7). Identifiers come from a per-host counter, never at random (P5).
//! Several probe engine threads each open their own pair of sockets ([`Share`]): one
//! socket shared between threads made every `sendto` wait on the socket's lock, which
//! on loopback is held while the kernel builds and queues the reply. Each engine owns
//! the identifiers `≡ index (mod count)`, and a socket filter drops the echo replies of
//! the others in the kernel, so an engine reads and wakes only its own.
//! [`IcmpPinger`] is one monitor's pinger, owned and reused by its scheduler task.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use surge_ping::{Client, Config, ICMP, IcmpPacket, PingIdentifier, PingSequence, SurgeError};
use tokio::time::Instant;

use super::{ProbeFailure, Probed, Tries};

/// Receive buffer asked for on each ICMP socket.
pub const RCVBUF_BYTES: i32 = 8 << 20;

/// Unread bytes in an ICMP socket past which its reader is behind: ~200 echo replies
/// (an skb is ~1.3 KB), well over the 128 surge-ping's receive task reads a turn. A
/// busy but healthy engine keeps a handful queued at most.
pub const READER_BEHIND_BYTES: u32 = 256 << 10;

/// Echo payload: small, fixed, and the same size as Windows `ping` (some filters drop
/// unusual sizes).
const PAYLOAD: [u8; 32] = [0; 32];

/// Reason shown when no ICMP socket could be opened.
pub const NO_RAW_SOCKET: &str = "ICMP needs CAP_NET_RAW";

/// Which identifiers one engine's sockets own: those `≡ index (mod count)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// This engine's residue.
    pub index: u16,
    /// How many engines share the identifier space (a power of two).
    pub count: u16,
}

impl Share {
    /// One engine owning every identifier (no socket filter).
    pub const ALL: Share = Share { index: 0, count: 1 };

    /// Bits of the identifier that name the engine.
    fn bits(self) -> u32 {
        self.count.max(1).trailing_zeros()
    }
}

/// One engine's ICMP sockets and its identifier allocator.
pub struct IcmpClients {
    v4: Result<Client, String>,
    v6: Result<Client, String>,
    /// Which identifiers are this engine's.
    share: Share,
    /// Next identifier counter per target host (shifted and tagged with the share).
    idents: Mutex<HashMap<IpAddr, u16>>,
    /// Where every host's counter starts; differs between processes and between
    /// engines in one process, so two upbots on one host rarely share identifiers
    /// (each raw socket sees the other's replies).
    ident_base: u16,
}

impl std::fmt::Debug for IcmpClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IcmpClients")
            .field("v4", &self.v4.as_ref().map(|_| ()))
            .field("v6", &self.v6.as_ref().map(|_| ()))
            .finish()
    }
}

impl IcmpClients {
    /// Opens and tunes both sockets. Must run inside the runtime that will drive the
    /// probes: surge-ping spawns each socket's receive task on the current runtime.
    /// A family that cannot be opened is kept as `Err(why)`; its probes then fail
    /// with [`super::FailKind::Permission`] (or `Other`).
    pub fn new() -> Self {
        Self::for_share(Share::ALL)
    }

    /// [`IcmpClients::new`] for one of several engines: its sockets pass only the echo
    /// replies to its share of identifiers (and every ICMP error, which the waiter
    /// tables sort out).
    pub fn for_share(share: Share) -> Self {
        debug_assert!(share.count.is_power_of_two() && share.index < share.count);
        Self {
            v4: open(ICMP::V4, share),
            v6: open(ICMP::V6, share),
            share,
            idents: Mutex::new(HashMap::new()),
            ident_base: ident_base(),
        }
    }

    /// Clients that can open nothing (tests of the permission path).
    pub fn unavailable(why: &str) -> Self {
        Self {
            v4: Err(why.to_string()),
            v6: Err(why.to_string()),
            share: Share::ALL,
            idents: Mutex::new(HashMap::new()),
            ident_base: 0,
        }
    }

    /// `Ok` or why ICMPv4 is unavailable.
    pub fn v4_status(&self) -> Result<(), String> {
        self.v4.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// `Ok` or why ICMPv6 is unavailable.
    pub fn v6_status(&self) -> Result<(), String> {
        self.v6.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// Whether the receive task of `ip`'s family is behind: more than
    /// [`READER_BEHIND_BYTES`] wait unread in its socket. A probe that timed out then may
    /// well have its reply among them.
    pub fn reader_behind(&self, ip: IpAddr) -> bool {
        let Ok(client) = self.client(ip) else { return false };
        tune::unread_bytes(client.get_socket().get_native_sock()).is_some_and(|b| b > READER_BEHIND_BYTES)
    }

    /// Whether probes to `ip`'s family can be sent.
    pub fn can_probe(&self, ip: IpAddr) -> bool {
        self.client(ip).is_ok()
    }

    fn client(&self, ip: IpAddr) -> Result<&Client, &String> {
        match ip {
            IpAddr::V4(_) => self.v4.as_ref(),
            IpAddr::V6(_) => self.v6.as_ref(),
        }
    }

    /// Allocates an identifier for a new pinger to `host`: one of this engine's share,
    /// unique among its pingers to that host until `65,536 / count` have been allocated
    /// for it.
    pub fn next_ident(&self, host: IpAddr) -> u16 {
        let mut map = self.idents.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let next = map.entry(host).or_insert(self.ident_base);
        let n = *next;
        *next = next.wrapping_add(1);
        (n << self.share.bits()) | self.share.index
    }
}

impl Default for IcmpClients {
    fn default() -> Self {
        Self::new()
    }
}

fn ident_base() -> u16 {
    static ENGINES: AtomicU16 = AtomicU16::new(0);
    let engine = ENGINES.fetch_add(1, Ordering::Relaxed);
    // Spread processes by pid and engines in one process by 1/8 of the space.
    (std::process::id() as u16)
        .wrapping_mul(0x9e37)
        .wrapping_add(engine.wrapping_mul(0x2000))
}

fn open(kind: ICMP, share: Share) -> Result<Client, String> {
    let family = if kind == ICMP::V4 { "ICMPv4" } else { "ICMPv6" };
    let config = Config::builder().kind(kind).sock_type_hint(socket2::Type::RAW).build();
    let client = Client::new(&config).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            format!("permission denied opening a raw {family} socket: {NO_RAW_SOCKET}")
        }
        _ => format!("cannot open a raw {family} socket: {e}"),
    })?;
    let socket = client.get_socket();
    if socket.get_type() != socket2::Type::RAW {
        // surge-ping falls back to DGRAM silently (P3); DGRAM shares identifiers per host.
        tracing::warn!(
            family,
            "got a DGRAM ICMP socket instead of RAW; same-host monitors may collide"
        );
    }
    tune::apply(socket.get_native_sock(), kind, family);
    if share.count > 1 {
        if let Err(e) = tune::only_share(socket.get_native_sock(), kind, share) {
            // Still correct (a reply nobody here waits for is dropped), only dearer.
            tracing::warn!(family, error = %e, "identifier filter not set; every engine reads every echo reply");
        }
    }
    tracing::debug!(family, index = share.index, "ICMP socket ready");
    Ok(client)
}

/// One monitor's ICMP state: the identifier allocated for its target and its sequence
/// counter. Five bytes, not a surge-ping `Pinger` (~100 bytes with the retries'
/// spares) nor even the address (its task keeps that): this lives in every sleeping
/// monitor task, and a `Pinger` is only three reference counts, made for each probe in
/// a few ns. Identifiers are allocated per host: call [`IcmpPinger::retarget`] when the
/// address pinged changes.
#[derive(Debug, Default)]
pub struct IcmpPinger {
    /// An identifier has been allocated for the current address.
    bound: bool,
    ident: u16,
    seq: u16,
}

/// How one echo request ended.
enum TryEnd {
    /// An echo reply, after this RTT.
    Reply(Duration),
    /// Nothing came back in time.
    Lost,
    /// A definite failure (an ICMP error about it, a send error): no retry helps.
    Failed(ProbeFailure),
}

fn judge(r: Result<(IcmpPacket, Duration), SurgeError>, timeout: Duration) -> TryEnd {
    match r {
        Ok((packet, rtt)) => match classify_reply(&packet) {
            Ok(()) => TryEnd::Reply(rtt),
            Err(f) => TryEnd::Failed(f),
        },
        Err(SurgeError::Timeout { .. }) => TryEnd::Lost,
        Err(e) => TryEnd::Failed(classify_error(e, timeout)),
    }
}

impl IcmpPinger {
    /// A pinger with nothing set up yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The identifier in use, once the first probe allocated one.
    pub fn ident(&self) -> Option<u16> {
        self.bound.then_some(self.ident)
    }

    /// The next probe goes to another address: it gets a new identifier (allocated
    /// for that host) and starts its sequence over.
    pub fn retarget(&mut self) {
        self.bound = false;
    }

    /// One probe of `addr` within `timeout`: an echo request, and while none is
    /// answered, up to `retries` more, one every `timeout / (retries + 1)`. Every
    /// request stays awaited until the timeout, so a slow reply to an early one still
    /// counts (RTT measured from its own send). The first echo reply ends the probe;
    /// an ICMP error or a send error ends it as a failure (the target answered, or
    /// cannot be reached from here: sending again would not change that).
    pub async fn probe(&mut self, clients: &IcmpClients, addr: IpAddr, timeout: Duration, retries: u8) -> Probed {
        let client = match clients.client(addr) {
            Ok(c) => c,
            Err(why) => return Probed::unsent(permission_or_other(why.as_str())),
        };
        if !self.bound {
            self.ident = clients.next_ident(addr);
            self.bound = true;
            self.seq = 0;
        }
        let base = self.seq;
        let probed = tries(client, addr, PingIdentifier(self.ident), base, timeout, retries).await;
        self.seq = base.wrapping_add(u16::from(probed.tries.sent));
        probed
    }
}

/// The tries of one probe (see [`IcmpPinger::probe`]); sequence numbers from `base`.
async fn tries(
    client: &Client,
    host: IpAddr,
    ident: PingIdentifier,
    base: u16,
    timeout: Duration,
    retries: u8,
) -> Probed {
    let done = |result, sent, answered| Probed {
        result,
        tries: Tries { sent, answered },
    };
    let start = Instant::now();
    let mut first = client.pinger(host, ident).await;
    first.timeout(timeout);
    let first_try = first.ping(PingSequence(base), &PAYLOAD);
    tokio::pin!(first_try);
    if retries == 0 {
        return match judge(first_try.await, timeout) {
            TryEnd::Reply(rtt) => done(Ok(rtt), 1, Some(0)),
            TryEnd::Lost => done(Err(ProbeFailure::timed_out(timeout)), 1, None),
            TryEnd::Failed(f) => done(Err(f), 1, None),
        };
    }
    // The common case: an answer within the first try's share of the timeout. Only
    // this wait's timer is added to the healthy path; the rest is for lossy links.
    let step = timeout / (u32::from(retries) + 1);
    let mut first_done = false;
    if let Ok(r) = tokio::time::timeout(step, &mut first_try).await {
        match judge(r, timeout) {
            TryEnd::Reply(rtt) => return done(Ok(rtt), 1, Some(0)),
            TryEnd::Failed(f) => return done(Err(f), 1, None),
            TryEnd::Lost => first_done = true,
        }
    }
    // Unanswered: one more request every `step`, each on its own pinger (same host and
    // identifier, so the same reply routing; `ping` takes `&mut self` and waits for its
    // own sequence number).
    let mut spare = Vec::with_capacity(usize::from(retries));
    for _ in 0..retries {
        spare.push(client.pinger(host, ident).await);
    }
    let deadline = start + timeout;
    let mut pingers = spare.iter_mut();
    let mut inflight = FuturesUnordered::new();
    let mut sent: u8 = 1;
    let next_send = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(next_send);
    loop {
        let more = sent <= retries;
        if first_done && inflight.is_empty() && !more {
            return done(Err(ProbeFailure::timed_out(timeout)), sent, None);
        }
        let end = tokio::select! {
            r = &mut first_try, if !first_done => {
                first_done = true;
                (0, judge(r, timeout))
            }
            Some((i, r)) = inflight.next(), if !inflight.is_empty() => (i, judge(r, timeout)),
            () = &mut next_send, if more => {
                let Some(p) = pingers.next() else {
                    return done(Err(ProbeFailure::other("no pinger")), sent, None);
                };
                let left = deadline.saturating_duration_since(Instant::now());
                p.timeout(left);
                let (i, seq) = (sent, PingSequence(base.wrapping_add(u16::from(sent))));
                inflight.push(async move { (i, p.ping(seq, &PAYLOAD).await) });
                sent += 1;
                next_send.as_mut().reset(start + step * u32::from(sent));
                continue;
            }
        };
        match end {
            (i, TryEnd::Reply(rtt)) => return done(Ok(rtt), sent, Some(i)),
            (_, TryEnd::Failed(f)) => return done(Err(f), sent, None),
            (_, TryEnd::Lost) => {}
        }
    }
}

fn permission_or_other(why: &str) -> ProbeFailure {
    if why.contains(NO_RAW_SOCKET) {
        ProbeFailure::permission(NO_RAW_SOCKET)
    } else {
        ProbeFailure::other(why)
    }
}

/// Only an echo reply is "up" (P2): 0.9.1 routes ICMP errors about our request to
/// the pinger as `Ok` too.
fn classify_reply(packet: &IcmpPacket) -> Result<(), ProbeFailure> {
    match packet {
        IcmpPacket::V4(p) => classify_type(false, p.get_icmp_type().0, p.get_icmp_code().0),
        IcmpPacket::V6(p) => classify_type(true, p.get_icmpv6_type().0, p.get_icmpv6_code().0),
    }
}

fn classify_type(v6: bool, ty: u8, code: u8) -> Result<(), ProbeFailure> {
    match (v6, ty, code) {
        (false, 0, _) | (true, 129, _) => Ok(()),
        (false, 3, 0) | (true, 1, 0) => Err(ProbeFailure::unreachable("network unreachable")),
        (false, 3, 1) | (true, 1, 3) => Err(ProbeFailure::unreachable("host unreachable")),
        (false, 3, 9 | 10 | 13) | (true, 1, 1) => {
            Err(ProbeFailure::unreachable("communication administratively prohibited"))
        }
        (false, 3, _) | (true, 1, _) => Err(ProbeFailure::unreachable("destination unreachable")),
        (false, 11, _) | (true, 3, _) => Err(ProbeFailure::unreachable("time exceeded in transit")),
        _ => Err(ProbeFailure::other(format!("unexpected ICMP type {ty} code {code}"))),
    }
}

fn classify_error(e: SurgeError, timeout: Duration) -> ProbeFailure {
    match e {
        SurgeError::Timeout { .. } => ProbeFailure::timed_out(timeout),
        SurgeError::IOError(io) => ProbeFailure::from_io(&io),
        other => ProbeFailure::other(format!("icmp: {other}")),
    }
}

/// Socket options surge-ping does not set. Linux-only; failures are warnings, since
/// probing works without them, only at a higher cost.
mod tune {
    use surge_ping::ICMP;

    #[cfg(target_os = "linux")]
    pub(super) fn apply(fd: std::os::fd::RawFd, kind: ICMP, family: &str) {
        use super::RCVBUF_BYTES;

        /// `SOL_RAW` / `ICMP_FILTER` from linux/icmp.h.
        const SOL_RAW: libc::c_int = 255;
        const ICMP_FILTER: libc::c_int = 1;
        /// `ICMP6_FILTER` from linux/icmpv6.h (level `IPPROTO_ICMPV6`).
        const ICMP6_FILTER: libc::c_int = 1;

        match kind {
            ICMP::V4 => {
                // A set bit BLOCKS that type; pass echo reply, dest unreachable, time exceeded.
                let pass: u32 = (1 << 0) | (1 << 3) | (1 << 11);
                if let Err(e) = setsockopt(fd, SOL_RAW, ICMP_FILTER, &!pass) {
                    tracing::warn!(family, error = %e, "ICMP_FILTER not set; the socket sees every ICMP packet");
                }
                // Don't Fragment, whatever the path MTU: then the kernel sets the IP id to
                // 0, as it may for an unfragmentable datagram (RFC 6864). Without DF it
                // draws each id from a hash table keyed by destination
                // (`__ip_select_ident`), a cache miss per echo: 3.8 % of the samples at
                // 10,000 monitors. An echo is 60 bytes, far below any IPv4 MTU (68 at
                // least), so it is never one that needed fragmenting.
                if let Err(e) = setsockopt(fd, libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, &libc::IP_PMTUDISC_PROBE) {
                    tracing::warn!(family, error = %e, "IP_MTU_DISCOVER not set; each echo draws a hashed IP id");
                }
            }
            ICMP::V6 => {
                // 256-bit mask, a set bit blocks; pass echo reply (129), unreachable (1),
                // time exceeded (3).
                let mut mask = [u32::MAX; 8];
                for ty in [129u32, 1, 3] {
                    mask[(ty >> 5) as usize] &= !(1 << (ty & 31));
                }
                if let Err(e) = setsockopt(fd, libc::IPPROTO_ICMPV6, ICMP6_FILTER, &mask) {
                    tracing::warn!(family, error = %e, "ICMP6_FILTER not set; the socket sees every ICMPv6 packet");
                }
            }
        }
        // FORCE bypasses rmem_max (4 MiB here) but needs CAP_NET_ADMIN; fall back.
        if setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &RCVBUF_BYTES).is_err() {
            if let Err(e) = setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &RCVBUF_BYTES) {
                tracing::warn!(family, error = %e, "could not enlarge the ICMP receive buffer");
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn apply<T>(_fd: T, _kind: ICMP, _family: &str) {}

    /// The classic BPF program passing every packet but the echo replies whose
    /// identifier is outside `share`. An IPv4 raw socket's filter sees the IP header
    /// first (its length read from the packet); an IPv6 one starts at the ICMPv6 header.
    #[cfg(target_os = "linux")]
    pub(super) fn share_filter(kind: ICMP, share: super::Share) -> Vec<libc::sock_filter> {
        use libc::{
            BPF_ABS, BPF_ALU, BPF_AND, BPF_B, BPF_H, BPF_IND, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_LDX, BPF_MSH,
            BPF_RET,
        };
        let op = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter {
            code: code as u16,
            jt,
            jf,
            k,
        };
        let mask = u32::from(share.count.max(1) - 1);
        let index = u32::from(share.index);
        let (load_type, load_ident, reply) = match kind {
            ICMP::V4 => (BPF_LD | BPF_B | BPF_IND, BPF_LD | BPF_H | BPF_IND, 0),
            ICMP::V6 => (BPF_LD | BPF_B | BPF_ABS, BPF_LD | BPF_H | BPF_ABS, 129),
        };
        let mut prog = Vec::with_capacity(8);
        if kind == ICMP::V4 {
            // X = 4 * (IHL): where the ICMP header starts.
            prog.push(op(BPF_LDX | BPF_B | BPF_MSH, 0, 0, 0));
        }
        prog.extend([
            op(load_type, 0, 0, 0),
            // Not an echo reply: pass (skip to the last instruction).
            op(BPF_JMP | BPF_JEQ | BPF_K, 0, 4, reply),
            op(load_ident, 0, 0, 4),
            op(BPF_ALU | BPF_AND | BPF_K, 0, 0, mask),
            op(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, index),
            op(BPF_RET | BPF_K, 0, 0, 0),
            op(BPF_RET | BPF_K, 0, 0, u32::MAX),
        ]);
        prog
    }

    /// Attaches [`share_filter`] to `fd`.
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    pub(super) fn only_share(fd: std::os::fd::RawFd, kind: ICMP, share: super::Share) -> std::io::Result<()> {
        let mut prog = share_filter(kind, share);
        let fprog = libc::sock_fprog {
            len: prog.len() as u16,
            filter: prog.as_mut_ptr(),
        };
        let len = std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t;
        // SAFETY: `fprog` points at `prog`, alive and unmoved for the whole call; the
        // kernel copies the program and keeps no pointer to it.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&fprog as *const libc::sock_fprog).cast(),
                len,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn only_share<T>(_fd: T, _kind: ICMP, _share: super::Share) -> std::io::Result<()> {
        Ok(())
    }

    /// `setsockopt(2)` with a plain-data value.
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    fn setsockopt<T: Copy>(
        fd: std::os::fd::RawFd,
        level: libc::c_int,
        name: libc::c_int,
        value: &T,
    ) -> std::io::Result<()> {
        let len = std::mem::size_of::<T>() as libc::socklen_t;
        // SAFETY: `value` is a live, initialised `T` (plain data: integers or arrays of
        // them) of exactly `len` bytes for the whole call, and the kernel only reads it.
        // `fd` is the surge-ping client's socket, which the caller keeps open; a stale
        // fd would only make the call fail with EBADF.
        let rc = unsafe { libc::setsockopt(fd, level, name, (value as *const T).cast(), len) };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    /// Bytes queued unread in the socket's receive queue (`SO_MEMINFO`, Linux ≥ 4.6).
    #[cfg(target_os = "linux")]
    pub(super) fn unread_bytes(fd: std::os::fd::RawFd) -> Option<u32> {
        /// `SO_MEMINFO` from asm-generic/socket.h.
        const SO_MEMINFO: libc::c_int = 55;
        let info = get_u32_array::<9>(fd, libc::SOL_SOCKET, SO_MEMINFO).ok()?;
        info.get(libc::SK_MEMINFO_RMEM_ALLOC as usize).copied()
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn unread_bytes<T>(_fd: T) -> Option<u32> {
        None
    }

    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    pub(super) fn get_u32_array<const N: usize>(
        fd: std::os::fd::RawFd,
        level: libc::c_int,
        name: libc::c_int,
    ) -> std::io::Result<[u32; N]> {
        let mut out = [0u32; N];
        let mut len = std::mem::size_of::<[u32; N]>() as libc::socklen_t;
        // SAFETY: `out` is a writable buffer of `len` bytes and `len` is a valid pointer.
        let rc = unsafe { libc::getsockopt(fd, level, name, out.as_mut_ptr().cast(), &mut len) };
        if rc == 0 {
            Ok(out)
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

/// Whether the tests run as root (ICMP tests need raw sockets; CI is root, so there
/// they must run, and a developer without root sees why they were skipped).
#[cfg(test)]
pub(crate) fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::FailKind;
    use std::collections::HashSet;

    #[test]
    fn identifiers_are_unique_per_host_and_never_random() {
        let c = IcmpClients::unavailable("test");
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let ids: HashSet<u16> = (0..1000).map(|_| c.next_ident(a)).collect();
        assert_eq!(ids.len(), 1000, "1000 pingers to one host share no identifier");
        // Another host has its own counter, starting at the same base.
        assert_eq!(c.next_ident(b), c.ident_base);
        assert_eq!(c.next_ident(b), c.ident_base.wrapping_add(1));
        // The counter wraps instead of overflowing.
        let full: HashSet<u16> = (0..65_536u32).map(|_| c.next_ident(b)).collect();
        assert_eq!(full.len(), 65_536);
    }

    #[test]
    fn an_engines_identifiers_keep_its_residue() {
        let share = Share { index: 1, count: 4 };
        let c = IcmpClients {
            share,
            ..IcmpClients::unavailable("test")
        };
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let ids: HashSet<u16> = (0..16_384).map(|_| c.next_ident(a)).collect();
        assert_eq!(ids.len(), 16_384, "a quarter of the space, all distinct");
        assert!(ids.iter().all(|id| id % 4 == 1));
    }

    /// One echo from `client` with identifier `ident`: whether its reply came back.
    async fn echoed(client: &Client, host: IpAddr, ident: u16) -> bool {
        let mut p = client.pinger(host, PingIdentifier(ident)).await;
        p.timeout(Duration::from_millis(300));
        p.ping(PingSequence(7), &PAYLOAD).await.is_ok()
    }

    #[tokio::test]
    async fn each_engines_sockets_read_only_the_echo_replies_of_its_share() {
        if !running_as_root() {
            eprintln!("SKIP each_engines_sockets_read_only…: needs CAP_NET_RAW");
            return;
        }
        let even = IcmpClients::for_share(Share { index: 0, count: 2 });
        let odd = IcmpClients::for_share(Share { index: 1, count: 2 });
        let mut hosts: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap()];
        if even.v6_status().is_ok() {
            hosts.push("::1".parse().unwrap());
        }
        for host in hosts {
            let (e, o) = (even.client(host).unwrap(), odd.client(host).unwrap());
            assert!(
                echoed(e, host, 0x1230).await,
                "{host}: the even socket reads an even identifier's reply"
            );
            assert!(
                echoed(o, host, 0x1231).await,
                "{host}: the odd socket reads an odd one's"
            );
            // Sent from the even socket with an odd identifier: the reply only reaches
            // the odd socket, where nobody waits for it.
            assert!(
                !echoed(e, host, 0x1233).await,
                "{host}: the even socket never sees an odd reply"
            );
            assert!(!echoed(o, host, 0x1232).await, "{host}: nor the odd one an even reply");
            // The engines' own pingers get identifiers of their share and answers.
            let mut p = IcmpPinger::new();
            let probed = p.probe(&odd, host, Duration::from_secs(1), 0).await;
            assert!(probed.result.is_ok(), "{host}: {probed:?}");
            assert_eq!(p.ident().map(|i| i % 2), Some(1));
        }
    }

    #[test]
    fn a_reader_that_does_not_read_is_behind() {
        if !running_as_root() {
            eprintln!("SKIP a_reader_that_does_not_read_is_behind: needs CAP_NET_RAW");
            return;
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let clients = {
            let _guard = rt.enter();
            IcmpClients::new()
        };
        let host: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(!clients.reader_behind(host), "nothing sent, nothing unread");
        rt.block_on(async {
            let client = clients.client(host).unwrap();
            let p = client.pinger(host, PingIdentifier(clients.next_ident(host))).await;
            p.send_ping(PingSequence(0), &PAYLOAD).await.unwrap();
            // Sends that never yield: the receive task, on this thread, gets no turn.
            let sent = tokio::task::unconstrained(async {
                let mut sent = 1u16;
                while !clients.reader_behind(host) && sent < 2_000 {
                    p.send_ping(PingSequence(sent), &PAYLOAD).await.unwrap();
                    sent += 1;
                }
                sent
            })
            .await;
            // ~200 replies: past a turn's 128, far from the socket's 8 MiB.
            assert!((129..1_000).contains(&sent), "behind after {sent} unread replies");
        });
    }

    #[test]
    fn only_echo_replies_are_up() {
        assert_eq!(classify_type(false, 0, 0), Ok(()));
        assert_eq!(classify_type(true, 129, 0), Ok(()));
        let kind = |v6, t, c| classify_type(v6, t, c).unwrap_err().kind;
        assert_eq!(kind(false, 3, 1), FailKind::Unreachable);
        assert_eq!(kind(true, 1, 3), FailKind::Unreachable);
        assert_eq!(kind(false, 11, 0), FailKind::Unreachable);
        assert_eq!(kind(false, 8, 0), FailKind::Other);
        assert_eq!(classify_type(false, 3, 1).unwrap_err().to_string(), "host unreachable");
    }

    #[test]
    fn surge_errors_are_classified() {
        let two = Duration::from_secs(2);
        let t = classify_error(SurgeError::Timeout { seq: PingSequence(1) }, two);
        assert_eq!(
            (t.kind, t.to_string().as_str()),
            (FailKind::Timeout, "timed out after 2s")
        );
        let io = classify_error(
            SurgeError::IOError(std::io::Error::from_raw_os_error(libc::ENETUNREACH)),
            two,
        );
        assert_eq!(io.kind, FailKind::Unreachable);
        let perm = classify_error(SurgeError::IOError(std::io::Error::from_raw_os_error(libc::EPERM)), two);
        assert_eq!(perm.kind, FailKind::Unreachable);
    }

    #[tokio::test]
    async fn unavailable_socket_fails_as_permission() {
        let c = IcmpClients::unavailable(&format!(
            "permission denied opening a raw ICMPv4 socket: {NO_RAW_SOCKET}"
        ));
        let mut p = IcmpPinger::new();
        let e = p
            .probe(&c, "127.0.0.1".parse().unwrap(), Duration::from_millis(100), 2)
            .await;
        assert_eq!(e.tries.sent, 0, "nothing was sent");
        let e = e.result.unwrap_err();
        assert_eq!(e.kind, FailKind::Permission);
        assert_eq!(e.to_string(), "permission denied: ICMP needs CAP_NET_RAW");
    }

    #[tokio::test]
    async fn loopback_echo_and_socket_tuning() {
        if !running_as_root() {
            eprintln!("SKIP loopback_echo_and_socket_tuning: needs CAP_NET_RAW");
            return;
        }
        let c = IcmpClients::new();
        assert_eq!(c.v4_status(), Ok(()));
        let mut p = IcmpPinger::new();
        assert_eq!(p.ident(), None);
        for host in ["127.0.0.1", "127.3.2.1"] {
            p.retarget();
            let probed = p.probe(&c, host.parse().unwrap(), Duration::from_secs(1), 2).await;
            assert_eq!(probed.tries, Tries::FIRST, "a healthy host: one echo");
            let rtt = probed.result.unwrap();
            assert!(rtt < Duration::from_secs(1));
        }
        assert!(p.ident().is_some());
        assert_eq!(p.seq, 1, "a new address restarts the sequence");
        if c.v6_status().is_ok() {
            let mut p6 = IcmpPinger::new();
            p6.probe(&c, "::1".parse().unwrap(), Duration::from_secs(1), 2)
                .await
                .result
                .unwrap();
        }
        #[cfg(target_os = "linux")]
        if let Ok(client) = &c.v4 {
            let fd = client.get_socket().get_native_sock();
            let [mask] = tune::get_u32_array::<1>(fd, 255, 1).unwrap();
            assert_eq!(!mask, (1 << 0) | (1 << 3) | (1 << 11), "filter passes only 0, 3, 11");
            let [pmtu] = tune::get_u32_array::<1>(fd, libc::IPPROTO_IP, libc::IP_MTU_DISCOVER).unwrap();
            assert_eq!(
                pmtu,
                libc::IP_PMTUDISC_PROBE as u32,
                "echoes leave with DF, so with IP id 0"
            );
        }
    }
}
