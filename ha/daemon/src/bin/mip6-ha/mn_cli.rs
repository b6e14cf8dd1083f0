//! `mip6-ha mn ...`: the mobile nodes of a running home agent, over its control
//! socket (`mip6_ha_daemon::mn_control`).
//!
//! ```text
//! mip6-ha mn list [--offset N] [--limit N]
//! mip6-ha mn show HOME_ADDRESS
//! mip6-ha mn add --home-address A (--init-secret HEX | --init-secret-file FILE)
//!                --init-spi-mn-to-ha N --init-spi-ha-to-mn N [--init-suite S]
//! mip6-ha mn import FILE        # [[mobile_node]] tables, as in ha.toml (mode 600)
//! mip6-ha mn remove HOME_ADDRESS
//! ```
//! each with `[--json] [-c FILE | --socket PATH]`. Exit status: 0 ok, 1 the daemon
//! refused or did not answer, 2 a bad command line.

use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mip6_daemon::cli::{StatusArgs, EXIT_CONFIG, EXIT_RUNTIME};
use mip6_daemon::control::{request_with, Page};
use mip6_ha_daemon::provision::entry_text;
use serde_json::{Map, Value};

/// The mobile nodes of a running home agent.
#[derive(Debug, Parser)]
#[command(name = "mip6-ha mn", bin_name = "mip6-ha mn")]
struct MnCli {
    #[command(subcommand)]
    command: MnCommand,
    /// Print the daemon's JSON answer as it is.
    #[arg(long, global = true)]
    json: bool,
    /// Find the control socket in this configuration file.
    #[arg(short = 'c', long = "config", value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// The control socket's path (default /run/mip6-ha.sock).
    #[arg(long, value_name = "PATH", global = true)]
    socket: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum MnCommand {
    /// One page of the served mobile nodes, in order: file first, then provisioned.
    List {
        /// The first node listed.
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// How many (1 to 1000).
        #[arg(long, default_value_t = Page::MAX_LIMIT)]
        limit: usize,
    },
    /// One node: where it comes from, its binding, its key generations.
    Show {
        /// Its home address.
        home_address: Ipv6Addr,
    },
    /// Serve one more node from now on, stored so a restart keeps it.
    Add {
        /// Its home address, inside the home prefix.
        #[arg(long)]
        home_address: Ipv6Addr,
        /// The init secret, 64 hex digits (visible to `ps`: prefer --init-secret-file).
        #[arg(
            long,
            conflicts_with = "init_secret_file",
            required_unless_present = "init_secret_file"
        )]
        init_secret: Option<String>,
        /// A file holding the init secret's 64 hex digits.
        #[arg(long, value_name = "FILE")]
        init_secret_file: Option<PathBuf>,
        /// SPI of the MN→HA init SA (above 255, unique).
        #[arg(long)]
        init_spi_mn_to_ha: u32,
        /// SPI of the HA→MN init SA (above 255, unique).
        #[arg(long)]
        init_spi_ha_to_mn: u32,
        /// Suite of the init SAs: aes-128-gcm or aes-256-gcm.
        #[arg(long, default_value = "aes-128-gcm")]
        init_suite: String,
    },
    /// Serve every node of a file of `[[mobile_node]]` tables (all or none).
    Import {
        /// The file; the daemon reads it.
        file: PathBuf,
    },
    /// Stop serving a provisioned node (one of the file's: edit the file, SIGHUP).
    Remove {
        /// Its home address.
        home_address: Ipv6Addr,
    },
}

/// Runs `mip6-ha mn ...` (`args` without the program name and `mn`).
pub fn main(args: Vec<String>) -> ExitCode {
    let cli = match MnCli::try_parse_from(std::iter::once("mip6-ha mn".to_owned()).chain(args)) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let where_ = StatusArgs {
        json: cli.json,
        config: cli.config.clone(),
        socket: cli.socket.clone(),
        offset: 0,
        limit: Page::MAX_LIMIT,
    };
    let socket = match where_.socket_path("/run/mip6-ha.sock", |path| {
        mip6_ha_daemon::config::load(path)
            .map(|c| c.control_socket)
            .map_err(|e| e.to_string())
    }) {
        Ok(path) => path,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let (command, args) = match request(&cli.command) {
        Ok(r) => r,
        Err(message) => {
            eprintln!("mip6-ha mn: {message}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let answer = match request_with(&socket, command, args) {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!("mip6-ha {command}: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    if let Some(error) = answer.get("error").and_then(Value::as_str) {
        eprintln!("mip6-ha {command}: {error}");
        return ExitCode::from(EXIT_RUNTIME);
    }
    if cli.json {
        println!("{answer}");
    } else {
        print!("{}", render(command, &answer));
    }
    ExitCode::SUCCESS
}

/// The control request for a command line.
fn request(command: &MnCommand) -> Result<(&'static str, Map<String, Value>), String> {
    let mut args = Map::new();
    let name = match command {
        MnCommand::List { offset, limit } => {
            args.insert("offset".into(), (*offset).into());
            args.insert("limit".into(), (*limit).into());
            "mn list"
        }
        MnCommand::Show { home_address } => {
            args.insert("home_address".into(), home_address.to_string().into());
            "mn show"
        }
        MnCommand::Add {
            home_address,
            init_secret,
            init_secret_file,
            init_spi_mn_to_ha,
            init_spi_ha_to_mn,
            init_suite,
        } => {
            let secret = match (init_secret, init_secret_file) {
                (Some(s), _) => s.trim().to_owned(),
                (None, Some(file)) => std::fs::read_to_string(file)
                    .map_err(|e| format!("{}: {e}", file.display()))?
                    .trim()
                    .to_owned(),
                (None, None) => return Err("--init-secret or --init-secret-file".into()),
            };
            if !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err("the init secret must be hex digits".into());
            }
            let text = entry_text(
                home_address,
                &secret,
                (*init_spi_mn_to_ha, *init_spi_ha_to_mn),
                init_suite,
            );
            args.insert("mobile_node".into(), text.into());
            "mn add"
        }
        MnCommand::Import { file } => {
            let path =
                std::fs::canonicalize(file).map_err(|e| format!("{}: {e}", file.display()))?;
            args.insert("path".into(), path.display().to_string().into());
            "mn import"
        }
        MnCommand::Remove { home_address } => {
            args.insert("home_address".into(), home_address.to_string().into());
            "mn remove"
        }
    };
    Ok((name, args))
}

/// The answer as text.
fn render(command: &str, answer: &Value) -> String {
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    match command {
        "mn list" => {
            let page = &answer["mobile_nodes"];
            let mut out = format!(
                "mobile nodes {} (listed: {} from {}{})\n",
                s(&page["total"]),
                s(&page["listed"]),
                s(&page["offset"]),
                page["next_offset"]
                    .as_u64()
                    .map(|n| format!("; next page: --offset {n}"))
                    .unwrap_or_default()
            );
            for n in answer["nodes"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "  {:<39} {:<11} {}\n",
                    s(&n["home_address"]),
                    s(&n["source"]),
                    s(&n["care_of_address"])
                ));
            }
            out
        }
        "mn add" | "mn import" => format!(
            "added {} (now serving {})\n",
            answer["added"].as_array().map_or(0, Vec::len),
            s(&answer["mobile_nodes"])
        ),
        "mn remove" => format!(
            "removed {} (now serving {})\n",
            s(&answer["removed"]),
            s(&answer["mobile_nodes"])
        ),
        _ => format!(
            "{}\n",
            serde_json::to_string_pretty(answer).unwrap_or_else(|_| answer.to_string())
        ),
    }
}
