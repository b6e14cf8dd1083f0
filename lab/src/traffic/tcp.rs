//! TCP goodput (`mip6-lab tcp-sink`, `mip6-lab tcp-source`): the source writes as fast
//! as it can for a given time from a bound address (the MN's home address, so the
//! stream goes through the tunnel), the sink reads until end of stream and reports
//! goodput as payload bits over the time from first to last octet.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use socket2::{Domain, Socket, Type};

/// How long the source retries connecting (the sink may still be starting).
const CONNECT_RETRY: Duration = Duration::from_secs(3);
/// Size of each write and read.
const CHUNK: usize = 64 * 1024;

/// What a sink or source prints (as JSON) when done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TcpReport {
    /// Payload octets moved.
    pub bytes: u64,
    /// Seconds from the first to the last octet (sink) or of writing (source).
    pub secs: f64,
    /// Goodput, Mbit/s (10^6 bits per second).
    pub mbps: f64,
}

impl TcpReport {
    fn new(bytes: u64, elapsed: Duration) -> TcpReport {
        let secs = elapsed.as_secs_f64();
        let mbps = if secs > 0.0 {
            bytes as f64 * 8.0 / secs / 1e6
        } else {
            0.0
        };
        TcpReport { bytes, secs, mbps }
    }
}

/// Accepts one connection on `bind` (waiting at most `accept_timeout`) and reads it
/// to the end.
pub fn sink(bind: SocketAddr, accept_timeout: Duration) -> io::Result<TcpReport> {
    let listener = TcpListener::bind(bind)?;
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + accept_timeout;
    let mut stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no connection on {bind} within {accept_timeout:?}"),
                ))
            }
            Err(e) => return Err(e),
        }
    };
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = vec![0u8; CHUNK];
    let mut bytes = 0u64;
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        first.get_or_insert_with(Instant::now);
        last = Instant::now();
        bytes += n as u64;
    }
    let elapsed = first.map_or(Duration::ZERO, |f| last.duration_since(f));
    Ok(TcpReport::new(bytes, elapsed))
}

/// Connects from `bind` (port 0 for any) to `sink` (retrying for a few seconds),
/// writes for `duration`, closes its sending side and waits for the sink to close.
pub fn source(bind: SocketAddr, sink: SocketAddr, duration: Duration) -> io::Result<TcpReport> {
    let deadline = Instant::now() + CONNECT_RETRY;
    let mut stream = loop {
        match connect_from(bind, sink) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(error = %e, "connect failed, retrying");
                thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e),
        }
    };
    let chunk = vec![0x5au8; CHUNK];
    let start = Instant::now();
    let mut bytes = 0u64;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    while start.elapsed() < duration {
        bytes += stream.write(&chunk)? as u64;
    }
    let elapsed = start.elapsed();
    stream.shutdown(std::net::Shutdown::Write)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut rest = [0u8; 64];
    while stream.read(&mut rest)? > 0 {}
    Ok(TcpReport::new(bytes, elapsed))
}

fn connect_from(bind: SocketAddr, to: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(to), Type::STREAM, None)?;
    socket.bind(&bind.into())?;
    socket.connect_timeout(&to.into(), Duration::from_secs(2))?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_to_sink_on_loopback() {
        let port = TcpListener::bind("[::1]:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let at: SocketAddr = format!("[::1]:{port}").parse().unwrap();
        let sink_thread = thread::spawn(move || sink(at, Duration::from_secs(5)).unwrap());
        let sent = source("[::1]:0".parse().unwrap(), at, Duration::from_millis(300)).unwrap();
        let got = sink_thread.join().unwrap();
        assert_eq!(got.bytes, sent.bytes);
        assert!(got.mbps > 0.0 && sent.mbps > 0.0, "{got:?} {sent:?}");
    }

    #[test]
    fn goodput_of_nothing_is_zero() {
        assert_eq!(TcpReport::new(0, Duration::ZERO).mbps, 0.0);
        let r = TcpReport::new(1_000_000, Duration::from_secs(1));
        assert!((r.mbps - 8.0).abs() < 1e-9);
    }
}
