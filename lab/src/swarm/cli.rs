//! The command lines of `mip6-lab swarm` and of the process it runs in the MN
//! namespace, `mip6-lab swarm-driver`, and what each prints.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::driver::{self, DriverOptions};
use super::{SwarmOptions, MAX_WINDOW};
use crate::demo::interrupt;

/// `mip6-lab swarm`.
#[derive(clap::Args, Debug)]
pub struct SwarmArgs {
    /// Mobile nodes.
    #[arg(long, default_value_t = 2000)]
    pub count: u32,
    /// Most Binding Updates outstanding at once.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=MAX_WINDOW as i64))]
    pub window: u32,
    /// Print the report as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Output directory: ha.toml, the HA's state and log.
    #[arg(long, default_value = "mip6-swarm")]
    pub out: PathBuf,
    /// Directory holding mip6-ha (default: beside this program).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// Run the HA without persistence.
    #[arg(long)]
    pub no_persistence: bool,
    /// The HA's log level (info logs three lines per Binding Update).
    #[arg(long, default_value = "warn")]
    pub ha_log_level: String,
    /// Seed of the swarm's engines (the HA draws from the OS, as in production).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A phase gives up when no node finished it for this many seconds.
    #[arg(long, default_value_t = 20)]
    pub stall_timeout_secs: u64,
    /// Copy the HA's log lines to stderr.
    #[arg(long)]
    pub daemon_logs: bool,
}

/// `mip6-lab swarm-driver` (run by `swarm` in the MN namespace; not for direct use).
#[derive(clap::Args, Debug)]
pub struct DriverArgs {
    /// Mobile nodes.
    #[arg(long)]
    pub count: u32,
    /// Most Binding Updates outstanding at once.
    #[arg(long)]
    pub window: u32,
    /// The interface the care-of prefix is routed to.
    #[arg(long)]
    pub iface: String,
    /// The home agent's process id, sampled around each phase.
    #[arg(long)]
    pub ha_pid: Option<u32>,
    /// Seed of the engines' RNG.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A phase gives up when no node finished it for this long, ms.
    #[arg(long, default_value_t = 20_000)]
    pub stall_timeout_ms: u64,
}

fn print_json<T: serde::Serialize>(value: &T) -> ExitCode {
    match serde_json::to_string(value) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mip6-lab: cannot encode the report: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `mip6-lab swarm`: 0 when every exact count held, 3 when the run completed but
/// one did not, 1 on an error, 130 when interrupted.
pub fn run_swarm(args: SwarmArgs) -> ExitCode {
    if let Err(e) = interrupt::install() {
        eprintln!("mip6-lab swarm: cannot install the signal handler: {e}");
        return ExitCode::FAILURE;
    }
    let self_exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("mip6-lab swarm: cannot find this program's path: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut opts = SwarmOptions::new(self_exe);
    opts.count = args.count;
    opts.window = args.window as usize;
    opts.out_dir = args.out;
    opts.bin_dir = args.bin_dir;
    opts.persistence = !args.no_persistence;
    opts.ha_log_level = args.ha_log_level;
    opts.seed = args.seed;
    opts.stall_timeout = Duration::from_secs(args.stall_timeout_secs.max(1));
    opts.echo_daemon_logs = args.daemon_logs;
    match super::run(&opts) {
        Ok(report) => {
            if args.json {
                if print_json(&report) != ExitCode::SUCCESS {
                    return ExitCode::FAILURE;
                }
            } else {
                print!("{report}");
            }
            if report.all_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            }
        }
        Err(e) if e.is_interrupt() => {
            eprintln!("mip6-lab swarm: interrupted; everything it made has been removed");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("mip6-lab swarm: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `mip6-lab swarm-driver`: prints its report as JSON on stdout.
pub fn run_driver(args: DriverArgs) -> ExitCode {
    let opts = DriverOptions {
        count: args.count,
        window: args.window.max(1) as usize,
        iface: args.iface,
        ha_pid: args.ha_pid,
        seed: args.seed,
        stall_timeout: Duration::from_millis(args.stall_timeout_ms),
    };
    match driver::run(&opts) {
        Ok(report) => print_json(&report),
        Err(e) => {
            eprintln!("mip6-lab swarm-driver: {e}");
            ExitCode::FAILURE
        }
    }
}
