fn main() -> std::process::ExitCode {
    one_malloc_arena();
    membudget::cli::run()
}

/// Collecting reads and parses on one thread and builds the model on another (which parses
/// too), and glibc gives the second thread its own malloc arena. The model is built there,
/// between the parser's short-lived buffers, and the accounts that follow are built in the
/// main arena, which cannot reuse the parser arena's free space: on a 500 MB snapshot that
/// doubled peak RSS (86 MiB against 49 MiB with one arena). Now that both threads parse, the
/// shared arena's lock costs time (the 521 MB big.tar: 0.57 s against 0.49 s with two arenas),
/// but two arenas peak at 66 MiB there, over the 64 MiB the model is held to
/// (docs/performance.md).
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a glibc tuning parameter; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
