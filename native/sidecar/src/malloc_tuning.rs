//! glibc `malloc` settings for a long-running sidecar, so that its resident
//! memory follows what it holds.
//!
//! glibc gives each thread that allocates an arena of its own (up to eight
//! per core); memory a thread frees stays in its arena. With OTLP export on,
//! the sidecar's threads are the data plane's workers plus the export's
//! (the pump, the SDK's batch and metric threads, the HTTP client), and
//! each export thread's arena kept the peak of the batches it encoded.
//! Measured with `bench/sidecar.bench.mjs` (docs/benchmarks.md): capped
//! at two arenas (`MALLOC_ARENA_MAX=2`) instead of one per thread, the
//! exporting sidecar went from 23.9 to 22.1 MB idle and from 29.7 to
//! 26.5 MB at 5,000 calls/s, with no change to its latency or saturation
//! throughput. (Returning free pages with
//! `malloc_trim` once a second took off another 0.3-0.8 MB but holds each
//! arena's lock while it walks it, and the p99 at 5,000 calls/s went above
//! 1 ms in three runs of four: not done.)
//!
//! Other C libraries (musl in the static image) manage their heaps
//! otherwise: there [`limit_arenas`] does nothing.

/// How many arenas the process uses unless `MALLOC_ARENA_MAX` or
/// `GLIBC_TUNABLES` say otherwise: one per CPU the process may run on (the
/// data plane's default worker count), where glibc allows eight per core.
pub fn arenas() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Caps glibc's arenas at [`arenas`], unless the environment sets
/// `MALLOC_ARENA_MAX` or `GLIBC_TUNABLES` (the operator's choice stands).
/// Call first thing in `main`, before any thread starts.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        if !set("MALLOC_ARENA_MAX") && !set("GLIBC_TUNABLES") {
            let n = i32::try_from(arenas()).unwrap_or(i32::MAX);
            // SAFETY: mallopt only changes the allocator's parameters; it is
            // called before any other thread exists.
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, n);
            }
        }
    }
}
