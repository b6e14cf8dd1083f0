//! The command-line parts both daemons share (daemon contract, "Command lines"):
//!
//! ```text
//! mip6-{ha,mn} -c FILE [--check-config] [--seed N] [--capture FILE.pcapng] [--capture-limit N]
//!                      [--keep-privileges]
//! mip6-{ha,mn} status [--json] [-c FILE | --socket PATH] [--offset N] [--limit N]
//! ```
//!
//! Both daemons parse [`Cli`] under their own name ([`Cli::parse_for`]) and answer
//! `status` with [`status_command`] (through [`crate::launch::main`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

/// Exit status of a configuration error (also clap's for a bad command line).
pub const EXIT_CONFIG: u8 = 2;
/// Exit status of a runtime error.
pub const EXIT_RUNTIME: u8 = 1;

/// A daemon's command line: run options, or a command for a running daemon.
#[derive(Debug, Parser)]
#[command(
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
    /// Show the running daemon's state: bindings or registration, key generations,
    /// counters.
    Status(StatusArgs),
}

impl Cli {
    /// Parses the process's arguments for the program `name` (`--help` shows
    /// `about`); exits with clap's message and status 2 on a bad command line.
    pub fn parse_for(name: &'static str, about: &'static str) -> Cli {
        let command = Cli::command()
            .name(name)
            .bin_name(name)
            .about(about)
            .version(env!("CARGO_PKG_VERSION"));
        Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit())
    }
}

/// Options of running the daemon.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The configuration file (TOML; samples in ha/config/ha.toml, mn/config/mn.toml).
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
    #[arg(long, value_name = "INPUTS", default_value_t = crate::capture::DEFAULT_LIMIT)]
    pub capture_limit: u64,
    /// Keep every privilege the daemon was started with, instead of dropping to
    /// CAP_NET_ADMIN and CAP_NET_RAW with no_new_privs once set up: for debugging only.
    #[arg(long)]
    pub keep_privileges: bool,
}

/// Options of `status`.
#[derive(Debug, Clone, Args)]
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
    /// The control socket's path (default: /run/mip6-ha.sock; for mip6-mn the one
    /// /run/mip6-mn-*.sock there is, its default derived from the home address).
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// The home agent lists its mobile nodes (bindings, keys) a page at a time, in
    /// configuration order: the first one listed.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub offset: usize,
    /// How many mobile nodes one page lists (1 to 1000).
    #[arg(long, value_name = "N", default_value_t = crate::control::Page::MAX_LIMIT,
          value_parser = parse_limit)]
    pub limit: usize,
}

/// `--limit`: 1 to [`crate::control::Page::MAX_LIMIT`].
fn parse_limit(text: &str) -> Result<usize, String> {
    let max = crate::control::Page::MAX_LIMIT;
    match text.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("{text:?} is not a number from 1 to {max}")),
    }
}

impl StatusArgs {
    /// The control socket to ask: `--socket`, else the one `socket_in_config` reads
    /// from `-c FILE` (its error message on failure), else `default`.
    pub fn socket_path(
        &self,
        default: &str,
        socket_in_config: impl FnOnce(&Path) -> Result<PathBuf, String>,
    ) -> Result<PathBuf, String> {
        match (&self.socket, &self.config) {
            (Some(socket), _) => Ok(socket.clone()),
            (None, Some(config)) => socket_in_config(config),
            (None, None) => find_default(Path::new(default)),
        }
    }
}

