//! `mip6-lab`: the demo and the traffic generator it runs inside the lab.
//!
//! ```text
//! mip6-lab demo [--out DIR] [--json] [--key-interval 5s] [--ba-drop-percent 50]
//!               [--phase-secs N] [--rate PPS] [--bin-dir DIR] ...
//! mip6-lab udp-peer --bind ADDR --peer ADDR [--rate PPS] [--secs S] [--phase N] ...
//! mip6-lab tcp-sink --bind ADDR
//! mip6-lab tcp-source --bind ADDR --connect ADDR [--secs S]
//! mip6-lab bench [--secs 10] [--json] [--only plain,mip6,mip6-udp,boringtun] [--boringtun PATH]
//!                [--bin-dir DIR] [--out DIR] ...
//! mip6-lab swarm [--count 2000] [--window 512] [--json] [--no-persistence] ...
//! ```
//!
//! Exit status of `demo`: 0 when every check held, 3 when the run completed but a
//! check failed (the report says which), 1 on an error (e.g. the MN never registered;
//! the message quotes the daemons' last log lines), 130 when interrupted. `bench` exits
//! 0 when every run completed (whether or not the target was met: it is printed, not
//! asserted), 1 on an error, 130 when interrupted. `swarm` exits 0 when its exact counts
//! held, 3 when one did not, 1 on an error, 130 when interrupted.
#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use mip6_lab::bench::{self, BenchOptions, Scenario};
use mip6_lab::demo::{self, interrupt, DemoError, DemoOptions};
use mip6_lab::swarm::cli::{self as swarm, DriverArgs, SwarmArgs};
use mip6_lab::traffic::{tcp, udp};

#[derive(Parser, Debug)]
#[command(
    name = "mip6-lab",
    about = "Mobile IPv6 lab: the demo and its traffic generator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build the lab, run mip6-ha and mip6-mn in it, move the MN, rekey, drop BAs,
    /// restart the HA, and report (run as root).
    Demo(DemoArgs),
    /// One end of a UDP test stream with sequence numbers; prints a JSON report.
    UdpPeer(UdpPeerArgs),
    /// Accepts one TCP connection and reads it to the end; prints goodput as JSON.
    TcpSink(TcpSinkArgs),
    /// Connects and writes for a time; prints what it sent as JSON.
    TcpSource(TcpSourceArgs),
    /// TCP goodput MN<->CN: no tunnel, mip6's ESP tunnel, boringtun; packets/s and
    /// CPU per Gbit of each tunnel process (run as root, release build).
    Bench(BenchArgs),
    /// Thousands of mobile nodes from one process against mip6-ha: init, update,
    /// refresh; rates, BA latency, HA start-up, CPU and RSS (run as root).
    Swarm(SwarmArgs),
    /// The swarm process `swarm` runs in the lab's MN namespace.
    #[command(hide = true)]
    SwarmDriver(DriverArgs),
}

fn parse_secs(text: &str) -> Result<Duration, String> {
    mip6_daemon::config::ConfigDuration::parse(text).map(|d| d.0)
}

