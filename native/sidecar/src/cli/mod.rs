//! The `coresdk-sidecar` program: the whole command line, in Rust, so that
//! every channel (release binaries, the container image, the npm and PyPI
//! packages) runs one program with one behaviour and one `--help`.
//!
//! - serving ([`serve`]): flags ([`args`]) over `CORESDK_*` over
//!   `coresdk.toml`; `--dev` ([`dev`]); `--check`; signals, reload, drain;
//!   JSON log lines on stdout ([`log`]);
//! - `test` and `check` ([`policy`]): the policy author's commands;
//! - `health` ([`health`]): a probe of a running sidecar, for images
//!   without a shell.

pub mod args;
pub mod dev;
pub mod health;
pub mod log;
pub mod policy;
pub mod serve;

use std::ffi::OsString;
use std::process::ExitCode;

use args::Command;

/// Runs the program with `argv` (the program name first); returns its exit
/// code.
pub fn main(argv: Vec<OsString>) -> ExitCode {
    follow_launcher();
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
        Some(Command::Health(h)) => health::health(h),
        Some(Command::DevToken(t)) => dev::print_token(t),
        None => serve::run(cli.serve),
    }
}

/// The variable the npm bin sets to its own pid when it starts the program.
pub const LAUNCHER_PID: &str = "CORESDK_SIDECAR_LAUNCHER_PID";

/// Started by the npm bin (a Node process that cannot `exec`), the program
/// must not outlive it: a supervisor that kills the bin with SIGKILL kills
/// the sidecar (Linux: the parent-death signal). SIGTERM, SIGINT and SIGHUP
/// are passed on by the bin and handled as usual.
#[cfg(target_os = "linux")]
fn follow_launcher() {
    let Some(pid) = std::env::var(LAUNCHER_PID)
        .ok()
        .and_then(|p| p.parse::<libc::pid_t>().ok())
    else {
        return;
    };
    // SAFETY: prctl(PR_SET_PDEATHSIG) and getppid take no pointers and only
    // affect this process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != pid {
            // The bin died before the signal was armed.
            std::process::exit(1);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn follow_launcher() {}