/// The default control socket: `default` itself, or, when its file name holds a `*`
/// (`/run/mip6-mn-*.sock`: each mobile node's default is derived from its home
/// address), the one file of its directory that matches. None or several is an error
/// that lists them and names `-c FILE` and `--socket`.
pub fn find_default(default: &Path) -> Result<PathBuf, String> {
    let Some(pattern) = default.file_name().and_then(|n| n.to_str()) else {
        return Ok(default.to_owned());
    };
    let Some((head, tail)) = pattern.split_once('*') else {
        return Ok(default.to_owned());
    };
    let dir = default.parent().unwrap_or(Path::new("."));
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        n.len() >= head.len() + tail.len()
                            && n.starts_with(head)
                            && n.ends_with(tail)
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(format!(
            "no control socket matches {}: is the daemon running? (or use -c FILE or --socket PATH)",
            default.display()
        )),
        _ => Err(format!(
            "several control sockets match {}: {}; choose one with -c FILE or --socket PATH",
            default.display(),
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// `<daemon> status`: finds the socket ([`StatusArgs::socket_path`]), asks the running
/// daemon ([`crate::control::status_output`]) and prints its answer, as JSON with
/// `--json`, else through `render_text`. Exit 0; [`EXIT_CONFIG`] if the configuration
/// cannot be read; [`EXIT_RUNTIME`] if the daemon does not answer.
pub fn status_command(
    daemon: &str,
    args: &StatusArgs,
    default_socket: &str,
    socket_in_config: impl FnOnce(&Path) -> Result<PathBuf, String>,
    render_text: impl FnOnce(&serde_json::Value) -> String,
) -> ExitCode {
    let socket = match args.socket_path(default_socket, socket_in_config) {
        Ok(path) => path,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let page = crate::control::Page {
        offset: args.offset,
        limit: args.limit,
    };
    match crate::control::status_output(daemon, &socket, args.json, page, render_text) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use Command as Cmd;

    #[test]
    fn the_contract_command_lines_parse() {
        let c = Cli::try_parse_from(["d", "-c", "x.toml", "--seed", "7"]).unwrap();
        assert_eq!(c.run.config.as_deref(), Some(Path::new("x.toml")));
        assert_eq!(c.run.seed, Some(7));
        assert_eq!(c.run.capture_limit, crate::capture::DEFAULT_LIMIT);
        assert!(!c.run.check_config && c.command.is_none());
        let c = Cli::try_parse_from(["d", "-c", "x", "--check-config"]).unwrap();
        assert!(c.run.check_config);
        let c =
            Cli::try_parse_from(["d", "--capture", "y.pcapng", "--capture-limit", "5"]).unwrap();
        assert_eq!(c.run.capture.as_deref(), Some(Path::new("y.pcapng")));
        assert_eq!(c.run.capture_limit, 5);
        let c = Cli::try_parse_from(["d", "status", "--json", "--socket", "/s"]).unwrap();
        let Some(Cmd::Status(s)) = c.command else {
            panic!("status")
        };
        assert!(s.json);
        assert_eq!(s.socket.as_deref(), Some(Path::new("/s")));
        assert!(Cli::try_parse_from(["d", "status", "-c", "a", "--socket", "b"]).is_err());
        assert!(Cli::try_parse_from(["d", "--seed", "x"]).is_err());
        assert!(Cli::try_parse_from(["d", "-c", "x", "status"]).is_err());
    }

    #[test]
    fn the_socket_comes_from_the_flag_then_the_config_then_the_default() {
        let args = |config: Option<&str>, socket: Option<&str>| StatusArgs {
            json: false,
            config: config.map(PathBuf::from),
            socket: socket.map(PathBuf::from),
            offset: 0,
            limit: crate::control::Page::MAX_LIMIT,
        };
        let from_config = |p: &Path| Ok(p.with_extension("sock"));
        assert_eq!(
            args(None, Some("/s")).socket_path("/d", from_config),
            Ok(PathBuf::from("/s"))
        );
        assert_eq!(
            args(Some("/etc/x.toml"), None).socket_path("/d", from_config),
            Ok(PathBuf::from("/etc/x.sock"))
        );
        assert_eq!(
            args(None, None).socket_path("/d", from_config),
            Ok(PathBuf::from("/d"))
        );
        // A pattern default: the one matching socket, else an error that says why.
        let dir = tempfile::tempdir().unwrap();
        let pattern = dir.path().join("mip6-mn-*.sock");
        let pattern = pattern.to_str().unwrap();
        let none = args(None, None)
            .socket_path(pattern, from_config)
            .unwrap_err();
        assert!(
            none.contains("no control socket matches") && none.contains("-c FILE"),
            "{none}"
        );
        let one = dir.path().join("mip6-mn-2001-db8-1--100.sock");
        std::fs::write(&one, b"").unwrap();
        std::fs::write(dir.path().join("mip6-ha.sock"), b"").unwrap();
        assert_eq!(
            args(None, None).socket_path(pattern, from_config),
            Ok(one.clone())
        );
        std::fs::write(dir.path().join("mip6-mn-2001-db8-1--101.sock"), b"").unwrap();
        let several = args(None, None)
            .socket_path(pattern, from_config)
            .unwrap_err();
        assert!(
            several.contains("several") && several.contains("--101.sock"),
            "{several}"
        );
        assert_eq!(
            args(Some("/bad"), None).socket_path("/d", |_| Err("bad".to_owned())),
            Err("bad".to_owned())
        );
    }
}
