//! `coresdk-sidecar`: the CoreSDK data plane as one program
//! ([`coresdk_sidecar::cli`]). `coresdk-sidecar --help` lists everything;
//! docs/operations.md explains it.

fn main() -> std::process::ExitCode {
    coresdk_sidecar::malloc_tuning::limit_arenas();
    coresdk_sidecar::cli::main(std::env::args_os().collect())
}
