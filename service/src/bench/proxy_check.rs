//! Measures the delay proxy itself against a local echo server, so a bench at
//! `--rtt-ms N` shows that the proxy adds N ms per round trip and does not
//! throttle bulk transfers: the median of sequential 1-byte round trips, and
//! the throughput of a large echo, direct, through the proxy without delay
//! (its copies alone) and through the proxy with the delay.
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::proxy::DelayProxy;

/// What [`check`] measured.
#[derive(Clone, Debug, Serialize)]
pub struct ProxyCheck {
    /// The round trip asked for (`--rtt-ms`).
    pub rtt_target_ms: f64,
    /// Sequential 1-byte round trips per median.
    pub round_trips: u32,
    /// Median round trip straight to the echo server.
    pub rtt_direct_ms: f64,
    /// Median round trip through the same proxy with no delay: its two extra
    /// hops alone (what a round trip through it costs beyond the delay).
    pub rtt_undelayed_ms: f64,
    /// Median round trip through the delaying proxy.
    pub rtt_proxied_ms: f64,
    /// Size of the bulk echo.
    pub bulk_mib: u64,
    /// Bulk echo straight to the echo server.
    pub bulk_direct_mib_s: f64,
    /// Through the same proxy with no delay: what its extra copies alone cost.
    pub bulk_undelayed_mib_s: f64,
    /// Bulk echo through the delaying proxy.
    pub bulk_proxied_mib_s: f64,
}

/// A server that echoes every byte back, on a loopback port of its own.
pub async fn echo_server() -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = conn.set_nodelay(true);
                let (mut r, mut w) = conn.into_split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    Ok((addr, task))
}

/// Median time of `n` sequential 1-byte round trips to `addr`, in ms.
pub async fn round_trip_ms(addr: SocketAddr, n: u32) -> std::io::Result<f64> {
    let mut conn = TcpStream::connect(addr).await?;
    conn.set_nodelay(true)?;
    let mut byte = [0u8; 1];
    let mut times = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let clock = Instant::now();
        conn.write_all(b"x").await?;
        conn.read_exact(&mut byte).await?;
        times.push(clock.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok(times.get(times.len() / 2).copied().unwrap_or(0.0))
}

/// Sends `mib` MiB to the echo at `addr` while reading them back; returns MiB/s
/// and whether every byte came back in order.
pub async fn bulk_mib_s(addr: SocketAddr, mib: u64) -> std::io::Result<(f64, bool)> {
    let conn = TcpStream::connect(addr).await?;
    let (mut r, mut w) = conn.into_split();
    let total = mib * 1024 * 1024;
    let block: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    let clock = Instant::now();
    let send = async move {
        let mut sent = 0u64;
        while sent < total {
            let n = block.len().min((total - sent) as usize);
            w.write_all(&block[..n]).await?;
            sent += n as u64;
        }
        w.shutdown().await
    };
    let receive = async move {
        let (mut got, mut intact) = (0u64, true);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = r.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            // The pattern repeats every 251 bytes and restarts every 64 KiB block.
            intact &= buf[..n]
                .iter()
                .enumerate()
                .all(|(i, &b)| b == (((got + i as u64) % (64 * 1024)) % 251) as u8);
            got += n as u64;
        }
        Ok::<_, std::io::Error>((got, intact))
    };
    let ((), (got, intact)) = tokio::try_join!(send, receive)?;
    let secs = clock.elapsed().as_secs_f64().max(1e-9);
    Ok((got as f64 / 1024.0 / 1024.0 / secs, intact && got == total))
}

/// Round trips and a bulk echo, direct and through a proxy of `rtt` round trip.
pub async fn check(rtt: Duration, round_trips: u32, mib: u64) -> std::io::Result<ProxyCheck> {
    let (echo, server) = echo_server().await?;
    let proxy = DelayProxy::start(echo, rtt / 2).await?;
    let rtt_direct_ms = round_trip_ms(echo, round_trips).await?;
    let rtt_proxied_ms = round_trip_ms(proxy.local_addr(), round_trips).await?;
    let undelayed = DelayProxy::start(echo, Duration::ZERO).await?;
    let rtt_undelayed_ms = round_trip_ms(undelayed.local_addr(), round_trips).await?;
    let (bulk_direct_mib_s, _) = bulk_mib_s(echo, mib).await?;
    let (bulk_undelayed_mib_s, _) = bulk_mib_s(undelayed.local_addr(), mib).await?;
    let (bulk_proxied_mib_s, intact) = bulk_mib_s(proxy.local_addr(), mib).await?;
    server.abort();
    if !intact {
        return Err(std::io::Error::other(
            "bytes through the delay proxy came back altered",
        ));
    }
    Ok(ProxyCheck {
        rtt_target_ms: rtt.as_secs_f64() * 1000.0,
        round_trips,
        rtt_direct_ms,
        rtt_undelayed_ms,
        rtt_proxied_ms,
        bulk_mib: mib,
        bulk_direct_mib_s,
        bulk_undelayed_mib_s,
        bulk_proxied_mib_s,
    })
}
