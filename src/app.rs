//! Wiring and lifetime: open the store, start the scheduler, the command core and the
//! fronts, and shut them down in order (stop intake: Telegram dispatchers and alert
//! senders → close WS sessions → the on-call clock → stop probes → final flush).
//!
//! Cluster mode (`UPBOT_NATS_URL`): the node joins the cluster before anything loads
//! (its store is brought in line with the cluster's records), starts its bots dormant,
//! and lets them poll and send, and the on-call clock run, only while it leads
//! ([`crate::cluster::Cluster::leading`]). At shutdown it stops leading first, so the
//! lease moves at once.
//!
//! The store holds bot tokens, push secrets and webhook tokens, so the process creates
//! its files private to its user (umask 077; the data dir itself is created 0700).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::core::Service;
use crate::events::EventBus;
use crate::metrics::Metrics;
use crate::push::Push;
use crate::scheduler::Scheduler;
use crate::store::Store;

/// How long shutdown waits for sessions and tasks before giving up on them.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long after the start the store sweeps what a crash left without its monitor.
/// Those entries are never read, and a start is busy enough: the load, then clients
/// reconnecting and listing (100k monitors: the sweep beside the first `list` made it
/// 0.3 s slower).
const SWEEP_AFTER: Duration = Duration::from_secs(30);

/// A started server: addresses it listens on, and the handle to stop it.
pub struct Running {
    /// Where the WS API listens (the real port when configured with port 0).
    pub ws_addr: SocketAddr,
    /// Where the HTTP receiver (webhooks, /healthz, /metrics) listens.
    pub http_addr: SocketAddr,
    /// The command core (tests use it directly).
    pub service: Service,
    /// The probe engine (the benchmark reads its metrics).
    pub scheduler: Scheduler,
    /// The store, for tests and benchmarks to look into (no front holds it: they ask
    /// the service).
    pub store: Store,
    /// The push engine, for tests to look into.
    pub push: Push,
    /// Cancel to shut down.
    pub shutdown: CancellationToken,
    done: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Cancels and waits for the ordered shutdown to finish.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until the server has stopped (after `shutdown` was cancelled).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.done.await.context("server task panicked")?
    }
}

/// Installs the binary's log output: `RUST_LOG` (default `info`) to stderr, coloured
/// only on a terminal (journald and log files get plain text). The benchmarks install
/// it too: every monitor task carries a span, and its cost is the binary's.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

/// Starts everything and returns once listeners are bound.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    private_files();
    crate::http::limits::raise_fd_limit();
    let dir = config.data_dir.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&dir))
        .await
        .context("store open task")??;
    tracing::info!(dir = %config.data_dir.display(), schema = store.schema_version()?, "store opened");

    let cluster = match &config.cluster {
        None => None,
        Some(c) => {
            let cluster = crate::cluster::Cluster::join(c).await?;
            cluster.attach(&store).await.context("joining the cluster")?;
            tracing::info!(site = %c.site, nats = %c.nats_display(), "cluster mode");
            Some(cluster)
        }
    };

    // Bound first: a port in use fails before anything starts, and the default public
    // URL can name the real port (tests bind port 0).
    let http_listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("binding the HTTP receiver to {} (UPBOT_HTTP_ADDR)", config.http_addr))?;
    let http_addr = http_listener.local_addr()?;
    let public_url = if config.public_url == format!("http://{}", config.http_addr) {
        format!("http://{http_addr}")
    } else {
        config.public_url.clone()
    };

    let shutdown = CancellationToken::new();
    let events = EventBus::new();
    let metrics = Metrics::new();
    let scheduler = Scheduler::start(store.clone(), events.clone(), metrics.clone(), shutdown.child_token())
        .context("starting the probe scheduler")?;
    report_probe_status(&scheduler);
    if let Some(c) = &cluster {
        scheduler.set_site(c.site());
    }
    if let Some(path) = &config.extra_ca_file {
        // Before the monitors load: the https pools read the roots when first used.
        let roots =
            crate::probe::http::read_pem_roots(path).map_err(|e| anyhow::anyhow!("UPBOT_EXTRA_CA_FILE: {e}"))?;
        tracing::info!(file = %path.display(), certificates = roots.len(), "https monitors also trust these CAs");
        scheduler.set_extra_roots(roots);
    }
    let push = Push::start(store.clone(), events.clone(), metrics.clone(), shutdown.child_token());
    let (running_store, running_push) = (store.clone(), push.clone());
    let service = Service::start(
        store.clone(),
        scheduler.clone(),
        push.clone(),
        events,
        metrics,
        &public_url,
    )
    .context("loading monitors")?;
    service.set_chat_safety(crate::core::ChatSafety::from_config(&config));
    if let Some(c) = &cluster {
        c.start(service.clone(), shutdown.child_token());
    }
    // Ends mutes on time (those that ended while upbot was stopped at once) and queues
    // reminders; it only writes to the outbox, so it may start before the senders. In
    // cluster mode it runs on the leader only (below).
    let clock = match &cluster {
        None => tokio::spawn(crate::core::oncall::run_clock(service.clone(), shutdown.child_token())),
        Some(_) => tokio::spawn(async {}),
    };

    // Before the WS API: its "listening" line tells operators (and tests) start-up is done.
    let telegram = match &cluster {
        None => crate::telegram::Telegram::start(&config, service.clone()).await,
        Some(_) => crate::telegram::Telegram::start_dormant(&config, service.clone()).await,
    }
    .context("starting the Telegram front")?;
    let telegram = std::sync::Arc::new(telegram);
    let leadership = cluster.as_ref().map(|c| {
        tokio::spawn(follow_leadership(
            c.clone(),
            service.clone(),
            telegram.clone(),
            shutdown.clone(),
        ))
    });

    let ws_listener = match tokio::net::TcpListener::bind(config.ws_addr).await {
        Ok(l) => l,
        Err(e) => {
            telegram.stop().await;
            shutdown.cancel();
            let _ = clock.await;
            return Err(e).with_context(|| format!("binding the WS API to {} (UPBOT_WS_ADDR)", config.ws_addr));
        }
    };
    let ws_addr = ws_listener.local_addr()?;
    tracing::info!(addr = %ws_addr, "WebSocket API listening");
    tracing::info!(addr = %http_addr, %public_url, "HTTP receiver listening (webhooks, /healthz, /metrics)");

    let tracker = TaskTracker::new();
    let ws = {
        let (config, service, token, tracker2) = (config.clone(), service.clone(), shutdown.clone(), tracker.clone());
        tracker.spawn(async move { crate::ws::serve(ws_listener, &config, service, token, tracker2).await })
    };
    let http = {
        let (config, service, scheduler, token, tracker2) = (
            config.clone(),
            service.clone(),
            scheduler.clone(),
            shutdown.clone(),
            tracker.clone(),
        );
        tracker
            .spawn(async move { crate::http::serve(http_listener, &config, service, scheduler, token, tracker2).await })
    };

    // Recorded history is written in batches (see core::history).
    tracker.spawn(service.clone().run_history_saver(shutdown.clone()));
    let (sweep_store, token) = (store.clone(), shutdown.clone());
    tracker.spawn(async move {
        tokio::select! {
            () = token.cancelled() => {}
            () = tokio::time::sleep(SWEEP_AFTER) => sweep_store.sweep_later(),
        }
    });

    let scheduler_handle = scheduler.clone();
    let token = shutdown.clone();
    let history_service = service.clone();
    let done = tokio::spawn(async move {
        token.cancelled().await;
        tracing::info!("shutting down");
        if let Some(l) = leadership {
            let _ = l.await;
        }
        telegram.stop().await;
        if let Some(c) = &cluster {
            c.leave().await;
        }
        tracker.close();
        if tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait()).await.is_err() {
            tracing::warn!("some sessions did not finish within {DRAIN_TIMEOUT:?}");
        }
        if let Ok(Err(e)) = ws.await {
            tracing::warn!(error = %e, "WS server ended with an error");
        }
        if let Ok(Err(e)) = http.await {
            tracing::warn!(error = %e, "HTTP receiver ended with an error");
        }
        let _ = clock.await;
        push.shutdown().await;
        scheduler.shutdown().await;
        if let Err(e) = history_service.save_history().await {
            tracing::warn!(error = %e, "saving history at shutdown failed");
        }
        store.flush().await.context("final store flush")?;
        tracing::info!("stopped; store flushed");
        Ok(())
    });
    Ok(Running {
        ws_addr,
        http_addr,
        service,
        scheduler: scheduler_handle,
        store: running_store,
        push: running_push,
        shutdown,
        done,
    })
}

