//! Running external commands (`ip`, `ping`, `kill`) with failures turned into
//! [`LabError`]s that carry the command line and stderr.

use std::ffi::OsStr;
use std::process::{Command, Output, Stdio};

use crate::error::LabError;

/// The command line of `cmd`, each word shell-quoted when it needs it, for error messages.
pub(crate) fn display(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
    if plain {
        word.into_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Runs `cmd` to completion with stdin closed and returns its output whatever its exit
/// status; fails only if it could not be started.
pub(crate) fn output(cmd: &mut Command) -> Result<Output, LabError> {
    cmd.stdin(Stdio::null())
        .output()
        .map_err(|source| LabError::Spawn {
            command: display(cmd),
            source,
        })
}

/// Runs `cmd` to completion and fails with [`LabError::Failed`] unless it exits 0.
pub(crate) fn checked(cmd: &mut Command) -> Result<Output, LabError> {
    let out = output(cmd)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(LabError::Failed {
            command: display(cmd),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// `ip ARGS...`, checked.
pub(crate) fn ip<S: AsRef<OsStr>>(args: &[S]) -> Result<Output, LabError> {
    checked(Command::new("ip").args(args))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_words_that_need_it() {
        let mut cmd = Command::new("ip");
        cmd.args(["-n", "mip6-1-0-rt", "addr", "add", "2001:db8:1::fe/64"])
            .args(["it's", ""]);
        assert_eq!(
            display(&cmd),
            r"ip -n mip6-1-0-rt addr add 2001:db8:1::fe/64 'it'\''s' ''"
        );
    }

    #[test]
    fn failure_carries_command_and_stderr() {
        let err = checked(Command::new("sh").args(["-c", "echo oops >&2; exit 3"]))
            .expect_err("exit 3 must fail");
        match err {
            LabError::Failed {
                command,
                status,
                stderr,
            } => {
                assert_eq!(command, "sh -c 'echo oops >&2; exit 3'");
                assert_eq!(status.code(), Some(3));
                assert_eq!(stderr, "oops");
            }
            other => panic!("expected Failed, got {other:?}"),
        }
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let err = output(&mut Command::new("/nonexistent/mip6-no-such-tool"))
            .expect_err("a missing program cannot start");
        assert!(
            matches!(&err, LabError::Spawn { command, .. } if command == "/nonexistent/mip6-no-such-tool"),
            "{err:?}"
        );
    }
}
