//! WebSocket control API (STUB).

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::core::Service;

/// Serves the WS API on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: &Config,
    service: Service,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) -> std::io::Result<()> {
    let _ = (listener, config, service, tracker);
    shutdown.cancelled().await;
    Ok(())
}
