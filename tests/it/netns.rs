//! Network-namespace test hosts: a namespace joined to the root namespace by a veth
//! pair, so tests can probe a "remote" host and make it fail (link down, nftables
//! loss) without touching any real network. Everything is deleted on drop, even when
//! the test panics.
#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Runs a command, panicking with its stderr if it fails.
pub fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

fn quiet(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn root_has_addresses_in(prefix: &str) -> bool {
    let out = Command::new("ip").args(["-o", "-4", "addr", "show"]).output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).contains(prefix))
        .unwrap_or(true)
}

/// A namespace `ubt-<pid>-<n>` reachable at [`TestHost::addr`] (198.18.N.2) through a
/// veth pair whose root end is 198.18.N.1/30.
pub struct TestHost {
    /// Namespace name.
    pub ns: String,
    /// Interface inside the namespace.
    pub inner_if: String,
    /// Interface in the root namespace.
    pub outer_if: String,
    /// The /24 index N.
    pub n: u8,
    /// Extra addresses routed to the namespace (see [`TestHost::add_local_range`]).
    routes: Vec<String>,
}

impl TestHost {
    /// Creates the namespace and the link, both up.
    pub fn new() -> Self {
        let pid = std::process::id();
        let k = NEXT.fetch_add(1, Ordering::Relaxed);
        let ns = format!("ubt-{pid}-{k}");
        // Interface names are limited to 15 bytes.
        let tag = format!("{:x}{k}", pid % 0xfffff);
        let (outer_if, inner_if) = (format!("ubt{tag}r"), format!("ubt{tag}n"));
        // Pick an N no other test (in this or another process) uses right now.
        let start = (pid.wrapping_mul(7).wrapping_add(k * 13)) % 250;
        let n = (0..250)
            .map(|i| ((start + i) % 250) as u8 + 1)
            .find(|n| !root_has_addresses_in(&format!("198.18.{n}.")))
            .expect("a free 198.18.N.0/30");
        // From here on, Drop cleans up whatever was created.
        let host = Self {
            ns,
            inner_if,
            outer_if,
            n,
            routes: Vec::new(),
        };
        let ns = host.ns.as_str();
        run(&["ip", "netns", "add", ns]);
        run(&[
            "ip",
            "link",
            "add",
            &host.outer_if,
            "type",
            "veth",
            "peer",
            "name",
            &host.inner_if,
            "netns",
            ns,
        ]);
        run(&["ip", "addr", "add", &format!("198.18.{n}.1/30"), "dev", &host.outer_if]);
        run(&["ip", "link", "set", &host.outer_if, "up"]);
        run(&[
            "ip",
            "-n",
            ns,
            "addr",
            "add",
            &format!("198.18.{n}.2/30"),
            "dev",
            &host.inner_if,
        ]);
        run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        run(&["ip", "-n", ns, "link", "set", &host.inner_if, "up"]);
        host
    }

    /// The namespace end's address.
    pub fn addr(&self) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, self.n, 2)
    }

    /// Makes all of 198.19.N.0/27 local inside the namespace and routes it there, so a
    /// test can have up to 30 distinct target addresses on this one host.
    pub fn add_local_range(&mut self) -> Vec<Ipv4Addr> {
        let prefix = format!("198.19.{}.0/27", self.n);
        run(&["ip", "-n", &self.ns, "route", "add", "local", &prefix, "dev", "lo"]);
        run(&["ip", "route", "add", &prefix, "via", &self.addr().to_string()]);
        self.routes.push(prefix);
        (1..=30).map(|i| Ipv4Addr::new(198, 19, self.n, i)).collect()
    }

    /// Makes the root side keep the namespace end's MAC address (a permanent neighbour
    /// entry), so that while the link is down the host is silent: probes time out and
    /// pings are lost. Without it the root side's ARP gives up about 3 s after the link
    /// went down and the kernel answers "host unreachable" itself, so which of the two a
    /// verdict reports depends on how the probes fall against ARP's timers.
    pub fn pin_neighbour(&self) {
        let out = Command::new("ip")
            .args(["-n", &self.ns, "-o", "link", "show", &self.inner_if])
            .output()
            .expect("ip link show");
        let text = String::from_utf8_lossy(&out.stdout);
        let mac = text
            .split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .unwrap_or_else(|| panic!("no MAC address in {text:?}"));
        run(&[
            "ip",
            "neigh",
            "replace",
            &self.addr().to_string(),
            "lladdr",
            mac,
            "dev",
            &self.outer_if,
            "nud",
            "permanent",
        ]);
    }

    /// Sets the namespace end of the link down or up.
    pub fn set_link(&self, up: bool) {
        run(&[
            "ip",
            "-n",
            &self.ns,
            "link",
            "set",
            &self.inner_if,
            if up { "up" } else { "down" },
        ]);
    }

    /// Drops `percent` % of the packets entering the namespace (nftables; this kernel
    /// has no netem), at random.
    pub fn set_loss(&self, percent: u8) {
        if percent >= 100 {
            // `numgen random mod 100` is 0-99: `< 100` is refused; drop everything.
            self.add_rule("drop");
        } else {
            self.add_rule(&format!("numgen random mod 100 < {percent} drop"));
        }
    }

    /// Drops, of the echo requests to `addr`, the first `drop` of every `every`, counted
    /// (`numgen inc`): the same pattern every run, where a test needs its loss exact.
    /// Each rule counts only the packets it matches, so rules for several addresses
    /// of one host do not disturb each other.
    pub fn drop_echoes_counted(&self, addr: Ipv4Addr, drop: u32, every: u32) {
        self.add_rule(&format!(
            "ip daddr {addr} icmp type echo-request numgen inc mod {every} < {drop} drop"
        ));
    }

    /// Adds one rule (what follows `add rule … input`) to the namespace's input chain.
    pub fn add_rule(&self, rule: &str) {
        assert!(
            quiet(&["nft", "--version"]),
            "nft is missing: apt-get install -y nftables"
        );
        let script = format!(
            "add table inet ubtloss\n\
             add chain inet ubtloss input {{ type filter hook input priority 0; policy accept; }}\n\
             add rule inet ubtloss input {rule}\n"
        );
        run(&["ip", "netns", "exec", &self.ns, "nft", &script]);
    }

    /// Removes every rule [`TestHost::add_rule`] added: no more loss.
    pub fn clear_rules(&self) {
        run(&["ip", "netns", "exec", &self.ns, "nft", "delete table inet ubtloss"]);
    }

    /// Binds a TCP listener inside the namespace (on a helper thread that joins it).
    pub fn listen(&self, port: u16) -> std::net::TcpListener {
        let path = format!("/var/run/netns/{}", self.ns);
        let addr = std::net::SocketAddr::from((self.addr(), port));
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            enter_netns(&ns);
            let l = std::net::TcpListener::bind(addr).expect("bind inside the namespace");
            l.set_nonblocking(true).expect("nonblocking");
            l
        })
        .join()
        .expect("listener thread")
    }
}

/// Moves the calling thread (only) into the namespace behind `ns`.
#[allow(unsafe_code)]
fn enter_netns(ns: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: plain syscall on a valid, open namespace fd; it changes only this
    // thread's network namespace, and the thread exits right after binding.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
}

impl Drop for TestHost {
    fn drop(&mut self) {
        for r in &self.routes {
            let _ = quiet(&["ip", "route", "del", r]);
        }
        // Deleting the namespace destroys the veth pair (both ends) and the nft table.
        let _ = quiet(&["ip", "netns", "del", &self.ns]);
        let _ = quiet(&["ip", "link", "del", &self.outer_if]);
    }
}
