//! Logging: `tracing` events to stderr, as text for people or as one JSON object per
//! line for log collectors. `RUST_LOG` (an `EnvFilter` directive) overrides the level.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `json` selects one JSON object per line; `level`
/// is the default maximum level. A second call does nothing (tests start several
/// daemons' code in one process).
pub fn init(json: bool, level: tracing::Level) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(level.as_str().to_ascii_lowercase()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        // Colour codes only for a person at a terminal: logs in files and pipes are
        // grepped and parsed.
        .with_ansi(std::io::stderr().is_terminal());
    // `try_init` fails only if a subscriber is already set: keep that one.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

/// Runs `f` with a subscriber of its own on this thread that writes every event (all
/// levels, text, no colour) into a string, and returns `f`'s result with that text: for
/// tests that check what a function logs.
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, String) {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut b) = self.0.lock() {
                b.extend_from_slice(data);
            }
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = buffer
        .0
        .lock()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    (out, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_sees_the_events_of_its_closure_only() {
        tracing::warn!("before");
        let (n, text) = capture(|| {
            tracing::warn!(file = "x.toml", "inside");
            7
        });
        tracing::warn!("after");
        assert_eq!(n, 7);
        assert!(text.contains("WARN") && text.contains("inside") && text.contains("x.toml"));
        assert!(
            !text.contains("before") && !text.contains("after"),
            "{text}"
        );
    }
}
