//! A loopback TCP relay that holds every chunk for half a round trip in each direction, put
//! between the service and the demo EHR so that `agent bench load` can also measure the EHR
//! as a hospital's is reached: across a network. The demo EHR runs on the bench's own cores,
//! so without the relay a turn's EHR calls cost CPU time only, never a wait that other
//! patients' turns could overlap.
//!
//! Chunks are delayed, not paced: each leaves half a round trip after it arrived, in order,
//! whatever else is in flight (a propagation delay with no bandwidth limit). A new connection
//! waits one round trip before it reaches the EHR, as a TCP handshake would.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A running relay; stops accepting when dropped (open connections end with their peers).
pub struct Relay {
    addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Relay {
    /// Relays 127.0.0.1:<free port> to `upstream`, adding `rtt` to every round trip.
    pub async fn start(upstream: SocketAddr, rtt: Duration) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await.context("binding the relay's port")?;
        let addr = listener.local_addr().context("reading the relay's address")?;
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(connection(client, upstream, rtt));
            }
        });
        Ok(Self { addr, accept })
    }

    /// `url` (an `http://host:port/...` URL of the upstream) as reached through this relay.
    pub fn url_for(&self, url: &str) -> anyhow::Result<String> {
        let mut u = reqwest::Url::parse(url).with_context(|| format!("not a URL: {url}"))?;
        u.set_port(Some(self.addr.port())).map_err(|()| anyhow::anyhow!("{url} cannot take a port"))?;
        Ok(u.as_str().trim_end_matches('/').to_owned())
    }
}

/// The socket address an `http://host:port/...` URL names.
pub fn socket_of(url: &str) -> anyhow::Result<SocketAddr> {
    let u = reqwest::Url::parse(url).with_context(|| format!("not a URL: {url}"))?;
    let addrs = u.socket_addrs(|| None).with_context(|| format!("no address for {url}"))?;
    addrs.into_iter().next().with_context(|| format!("no address for {url}"))
}

async fn connection(client: TcpStream, upstream: SocketAddr, rtt: Duration) {
    tokio::time::sleep(rtt).await;
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let one_way = rtt / 2;
    tokio::join!(pipe(client_read, server_write, one_way), pipe(server_read, client_write, one_way));
}

/// Copies `from` to `to`, each chunk `delay` after it was read; shuts `to` down after the last.
async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let read = async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = from.read(&mut buf).await {
            if tx.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
                break;
            }
        }
    };
    let write = async move {
        while let Some((due, bytes)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(read, write);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server behind the relay: each exchange takes at least the added round trip,
    /// the bytes come back unchanged and in order, and exchanges on two connections overlap.
    #[tokio::test]
    async fn adds_the_round_trip_and_keeps_the_bytes() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = echo.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n @ 1..) = s.read(&mut buf).await {
                        if s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let rtt = Duration::from_millis(60);
        let relay = Relay::start(upstream, rtt).await.unwrap();
        let addr = relay.addr;
        let exchange = |msg: &'static [u8]| async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let started = std::time::Instant::now();
            s.write_all(msg).await.unwrap();
            let mut got = vec![0u8; msg.len()];
            s.read_exact(&mut got).await.unwrap();
            (got, started.elapsed())
        };
        let started = std::time::Instant::now();
        let ((a, ta), (b, tb)) = tokio::join!(exchange(b"first message"), exchange(b"second"));
        assert_eq!((a.as_slice(), b.as_slice()), (&b"first message"[..], &b"second"[..]));
        // Connect (one round trip) then the exchange (another), on both connections at once.
        assert!(ta >= rtt * 2 && tb >= rtt * 2, "{ta:?} {tb:?}");
        assert!(started.elapsed() < rtt * 3, "the two connections were served one after the other: {:?}", started.elapsed());
        assert_eq!(relay.url_for("http://127.0.0.1:1/fhir").unwrap(), format!("http://127.0.0.1:{}/fhir", relay.addr.port()));
        assert_eq!(socket_of("http://127.0.0.1:8090/fhir").unwrap(), "127.0.0.1:8090".parse().unwrap());
    }
}
