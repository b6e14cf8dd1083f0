//! The command line (daemon contract, "Command lines"; the options are
//! [`mip6_daemon::cli`]'s):
//!
//! ```text
//! mip6-mn -c FILE [--check-config] [--seed N] [--capture FILE.pcapng]
//! mip6-mn status [--json] [-c FILE | --socket PATH]
//! ```

use clap::{Parser, Subcommand};
use mip6_daemon::cli::{RunArgs, StatusArgs};

/// `mip6-mn`: the Mobile IPv6 mobile node daemon (RFC 6275 §11) with the two-generation
/// ESP keys.
#[derive(Debug, Parser)]
#[command(
    name = "mip6-mn",
    version,
    about = "Mobile IPv6 mobile node (RFC 6275 §11) with two-generation ESP keys",
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
    /// Print the daemon's state: registration, keys, counters.
    Status(StatusArgs),
}
