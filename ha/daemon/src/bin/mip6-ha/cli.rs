//! The command line (daemon contract "Command lines"; the options are
//! [`mip6_daemon::cli`]'s):
//!
//! ```text
//! mip6-ha -c FILE [--check-config] [--seed N] [--capture FILE.pcapng]
//! mip6-ha status [--json] [-c FILE | --socket PATH]
//! ```

use clap::{Parser, Subcommand};
use mip6_daemon::cli::{RunArgs, StatusArgs};

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
    /// Running the daemon.
    #[command(flatten)]
    pub run: RunArgs,
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
