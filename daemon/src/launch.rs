//! The `main` both daemon binaries run (daemon contract, "Command lines"): the command
//! line, the `status` command, the configuration checked with every error reported as
//! `FILE:LINE:COL: field: message`, logging, a current-thread tokio runtime, and the
//! exit status — 0 ok, 1 runtime error, 2 configuration error. What differs between
//! the daemons is a [`Daemon`] description and the `run` function it starts.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::{Cli, Command, EXIT_CONFIG, EXIT_RUNTIME};

/// Options of a run that come from the command line.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// `--seed N`: a predictable RNG, for tests and replay only.
    pub seed: Option<u64>,
    /// `--capture FILE`.
    pub capture: Option<PathBuf>,
    /// `--capture-limit INPUTS`.
    pub capture_limit: u64,
    /// `--keep-privileges`: do not drop to [`crate::privileges::KEPT`] after set-up.
    pub keep_privileges: bool,
}

/// Why a daemon stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration cannot run (exit 2).
    #[error("{0}")]
    Config(String),
    /// Set-up or the loop failed (exit 1).
    #[error("{what}: {source}")]
    Runtime {
        /// What failed.
        what: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl RunError {
    /// Maps an error of step `what` into [`RunError::Runtime`].
    pub fn runtime<E: std::error::Error + Send + Sync + 'static>(
        what: impl Into<String>,
    ) -> impl FnOnce(E) -> RunError {
        let what = what.into();
        move |e| RunError::Runtime {
            what,
            source: Box::new(e),
        }
    }
}

/// What a daemon binary tells [`main`] about itself.
#[derive(Debug, Clone, Copy)]
pub struct Daemon<C> {
    /// The program's name (`mip6-ha`).
    pub name: &'static str,
    /// One line on what it is, for `--help`.
    pub about: &'static str,
    /// The control socket `status` asks without `-c` or `--socket`; a `*` in its file
    /// name matches the one socket there is ([`crate::cli::find_default`]).
    pub default_socket: &'static str,
    /// Loads and validates a configuration file, interfaces included: every error as
    /// `FILE:LINE:COL: field: message`.
    pub load: fn(&Path) -> Result<C, Vec<String>>,
    /// The control socket a configuration file names (for `status -c FILE`).
    pub socket_in_config: fn(&Path) -> Result<PathBuf, String>,
    /// Whether the configuration asks for JSON logs, and at which level.
    pub logging: fn(&C) -> (bool, tracing::Level),
    /// The status reply as aligned text (`status` without `--json`).
    pub render_status: fn(&serde_json::Value) -> String,
}

/// Parses the command line and runs the daemon (`run`) or its `status` command.
pub fn main<C, F, Fut>(daemon: Daemon<C>, run: F) -> ExitCode
where
    F: FnOnce(C, StartOptions) -> Fut,
    Fut: Future<Output = Result<(), RunError>>,
{
    let cli = Cli::parse_for(daemon.name, daemon.about);
    if let Some(Command::Status(args)) = cli.command {
        return crate::cli::status_command(
            daemon.name,
            &args,
            daemon.default_socket,
            daemon.socket_in_config,
            daemon.render_status,
        );
    }
    let args = cli.run;
    let Some(path) = args.config else {
        eprintln!(
            "{0}: a configuration file is required: {0} -c FILE (see --help)",
            daemon.name
        );
        return ExitCode::from(EXIT_CONFIG);
    };
    let config = match (daemon.load)(&path) {
        Ok(config) => config,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!(
                "{}: {} configuration error{} in {}",
                daemon.name,
                errors.len(),
                if errors.len() == 1 { "" } else { "s" },
                path.display()
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if args.check_config {
        println!("ok");
        return ExitCode::SUCCESS;
    }
    let (json, level) = (daemon.logging)(&config);
    crate::logging::init(json, level);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the tokio runtime");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let options = StartOptions {
        seed: args.seed,
        capture: args.capture,
        capture_limit: args.capture_limit,
        keep_privileges: args.keep_privileges,
    };
    match runtime.block_on(run(config, options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ RunError::Config(_)) => {
            tracing::error!(error = %e, "configuration refused");
            eprintln!("{}: {e}", daemon.name);
            ExitCode::from(EXIT_CONFIG)
        }
        Err(e) => {
            tracing::error!(error = %e, "{} failed", daemon.name);
            eprintln!("{}: {e}", daemon.name);
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}
