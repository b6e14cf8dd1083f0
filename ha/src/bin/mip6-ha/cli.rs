//! The command line (daemon contract "Command lines"):
//!
//! ```text
//! mip6-ha -c FILE [--check-config] [--seed N] [--capture FILE.pcapng]
//! mip6-ha status [--json] [-c FILE | --socket PATH]
//! ```

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `mip6-ha`: the Mobile IPv6 home agent daemon (RFC 6275 §10) with two-generation
/// ESP key distribution.
#[derive(Debug, Parser)]
#[command(
    name = "mip6-ha",
    version,
    about = "Mobile IPv6 home agent (RFC 6275 §10) with two-generation ESP keys",
    args_conflicts_with_subcommands = true,
    after_help = "Exit status: 0 ok, 1 runtime error, 2 configuration error."
)]
pub struct Cli {
    /// The configuration file (TOML; see ha/config/ha.toml).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Load and validate the configuration (interfaces included), print every error
    /// as FILE:LINE:COL: field: message, and exit (2 on error, 0 otherwise).
    #[arg(long)]
    pub check_config: bool,
    /// Seed the RNG (ChaCha20) instead of the OS RNG: for tests and replay only, as
    /// the key secrets become predictable.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Record every engine input and output to this pcapng file, with the ESP keys in
    /// FILE.esp_sa (Wireshark's esp_sa format).
    #[arg(long, value_name = "FILE")]
    pub capture: Option<PathBuf>,
    /// Stop recording after this many engine inputs (with their outputs), so a long
    /// run cannot fill the disk: 100 000 records are about 150 MB of full-size frames.
    #[arg(long, value_name = "INPUTS", default_value_t = mip6_daemon::capture::DEFAULT_LIMIT)]
    pub capture_limit: u64,
    /// A command for a running daemon.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Commands talking to a running daemon over its control socket.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show bindings, key generations and counters of the running daemon.
    Status(StatusArgs),
}

/// Options of `mip6-ha status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the daemon's JSON reply as it is.
    #[arg(long)]
    pub json: bool,
    /// Find the control socket in this configuration file.
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        conflicts_with = "socket"
    )]
    pub config: Option<PathBuf>,
    /// The control socket's path (default: the configuration's default,
    /// /run/mip6-ha.sock).
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
}
