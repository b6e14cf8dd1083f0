//! The local control socket: how `mip6-ha status` and `mip6-mn status` ask a running
//! daemon for its state.
//!
//! Protocol: a Unix stream socket; the client writes one line, a JSON object
//! `{"command":"status"}`, optionally with arguments, `{"command":"status",
//! "args":{"offset":1000,"limit":1000}}` (a page of the mobile nodes, [`Page`]); the
//! daemon answers with one JSON value and closes. The
//! socket file is created mode 0600 (the answer names keys' SPIs and ages, not keys)
//! and removed when the [`ControlServer`] is dropped.
//!
//! The engine is owned by the daemon's event loop, so connections are served by a
//! small task that forwards each request over a channel ([`ControlRequest`]) and
//! writes back what the loop answers.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::UnixListener;
use tokio::sync::{mpsc, oneshot};

/// How long a client may take to send its request line, and the client's wait for
/// the answer.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// The longest request line accepted.
const MAX_REQUEST: usize = 4096;

/// One request from a client; answer it by sending the reply value.
#[derive(Debug)]
pub struct ControlRequest {
    /// The command asked for (`"status"`).
    pub command: String,
    /// Its arguments (an empty object when the request had none).
    pub args: serde_json::Map<String, serde_json::Value>,
    /// Where the event loop puts the answer.
    pub reply: oneshot::Sender<serde_json::Value>,
}

/// The listening socket; the file is removed on drop.
#[derive(Debug)]
pub struct ControlServer {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl ControlServer {
    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Errors of the client side.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Nothing listens at the path (daemon not running, or another socket path).
    #[error("no daemon answers on {path}: {source} (is it running? is this its control_socket?)")]
    Connect {
        /// The socket path tried.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The exchange failed after connecting.
    #[error("control socket {path}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The daemon's answer is not JSON.
    #[error("control socket {path}: the answer is not JSON: {source}")]
    BadAnswer {
        /// The socket path.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
}

/// Whether a process accepts connections on the Unix socket at `path`: a daemon
/// running with the same `control_socket`. A file nobody listens on (left by a
/// daemon killed with SIGKILL) or no file at all is not live.
pub fn is_live(path: &Path) -> bool {
    StdUnixStream::connect(path).is_ok()
}

/// Refuses to go on when another daemon answers on `path` (issue 11, item 4: a second
/// daemon that replaced a live socket made `status` answer for the wrong node). The
/// message names the path and the fix.
pub fn refuse_if_live(path: &Path) -> Result<(), String> {
    if is_live(path) {
        Err(format!(
            "control socket {}: another running daemon answers on it; give this one \
             its own control_socket (and state_dir) in its configuration",
            path.display()
        ))
    } else {
        Ok(())
    }
}

/// Binds the socket at `path` (a stale file from a killed daemon is replaced; a live
/// socket of another daemon is not: `AddrInUse`) and serves it on the current tokio
/// runtime. Requests arrive on the returned receiver.
pub fn serve(path: &Path) -> io::Result<(ControlServer, mpsc::Receiver<ControlRequest>)> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    if let Err(message) = refuse_if_live(path) {
        return Err(io::Error::new(io::ErrorKind::AddrInUse, message));
    }
    match std::fs::remove_file(path) {
        Ok(()) => tracing::info!(path = %path.display(), "replaced a stale control socket"),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    let (tx, rx) = mpsc::channel(16);
    let task = tokio::spawn(accept_loop(listener, tx));
    Ok((
        ControlServer {
            path: path.to_owned(),
            task,
        },
        rx,
    ))
}

async fn accept_loop(listener: UnixListener, tx: mpsc::Sender<ControlRequest>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "control socket accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_one(stream, tx).await {
                tracing::debug!(error = %e, "control connection ended badly");
            }
        });
    }
}

