//! The command line (daemon contract, "Command lines"):
//!
//! ```text
//! mip6-mn -c FILE [--check-config] [--seed N] [--capture FILE.pcapng]
//! mip6-mn status [--json] [-c FILE | --socket PATH]
//! ```

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Exit status: configuration error (also clap's for a bad command line).
pub const EXIT_CONFIG: u8 = 2;
/// Exit status: runtime error.
pub const EXIT_RUNTIME: u8 = 1;

/// `mip6-mn`: the Mobile IPv6 mobile node daemon (RFC 6275 §11) with the two-generation
/// ESP keys.
#[derive(Debug, Parser)]
#[command(
    name = "mip6-mn",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// The configuration file (TOML).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Load and validate the configuration (interfaces must exist), print every error
    /// as FILE:LINE:COL: field: message, and exit: 0 "ok", 2 on error.
    #[arg(long)]
    pub check_config: bool,
    /// Seed the engine's RNG (tests and byte-exact replay only: never in production).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Record every engine input and output to this pcapng (with FILE.esp_sa keys).
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
    /// Print the daemon's state: registration, keys, counters.
    Status {
        /// One JSON object instead of aligned text.
        #[arg(long)]
        json: bool,
        /// Read the control socket's path from this configuration file.
        #[arg(short = 'c', long = "config", value_name = "FILE")]
        config: Option<PathBuf>,
        /// The control socket's path.
        #[arg(long, value_name = "PATH", conflicts_with = "config")]
        socket: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_command_lines_parse() {
        let c = Cli::try_parse_from(["mip6-mn", "-c", "mn.toml", "--seed", "7"]).unwrap();
        assert_eq!(c.config.as_deref(), Some(std::path::Path::new("mn.toml")));
        assert_eq!(c.seed, Some(7));
        assert!(c.command.is_none());
        let c = Cli::try_parse_from(["mip6-mn", "-c", "x", "--check-config"]).unwrap();
        assert!(c.check_config);
        let c = Cli::try_parse_from(["mip6-mn", "-c", "x", "--capture", "y.pcapng"]).unwrap();
        assert!(c.capture.is_some());
        let c = Cli::try_parse_from(["mip6-mn", "status", "--json", "--socket", "/s"]).unwrap();
        assert!(matches!(
            c.command,
            Some(Command::Status { json: true, .. })
        ));
        let c = Cli::try_parse_from(["mip6-mn", "status", "-c", "mn.toml"]).unwrap();
        assert!(matches!(
            c.command,
            Some(Command::Status {
                config: Some(_),
                ..
            })
        ));
        assert!(Cli::try_parse_from(["mip6-mn", "status", "-c", "a", "--socket", "b"]).is_err());
        assert!(Cli::try_parse_from(["mip6-mn", "--seed", "x"]).is_err());
    }
}
