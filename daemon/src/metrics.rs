//! The Prometheus text exposition (format 0.0.4) of a daemon's counters, served over
//! plain HTTP/1.1 on a loopback address (the configuration refuses others): any GET
//! gets the current text, then the connection closes.
//!
//! As with [`crate::control`], the event loop owns the counters: each scrape is a
//! [`MetricsRequest`] on a channel, answered with the text [`Text`] builds.

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// One scrape: answer with the exposition text.
#[derive(Debug)]
pub struct MetricsRequest {
    /// Where the event loop puts the text.
    pub reply: oneshot::Sender<String>,
}

/// The listening endpoint; stops serving on drop.
#[derive(Debug)]
pub struct MetricsServer {
    local: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    /// The address actually bound (port 0 picks one).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` and serves scrapes on the current tokio runtime.
pub async fn serve(
    addr: SocketAddr,
) -> io::Result<(MetricsServer, mpsc::Receiver<MetricsRequest>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let (tx, rx) = mpsc::channel(8);
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(2), scrape(stream, tx)).await;
            });
        }
    });
    Ok((MetricsServer { local, task }, rx))
}

async fn scrape(
    mut stream: tokio::net::TcpStream,
    tx: mpsc::Sender<MetricsRequest>,
) -> io::Result<()> {
    // Read the request head (up to the blank line or 8 KiB); its content does not
    // matter: every path answers with the metrics.
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let (reply, wait) = oneshot::channel();
    if tx.send(MetricsRequest { reply }).await.is_err() {
        return Ok(());
    }
    let Ok(body) = wait.await else { return Ok(()) };
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        body
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// Builds exposition text: `# HELP`/`# TYPE` once per metric name, then samples.
#[derive(Debug, Default)]
pub struct Text {
    out: String,
    last_name: String,
}

impl Text {
    /// An empty exposition.
    pub fn new() -> Text {
        Text::default()
    }

    fn header(&mut self, name: &str, help: &str, kind: &str) {
        if self.last_name != name {
            let _ = writeln!(self.out, "# HELP {name} {help}");
            let _ = writeln!(self.out, "# TYPE {name} {kind}");
            self.last_name = name.to_owned();
        }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: &str) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"");
                for c in v.chars() {
                    match c {
                        '\\' => self.out.push_str("\\\\"),
                        '"' => self.out.push_str("\\\""),
                        '\n' => self.out.push_str("\\n"),
                        c => self.out.push(c),
                    }
                }
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// A counter sample (consecutive samples of one name share their header).
    pub fn counter(mut self, name: &str, help: &str, labels: &[(&str, &str)], value: u64) -> Text {
        self.header(name, help, "counter");
        self.sample(name, labels, &value.to_string());
        self
    }

    /// A gauge sample.
    pub fn gauge(mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) -> Text {
        self.header(name, help, "gauge");
        self.sample(name, labels, &value.to_string());
        self
    }

    /// The text.
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_has_one_header_per_name_and_escapes_labels() {
        let t = Text::new()
            .gauge("mip6_ha_bindings", "Bindings in the cache.", &[], 2.0)
            .counter(
                "mip6_ha_drops_total",
                "Drops by reason.",
                &[("reason", "bad\"icv")],
                3,
            )
            .counter(
                "mip6_ha_drops_total",
                "Drops by reason.",
                &[("reason", "replay")],
                1,
            )
            .finish();
        assert_eq!(
            t,
            "# HELP mip6_ha_bindings Bindings in the cache.\n# TYPE mip6_ha_bindings gauge\nmip6_ha_bindings 2\n\
             # HELP mip6_ha_drops_total Drops by reason.\n# TYPE mip6_ha_drops_total counter\n\
             mip6_ha_drops_total{reason=\"bad\\\"icv\"} 3\nmip6_ha_drops_total{reason=\"replay\"} 1\n"
        );
    }

    #[test]
    fn a_scrape_gets_the_loops_text() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (server, mut rx) = serve("[::1]:0".parse().unwrap()).await.unwrap();
            let addr = server.local_addr();
            let client = tokio::spawn(async move {
                let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .unwrap();
                let mut out = String::new();
                s.read_to_string(&mut out).await.unwrap();
                out
            });
            let req = rx.recv().await.unwrap();
            req.reply.send("x_total 1\n".into()).unwrap();
            let out = client.await.unwrap();
            assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
            assert!(out.contains("version=0.0.4"));
            assert!(out.ends_with("\r\n\r\nx_total 1\n"), "{out}");
        });
    }
}