async fn serve_one(
    stream: tokio::net::UnixStream,
    tx: mpsc::Sender<ControlRequest>,
) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = AsyncBufReader::new(read).take(MAX_REQUEST as u64);
    let mut line = String::new();
    tokio::time::timeout(TIMEOUT, reader.read_line(&mut line))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no request line"))??;
    let answer = match parse_request(&line) {
        Ok((command, args)) => {
            let (reply, wait) = oneshot::channel();
            if tx
                .send(ControlRequest {
                    command,
                    args,
                    reply,
                })
                .await
                .is_err()
            {
                return Ok(()); // the daemon is shutting down
            }
            match wait.await {
                Ok(v) => v,
                Err(_) => return Ok(()),
            }
        }
        Err(message) => serde_json::json!({ "error": message }),
    };
    let mut bytes = serde_json::to_vec(&answer).map_err(io::Error::other)?;
    bytes.push(b'\n');
    write.write_all(&bytes).await?;
    write.shutdown().await
}

/// The command and arguments of a request line, or why it is not one.
fn parse_request(
    line: &str,
) -> Result<(String, serde_json::Map<String, serde_json::Value>), String> {
    let value: serde_json::Value =
        serde_json::from_str(line.trim()).map_err(|e| format!("request is not JSON: {e}"))?;
    let command = value
        .get("command")
        .and_then(|c| c.as_str())
        .map(str::to_owned)
        .ok_or_else(|| "request has no \"command\" string".to_owned())?;
    let args = match value.get("args") {
        None | Some(serde_json::Value::Null) => serde_json::Map::new(),
        Some(serde_json::Value::Object(args)) => args.clone(),
        Some(_) => return Err("\"args\" is not an object".to_owned()),
    };
    Ok((command, args))
}

/// Which mobile nodes a `status` lists: at most `limit` from `offset` on, in the
/// daemon's own order (the home agent's configuration order), so one answer stays
/// bounded however many nodes the daemon serves (issue 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// The first node listed.
    pub offset: usize,
    /// How many at most.
    pub limit: usize,
}

impl Page {
    /// The default and largest page.
    pub const MAX_LIMIT: usize = 1000;

    /// The page the arguments ask for (`offset`, `limit`; defaults 0 and
    /// [`Page::MAX_LIMIT`]), or why they are wrong.
    pub fn from_args(args: &serde_json::Map<String, serde_json::Value>) -> Result<Page, String> {
        let number = |key: &str, default: usize| match args.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| format!("\"{key}\" is not a non-negative integer")),
        };
        let page = Page {
            offset: number("offset", 0)?,
            limit: number("limit", Self::MAX_LIMIT)?,
        };
        if page.limit == 0 || page.limit > Self::MAX_LIMIT {
            return Err(format!("\"limit\" must be 1..={}", Self::MAX_LIMIT));
        }
        Ok(page)
    }

    /// The indexes of this page in a list of `total`.
    pub fn range(&self, total: usize) -> std::ops::Range<usize> {
        let start = self.offset.min(total);
        start..start.saturating_add(self.limit).min(total)
    }
}

impl Default for Page {
    fn default() -> Self {
        Page {
            offset: 0,
            limit: Self::MAX_LIMIT,
        }
    }
}

/// Asks the daemon listening at `path` for `command` and returns its answer
/// (blocking; [`TIMEOUT`] for each step).
pub fn request(path: &Path, command: &str) -> Result<serde_json::Value, ControlError> {
    request_with(path, command, serde_json::Map::new())
}

/// Like [`request`], with arguments.
pub fn request_with(
    path: &Path,
    command: &str,
    args: serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Value, ControlError> {
    let io_err = |source| ControlError::Io {
        path: path.to_owned(),
        source,
    };
    let mut stream = StdUnixStream::connect(path).map_err(|source| ControlError::Connect {
        path: path.to_owned(),
        source,
    })?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io_err)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io_err)?;
    let mut request = serde_json::json!({ "command": command });
    if !args.is_empty() {
        request["args"] = serde_json::Value::Object(args);
    }
    let mut line = request.to_string();
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(io_err)?;
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .map_err(io_err)?;
    serde_json::from_str(&answer).map_err(|source| ControlError::BadAnswer {
        path: path.to_owned(),
        source,
    })
}

