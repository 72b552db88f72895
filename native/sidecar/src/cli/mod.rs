//! The `coresdk-sidecar` program: the whole command line, in Rust, so that
//! every channel (release binaries, the container image, the npm and PyPI
//! packages) runs one program with one behaviour and one `--help`.
//!
//! - serving ([`serve`]): flags ([`args`]) over `CORESDK_*` over
//!   `coresdk.toml`; `--dev` ([`dev`]); `--check`; signals, reload, drain;
//!   JSON log lines on stdout ([`log`]);
//! - `test` and `check` ([`policy`]): the policy author's commands.

pub mod args;
pub mod dev;
pub mod log;
pub mod policy;
pub mod serve;

use std::ffi::OsString;
use std::process::ExitCode;

use args::Command;

/// Runs the program with `argv` (the program name first); returns its exit
/// code.
pub fn main(argv: Vec<OsString>) -> ExitCode {
    let cli = match args::parse(argv) {
        Ok(c) => c,
        Err((code, text, to_stdout)) => {
            if to_stdout {
                print!("{text}");
            } else {
                eprint!("{text}");
            }
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Some(Command::Test(t)) => policy::test(t),
        Some(Command::Check(c)) => policy::check(c),
        None => serve::run(cli.serve),
    }
}
