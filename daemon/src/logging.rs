//! Logging: `tracing` events to stderr, as text for people or as one JSON object per
//! line for log collectors. `RUST_LOG` (an `EnvFilter` directive) overrides the level.

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
        .with_target(true);
    // `try_init` fails only if a subscriber is already set: keep that one.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