/// What `<daemon> status [--json]` prints: the answer as one JSON line, or rendered
/// by `render_text`; `Err` is the message for stderr (no daemon, or it answered with
/// an error).
pub fn status_output(
    daemon: &str,
    socket: &Path,
    json: bool,
    page: Page,
    render_text: impl FnOnce(&serde_json::Value) -> String,
) -> Result<String, String> {
    let mut args = serde_json::Map::new();
    if page != Page::default() {
        args.insert("offset".into(), page.offset.into());
        args.insert("limit".into(), page.limit.into());
    }
    match request_with(socket, "status", args) {
        Ok(answer) => {
            if let Some(error) = answer.get("error") {
                return Err(format!(
                    "{daemon}: the daemon answered with an error: {error}"
                ));
            }
            Ok(if json {
                format!("{answer}\n")
            } else {
                render_text(&answer)
            })
        }
        Err(e) => Err(format!("{daemon} status: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_are_parsed_or_explained() {
        assert_eq!(
            parse_request("{\"command\":\"status\"}\n"),
            Ok(("status".into(), serde_json::Map::new()))
        );
        let (_, args) = parse_request("{\"command\":\"status\",\"args\":{\"offset\":5}}").unwrap();
        assert_eq!(
            Page::from_args(&args),
            Ok(Page {
                offset: 5,
                limit: 1000
            })
        );
        assert!(parse_request("{\"command\":\"status\",\"args\":3}")
            .unwrap_err()
            .contains("args"));
        assert!(parse_request("status").unwrap_err().contains("not JSON"));
        assert!(parse_request("{\"cmd\":1}")
            .unwrap_err()
            .contains("command"));
    }

    #[test]
    fn a_client_gets_the_loops_answer_and_the_file_goes_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctl.sock");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            // A stale file is replaced.
            std::fs::write(&path, b"stale").unwrap();
            let (server, mut rx) = serve(&path).unwrap();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let client_path = path.clone();
            let client =
                tokio::task::spawn_blocking(move || request(&client_path, "status").unwrap());
            let req = rx.recv().await.unwrap();
            assert_eq!(req.command, "status");
            req.reply
                .send(serde_json::json!({"role": "ha", "n": 3}))
                .unwrap();
            let answer = client.await.unwrap();
            assert_eq!(answer["role"], "ha");
            assert_eq!(answer["n"], 3);
            drop(server);
        });
        assert!(!path.exists());
        match request(&path, "status") {
            Err(ControlError::Connect { .. }) => {}
            other => panic!("expected a connect error, got {other:?}"),
        }
        let e =
            status_output("mip6-ha", &path, true, Page::default(), |_| String::new()).unwrap_err();
        assert!(e.starts_with("mip6-ha status: no daemon answers on"), "{e}");
    }

    /// A page is bounded (1..=1000) and its range never leaves the list.
    #[test]
    fn pages_are_bounded_and_stay_inside_the_list() {
        let args = |v: serde_json::Value| v.as_object().unwrap().clone();
        assert_eq!(
            Page::from_args(&args(serde_json::json!({}))),
            Ok(Page::default())
        );
        let p = Page::from_args(&args(serde_json::json!({"offset": 998, "limit": 5}))).unwrap();
        assert_eq!(p.range(1000), 998..1000);
        assert_eq!(p.range(10), 10..10);
        assert_eq!(Page::default().range(3), 0..3);
        for bad in [
            serde_json::json!({"limit": 0}),
            serde_json::json!({"limit": 1001}),
            serde_json::json!({"offset": -1}),
            serde_json::json!({"offset": "a"}),
        ] {
            assert!(Page::from_args(&args(bad.clone())).is_err(), "{bad}");
        }
        let huge = Page {
            offset: usize::MAX,
            limit: 1000,
        };
        assert_eq!(huge.range(7), 7..7);
    }

    #[test]
    fn a_live_socket_of_another_daemon_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctl.sock");
        assert!(!is_live(&path) && refuse_if_live(&path).is_ok());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (first, _rx) = serve(&path).unwrap();
            assert!(is_live(&path));
            let why = refuse_if_live(&path).unwrap_err();
            assert!(
                why.contains(&path.display().to_string()) && why.contains("another running daemon"),
                "{why}"
            );
            let e = serve(&path).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
            assert!(path.exists(), "the first daemon's socket is still there");
            assert!(is_live(&path), "and still answers");
            drop(first);
        });
        // Gone with its daemon: the next one binds.
        assert!(!is_live(&path));
    }
}
