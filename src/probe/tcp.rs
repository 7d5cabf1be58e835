//! TCP connect probe: a handshake under a timeout, then an abortive close.
//!
//! The close uses `SO_LINGER 0` (probing.md P14): a normal close would leave one
//! TIME_WAIT socket per probe on our side for 60 s (54k of them at 1k connects/s), and
//! against one remote ip:port that exhausts ephemeral ports at about 470 probes/s.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpSocket;
use tokio::time::Instant;

use super::{ProbeFailure, ProbeResult};

/// Connects to `addr`; the RTT is the time the handshake took.
pub async fn probe(addr: SocketAddr, timeout: Duration) -> ProbeResult {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| ProbeFailure::from_io(&e))?;
    let start = Instant::now();
    match tokio::time::timeout(timeout, socket.connect(addr)).await {
        Err(_) => Err(ProbeFailure::timed_out(timeout)),
        Ok(Err(e)) => Err(ProbeFailure::from_io(&e)),
        Ok(Ok(stream)) => {
            let rtt = start.elapsed();
            if let Err(e) = stream.set_zero_linger() {
                tracing::debug!(error = %e, "SO_LINGER 0 failed; this connection ends in TIME_WAIT");
            }
            drop(stream);
            Ok(rtt)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::FailKind;

    #[tokio::test]
    async fn connect_to_listener_is_up_and_closed_port_is_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let rtt = probe(addr, Duration::from_secs(2)).await.unwrap();
        assert!(rtt < Duration::from_secs(2));
        let (conn, _) = listener.accept().await.unwrap();
        drop(conn);
        drop(listener);
        let err = probe(addr, Duration::from_secs(2)).await.unwrap_err();
        assert_eq!(err.kind, FailKind::Refused);
        assert_eq!(err.to_string(), "connection refused");
    }

    #[tokio::test]
    async fn zero_linger_leaves_no_time_wait() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        probe(addr, Duration::from_secs(2)).await.unwrap();
        let (mut conn, _) = listener.accept().await.unwrap();
        // The abortive close reaches the server as a reset, not as an orderly EOF.
        let mut buf = [0u8; 1];
        let read = tokio::io::AsyncReadExt::read(&mut conn, &mut buf).await;
        assert!(
            matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "{read:?}"
        );
    }
}
