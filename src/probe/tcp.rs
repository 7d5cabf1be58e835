//! TCP connect probe: a handshake under a timeout, tried once more when it times out,
//! then an abortive close.
//!
//! The close uses `SO_LINGER 0` (probing.md P14): a normal close would leave one
//! TIME_WAIT socket per probe on our side for 60 s (54k of them at 1k connects/s), and
//! against one remote ip:port that exhausts ephemeral ports at about 470 probes/s.
//!
//! The retry (interface.md, "Loss-threshold debouncing", applied to TCP): a connect
//! with no answer after half the timeout gets a second connect on a fresh socket, the
//! first still waiting, and whichever is answered first decides. A lost SYN is thus
//! sent again within the timeout even when the timeout is shorter than the kernel's
//! own first SYN retransmission (1 s). Only silence is retried: a refusal (RST), an
//! unreachable host or any other error is an answer and ends the probe at once.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use super::{ProbeFailure, Probed, Tries};

/// One connect attempt.
async fn connect(addr: SocketAddr) -> Result<TcpStream, ProbeFailure> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(|e| ProbeFailure::from_io(&e))?;
    socket.connect(addr).await.map_err(|e| ProbeFailure::from_io(&e))
}

/// Closes a connected probe with RST and returns the handshake time.
fn close(stream: TcpStream, rtt: Duration) -> Duration {
    if let Err(e) = stream.set_zero_linger() {
        tracing::debug!(error = %e, "SO_LINGER 0 failed; this connection ends in TIME_WAIT");
    }
    drop(stream);
    rtt
}

/// Connects to `addr` (see the module doc for the retry); the RTT is the time the
/// answered attempt's handshake took.
pub async fn probe(addr: SocketAddr, timeout: Duration) -> Probed {
    let done = |result, sent, answered| Probed {
        result,
        tries: Tries { sent, answered },
    };
    let start = Instant::now();
    let first = connect(addr);
    tokio::pin!(first);
    match tokio::time::timeout(timeout / 2, &mut first).await {
        Ok(Ok(stream)) => return done(Ok(close(stream, start.elapsed())), 1, Some(0)),
        Ok(Err(f)) => return done(Err(f), 1, Some(0)),
        Err(_) => {}
    }
    let retried = Instant::now();
    let second = connect(addr);
    tokio::pin!(second);
    let end = tokio::time::sleep_until(start + timeout);
    tokio::pin!(end);
    tokio::select! {
        r = &mut first => match r {
            Ok(stream) => done(Ok(close(stream, start.elapsed())), 2, Some(0)),
            Err(f) => done(Err(f), 2, Some(0)),
        },
        r = &mut second => match r {
            Ok(stream) => done(Ok(close(stream, retried.elapsed())), 2, Some(1)),
            Err(f) => done(Err(f), 2, Some(1)),
        },
        () = &mut end => done(Err(ProbeFailure::timed_out(timeout)), 2, None),
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
        let p = probe(addr, Duration::from_secs(2)).await;
        assert_eq!(p.tries, Tries::FIRST);
        let rtt = p.result.unwrap();
        assert!(rtt < Duration::from_secs(2));
        let (conn, _) = listener.accept().await.unwrap();
        drop(conn);
        drop(listener);
        let p = probe(addr, Duration::from_secs(2)).await;
        assert_eq!(p.tries, Tries::FIRST, "a refusal is an answer: never retried");
        let err = p.result.unwrap_err();
        assert_eq!(err.kind, FailKind::Refused);
        assert_eq!(err.to_string(), "connection refused");
    }

    #[tokio::test]
    async fn zero_linger_leaves_no_time_wait() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        probe(addr, Duration::from_secs(2)).await.result.unwrap();
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
