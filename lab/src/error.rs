//! The lab's one error type: every failure of a command it runs names the command line
//! and carries what the command wrote to stderr, so a failing test says what went wrong
//! without a re-run.

use std::io;
use std::process::ExitStatus;

use crate::topology::ProcId;

/// Why a lab operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The command could not be started at all (not installed, not executable).
    #[error("could not start `{command}`: {source}")]
    Spawn {
        /// The command line, shell-quoted.
        command: String,
        /// The error from `fork`/`exec`.
        source: io::Error,
    },
    /// The command ran and exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        /// The command line, shell-quoted.
        command: String,
        /// Its exit status.
        status: ExitStatus,
        /// What it wrote to stderr, trimmed.
        stderr: String,
    },
    /// Waiting for (or polling) a spawned process failed.
    #[error("could not wait for `{command}`: {source}")]
    Wait {
        /// The command line of the process, shell-quoted.
        command: String,
        /// The error from `waitpid`.
        source: io::Error,
    },
    /// The output of a command was not in the form expected.
    #[error("could not read the output of `{command}`: {what}")]
    Parse {
        /// The command line, shell-quoted.
        command: String,
        /// What was wrong with it.
        what: String,
    },
    /// [`crate::topology::cleanup_stale`] was asked for a prefix that does not start with
    /// `mip6-`; refusing keeps a typo from deleting namespaces the lab never made.
    #[error(
        "refusing to clean up namespaces with prefix {prefix:?}: it must start with \"mip6-\""
    )]
    ForeignPrefix {
        /// The prefix given.
        prefix: String,
    },
    /// A program the lab needs is not installed.
    #[error("{what} is not installed")]
    Missing {
        /// The program, and where it comes from.
        what: &'static str,
    },
    /// A file of the lab could not be written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: io::Error,
    },
    /// The process is not (or no longer) tracked by this lab.
    #[error("process {0} is not tracked by this lab")]
    UnknownProcess(ProcId),
    /// Tearing the lab down hit one or more failures; every step was still tried.
    #[error("lab teardown failed: {}", join(errors))]
    Teardown {
        /// Every failure, in the order met.
        errors: Vec<LabError>,
    },
}

fn join(errors: &[LabError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