#[derive(clap::Args, Debug)]
struct DemoArgs {
    /// Output directory: captures (.pcapng + .esp_sa), daemon logs, configs, state.
    #[arg(long, default_value = "mip6-demo")]
    out: PathBuf,
    /// Print the report as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Key update interval of both daemons ("5s", "1m", seconds).
    #[arg(long, default_value = "5s", value_parser = parse_secs)]
    key_interval: Duration,
    /// Share of the HA's BAs the router drops in the ba_loss phase, %.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u8).range(0..=100))]
    ba_drop_percent: u8,
    /// Base length of each traffic phase, seconds (rekey, ba_loss, handover stretch).
    #[arg(long, default_value_t = 8)]
    phase_secs: u64,
    /// UDP datagrams per second, each way.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// UDP datagrams per second, each way, in the handover phase (its latency is a
    /// first arrival: the spacing is its resolution).
    #[arg(long, default_value_t = 2000)]
    handover_rate: u32,
    /// UDP datagram size, octets.
    #[arg(long, default_value_t = 200)]
    size: usize,
    /// Seconds of TCP goodput measurement.
    #[arg(long, default_value_t = 5)]
    goodput_secs: u64,
    /// Directory holding mip6-ha and mip6-mn (default: beside this program).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// How long the MN may take to register.
    #[arg(long, default_value = "20s", value_parser = parse_secs)]
    register_timeout: Duration,
    /// Run the HA without persistence (the restart makes the MN re-initialize).
    #[arg(long)]
    no_persistence: bool,
    /// Move the MN by adding and removing its addresses by hand, without radvd (the
    /// default switches links and the MN learns each from its Router Advertisements).
    #[arg(long)]
    hand_set_addresses: bool,
    /// Two home agents on etcd (Debian's etcd-server, started in the lab): the
    /// `ha_restart` phase kills the active one and the standby takes over.
    #[arg(long)]
    ha_pair: bool,
    /// Both daemons with encapsulation = "udp": signalling and data as ESP in UDP
    /// (RFC 3948, port 4500).
    #[arg(long)]
    udp: bool,
    /// Seed both daemons' RNG (replayable captures; tests only).
    #[arg(long)]
    seed: Option<u64>,
    /// Do not copy the daemons' log lines to stderr (they are in OUT/*.log anyway).
    #[arg(long)]
    quiet_daemons: bool,
}

#[derive(clap::Args, Debug)]
struct BenchArgs {
    /// Seconds each TCP source writes.
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Print the report as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Runs to make, comma-separated: plain, mip6, mip6-udp, boringtun.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "plain,mip6,mip6-udp,boringtun"
    )]
    only: Vec<Scenario>,
    /// boringtun-cli (default: on PATH, then /work/tools/bin/boringtun-cli).
    #[arg(long)]
    boringtun: Option<PathBuf>,
    /// Directory holding mip6-ha and mip6-mn (default: beside this program).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Output directory: configs, state, logs, WireGuard keys.
    #[arg(long, default_value = "mip6-bench")]
    out: PathBuf,
    /// How long the MN may take to register.
    #[arg(long, default_value = "20s", value_parser = parse_secs)]
    register_timeout: Duration,
    /// Key update interval of both daemons.
    #[arg(long, default_value = "600s", value_parser = parse_secs)]
    key_interval: Duration,
    /// Copy the daemons' log lines to stderr.
    #[arg(long)]
    daemon_logs: bool,
}

#[derive(clap::Args, Debug)]
struct UdpPeerArgs {
    /// Local address, e.g. [2001:db8:1::100]:41001.
    #[arg(long)]
    bind: SocketAddr,
    /// The other peer's address.
    #[arg(long)]
    peer: SocketAddr,
    /// Datagrams per second (0: receive only).
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Seconds of sending.
    #[arg(long, default_value_t = 5.0)]
    secs: f64,
    /// Phase id carried in the datagrams.
    #[arg(long, default_value_t = 0)]
    phase: u32,
    /// Start sending at this time, µs since the Unix epoch.
    #[arg(long)]
    start_at_us: Option<u64>,
    /// Keep receiving this long after sending, ms.
    #[arg(long, default_value_t = 1000)]
    linger_ms: u64,
    /// Datagram size, octets (at least 28).
    #[arg(long, default_value_t = 200)]
    size: usize,
    /// List every first arrival (sequence, send µs, receive µs) in the report.
    #[arg(long)]
    record_arrivals: bool,
}

#[derive(clap::Args, Debug)]
struct TcpSinkArgs {
    /// Address to listen on.
    #[arg(long)]
    bind: SocketAddr,
    /// Give up if no connection comes within this many seconds.
    #[arg(long, default_value_t = 10)]
    accept_timeout_secs: u64,
}