/// Cluster mode: polls and sends (and runs the on-call clock) while this node leads,
/// and stops all of it, before the lease can move, when it no longer does.
async fn follow_leadership(
    cluster: crate::cluster::Cluster,
    service: Service,
    telegram: std::sync::Arc<crate::telegram::Telegram>,
    shutdown: CancellationToken,
) {
    let mut leading = cluster.leading();
    let mut clock: Option<(CancellationToken, tokio::task::JoinHandle<()>)> = None;
    loop {
        let lead = *leading.borrow_and_update();
        match (lead, clock.is_some()) {
            (true, false) => {
                telegram.launch_stored().await;
                telegram.activate().await;
                let token = shutdown.child_token();
                let task = tokio::spawn(crate::core::oncall::run_clock(service.clone(), token.clone()));
                clock = Some((token, task));
            }
            (false, true) => {
                if let Some((token, task)) = clock.take() {
                    token.cancel();
                    let _ = task.await;
                }
                telegram.deactivate().await;
            }
            _ => {}
        }
        cluster.front_running(clock.is_some());
        tokio::select! {
            () = shutdown.cancelled() => break,
            r = leading.changed() => if r.is_err() { break },
            () = cluster.bot_added() => {
                if clock.is_some() {
                    telegram.launch_stored().await;
                }
            }
        }
    }
    if let Some((token, task)) = clock.take() {
        token.cancel();
        let _ = task.await;
    }
    telegram.deactivate().await;
    cluster.front_running(false);
}

/// Runs until `signal` resolves, then shuts down in order.
pub async fn run(config: Config, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
    let running = start(config).await?;
    tokio::select! {
        () = signal => {}
        () = running.shutdown.cancelled() => {}
    }
    running.stop().await
}

/// Files this process creates (the store's, sled's snapshots included) are readable by
/// its user only.
#[allow(unsafe_code)]
fn private_files() {
    // SAFETY: umask(2) only sets the process's file mode mask and cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

fn report_probe_status(scheduler: &Scheduler) {
    let st = scheduler.status();
    for (family, r) in [("ICMPv4", &st.icmp_v4), ("ICMPv6", &st.icmp_v6)] {
        if let Err(why) = r {
            tracing::warn!(
                "{family} unavailable: {why}; ping monitors stay pending. Fix: run as root, \
                 `setcap cap_net_raw+ep $(which upbot)`, or AmbientCapabilities=CAP_NET_RAW in systemd"
            );
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
