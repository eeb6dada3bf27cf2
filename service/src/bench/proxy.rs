//! A TCP proxy that delays every chunk by a fixed time in each direction, so
//! benchmarks on loopback (0.1–0.2 ms per round trip) can show what jobs cost
//! when every round trip crosses a network (`sitejobs bench --rtt-ms N`). This
//! kernel has no netem qdisc, hence a proxy in the bench process itself.
//!
//! Each connection is two pipes. A pipe's reader stamps every chunk it reads
//! with `arrival + delay` and queues it; its writer forwards each chunk at its
//! stamp. The reader never waits for the writer, so the delay adds latency
//! only: the bytes of a bulk transfer are in flight together, like on a long
//! fat link, and throughput stays what loopback gives. Tokio's timer has a
//! 1 ms grain, far too coarse for a 0.5 ms one-way delay, so the writer waits
//! the last stretch on tokio's blocking pool: nanosleep to 80 µs before the
//! release (it wakes up to the 50 µs timer slack late), then a spin.
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Largest chunk read at once.
const CHUNK: usize = 64 * 1024;
/// Chunks queued per pipe (at most 64 MiB in flight per direction).
const QUEUE: usize = 1024;
/// The last stretch of a wait, spun instead of slept (see [`wait_until`]).
const SPIN: Duration = Duration::from_micros(80);
/// Below this, waiting costs more than it is worth.
const MIN_WAIT: Duration = Duration::from_micros(20);

/// A running proxy from a loopback port of its own to `upstream`; stops when dropped.
pub struct DelayProxy {
    local: SocketAddr,
    accept: JoinHandle<()>,
}

impl DelayProxy {
    /// Listens on `127.0.0.1:0` and forwards every connection to `upstream`,
    /// each chunk held `one_way` in each direction (round trip: twice that).
    pub async fn start(upstream: SocketAddr, one_way: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let local = listener.local_addr()?;
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if let Err(e) = serve(client, upstream, one_way).await {
                        tracing::debug!(error = %e, "delay proxy connection ended");
                    }
                });
            }
        });
        Ok(Self { local, accept })
    }

    /// Where clients connect instead of the upstream server.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn serve(client: TcpStream, upstream: SocketAddr, one_way: Duration) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    // Small chunks are what round trips are made of: never let Nagle hold them.
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pipe(client_read, server_write, one_way);
    let down = pipe(server_read, client_write, one_way);
    tokio::try_join!(up, down)?;
    Ok(())
}

/// Forwards `from` to `to`, each chunk released `delay` after it arrived.
async fn pipe(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    delay: Duration,
) -> std::io::Result<()> {
    let (queue, mut queued) = mpsc::channel::<(Instant, Vec<u8>)>(QUEUE);
    let read = async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = from.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            if queue
                .send((Instant::now() + delay, buf[..n].to_vec()))
                .await
                .is_err()
            {
                return Ok(());
            }
        }
    };
    let write = async move {
        let mut early = None;
        loop {
            let next = match early.take() {
                Some(next) => next,
                None => match queued.recv().await {
                    Some(next) => next,
                    None => break,
                },
            };
            let (release, mut out) = next;
            wait_until(release).await;
            // Chunks already due go out in the same write: fewer syscalls in a bulk transfer.
            let now = Instant::now();
            while out.len() < CHUNK * 4 {
                match queued.try_recv() {
                    Ok((due, more)) if due <= now => out.extend_from_slice(&more),
                    Ok(not_yet) => {
                        early = Some(not_yet);
                        break;
                    }
                    Err(_) => break,
                }
            }
            to.write_all(&out).await?;
        }
        // The reader saw end of stream: pass the half-close on.
        to.shutdown().await
    };
    tokio::try_join!(read, write)?;
    Ok(())
}

/// Sleeps until `at` with sub-millisecond precision: tokio's timer for whole
/// milliseconds, then nanosleep on the blocking pool for the rest.
pub async fn wait_until(at: Instant) {
    let left = at.saturating_duration_since(Instant::now());
    if left > Duration::from_millis(2) {
        tokio::time::sleep(left - Duration::from_millis(2)).await;
    }
    let left = at.saturating_duration_since(Instant::now());
    if left > MIN_WAIT {
        let _ = tokio::task::spawn_blocking(move || {
            // nanosleep wakes up to the timer slack (50 µs) late, so it
            // sleeps to SPIN before `at` and the thread spins the rest.
            if let Some(sleep) = left.checked_sub(SPIN) {
                std::thread::sleep(sleep);
            }
            while Instant::now() < at {
                std::hint::spin_loop();
            }
        })
        .await;
    }
}

/// The `host:port` of a URL's authority (`postgres://u:p@h:5432/db` → `h:5432`),
/// resolved; `default_port` when the URL names none.
pub fn url_addr(url: &str, default_port: u16) -> Option<(String, SocketAddr)> {
    use std::net::ToSocketAddrs;
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let host_port = &authority[authority.rfind('@').map_or(0, |i| i + 1)..];
    let with_port = if host_port
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        host_port.to_owned()
    } else {
        format!("{host_port}:{default_port}")
    };
    let addr = with_port.to_socket_addrs().ok()?.next()?;
    Some((host_port.to_owned(), addr))
}

/// `url` with its `host[:port]` replaced by `to` (the proxy's address).
pub fn url_via(url: &str, host_port: &str, to: SocketAddr) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let at = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    let authority = &url[start..at];
    let host_at = authority.rfind('@').map_or(start, |i| start + i + 1);
    debug_assert_eq!(&url[host_at..at], host_port);
    format!("{}{to}{}", &url[..host_at], &url[at..])
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn urls_are_pointed_at_the_proxy() {
        let to: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
        let url = "postgres://u:p@127.0.0.1:55432/db?sslmode=disable";
        let (hp, addr) = url_addr(url, 5432).expect("addr");
        assert_eq!((hp.as_str(), addr.port()), ("127.0.0.1:55432", 55432));
        assert_eq!(
            url_via(url, &hp, to),
            "postgres://u:p@127.0.0.1:4000/db?sslmode=disable"
        );
        let (hp, addr) = url_addr("redis://127.0.0.1/2", 6379).expect("addr");
        assert_eq!(addr.port(), 6379);
        assert_eq!(
            url_via("redis://127.0.0.1/2", &hp, to),
            "redis://127.0.0.1:4000/2"
        );
    }
}
