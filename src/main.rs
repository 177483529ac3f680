fn main() -> std::process::ExitCode {
    two_malloc_arenas();
    membudget::cli::run()
}

/// Collecting reads (and, when the builder is behind, parses) on a second thread while the
/// calling thread builds the model. Two malloc arenas, not glibc's default of eight per core:
/// the reading thread gets one of its own, so the two threads no longer queue on one lock
/// (with one shared arena, waiting for it was 17 % of the samples of a report on the 521 MB
/// big.tar), and the model and the accounts that follow are both made in the main arena,
/// where the accounts reuse what the parse freed. Built on the second thread instead, the
/// model's arena could not give its free space to the accounts: peak RSS was 66 MiB there
/// against 51 MiB now (docs/performance.md).
fn two_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a glibc tuning parameter; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