#[derive(clap::Args, Debug)]
struct TcpSourceArgs {
    /// Local address (port 0 for any).
    #[arg(long)]
    bind: SocketAddr,
    /// The sink.
    #[arg(long)]
    connect: SocketAddr,
    /// Seconds of writing.
    #[arg(long, default_value_t = 5.0)]
    secs: f64,
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
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

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::ZERO)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(args) => run_demo(args),
        Command::Bench(args) => run_bench(args),
        Command::Swarm(args) => {
            init_logging("warn");
            swarm::run_swarm(args)
        }
        Command::SwarmDriver(args) => {
            init_logging("warn");
            swarm::run_driver(args)
        }
        Command::UdpPeer(a) => {
            init_logging("warn");
            let config = udp::UdpPeerConfig {
                bind: a.bind,
                peer: a.peer,
                rate_pps: a.rate,
                duration: secs(a.secs),
                phase: a.phase,
                start_at_us: a.start_at_us,
                linger: Duration::from_millis(a.linger_ms),
                size: a.size,
                record_arrivals: a.record_arrivals,
            };
            match udp::run(&config) {
                Ok(report) => print_json(&report),
                Err(e) => {
                    eprintln!("mip6-lab udp-peer: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::TcpSink(a) => {
            init_logging("warn");
            match tcp::sink(a.bind, Duration::from_secs(a.accept_timeout_secs)) {
                Ok(report) => print_json(&report),
                Err(e) => {
                    eprintln!("mip6-lab tcp-sink: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::TcpSource(a) => {
            init_logging("warn");
            match tcp::source(a.bind, a.connect, secs(a.secs)) {
                Ok(report) => print_json(&report),
                Err(e) => {
                    eprintln!("mip6-lab tcp-source: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn run_demo(args: DemoArgs) -> ExitCode {
    init_logging("info");
    if let Err(e) = interrupt::install() {
        eprintln!("mip6-lab demo: cannot install the signal handler: {e}");
        return ExitCode::FAILURE;
    }
    let self_exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("mip6-lab demo: cannot find this program's path: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut opts = DemoOptions::new(self_exe);
    opts.out_dir = args.out;
    opts.key_interval = args.key_interval;
    opts.ba_drop_percent = args.ba_drop_percent;
    opts.phase_secs = args.phase_secs;
    opts.rate_pps = args.rate;
    opts.handover_rate_pps = args.handover_rate;
    opts.datagram_size = args.size;
    opts.goodput_secs = args.goodput_secs;
    opts.bin_dir = args.bin_dir;
    opts.register_timeout = args.register_timeout;
    opts.persistence = !args.no_persistence;
    opts.hand_set_addresses = args.hand_set_addresses;
    opts.ha_pair = args.ha_pair;
    opts.udp = args.udp;
    opts.seed = args.seed;
    opts.echo_daemon_logs = !args.quiet_daemons;
    match demo::run(&opts) {
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
        Err(DemoError::Interrupted(_)) => {
            eprintln!("mip6-lab demo: interrupted; everything it made has been removed");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("mip6-lab demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_bench(args: BenchArgs) -> ExitCode {
    init_logging("warn");
    if let Err(e) = interrupt::install() {
        eprintln!("mip6-lab bench: cannot install the signal handler: {e}");
        return ExitCode::FAILURE;
    }
    let self_exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("mip6-lab bench: cannot find this program's path: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut opts = BenchOptions::new(self_exe);
    opts.secs = args.secs.max(1);
    opts.scenarios = args.only;
    opts.boringtun = args.boringtun;
    opts.bin_dir = args.bin_dir;
    opts.out_dir = args.out;
    opts.register_timeout = args.register_timeout;
    opts.key_interval = args.key_interval;
    opts.echo_daemon_logs = args.daemon_logs;
    match bench::run(&opts) {
        Ok(report) if args.json => print_json(&report),
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) if e.is_interrupt() => {
            eprintln!("mip6-lab bench: interrupted; everything it made has been removed");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("mip6-lab bench: {e}");
            ExitCode::FAILURE
        }
    }
}
