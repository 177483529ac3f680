//! Release binaries for Linux leave out the unwinding tables (`.eh_frame`): the release profile
//! aborts on panic, so nothing unwinds, and the tables were 240 kB of a 2.1 MB x86_64 binary,
//! on boards with little flash (docs/performance.md, "Binary size"). A panic still prints its
//! message; only a `RUST_BACKTRACE` backtrace comes out empty.
//!
//! Only for builds without debug information (the `profiling` profile keeps them for perf's
//! call graphs), and only where the C library is linked dynamically, as on the host: the static
//! board builds' GNU ld finds no section to anchor the script to (`.text not found for
//! insert`), and they keep their tables. `MEMBUDGET_KEEP_UNWIND_TABLES=1` keeps them anywhere
//! (for a linker that takes no linker script, such as mold).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=scripts/no-unwind-tables.ld");
    println!("cargo:rerun-if-env-changed=MEMBUDGET_KEEP_UNWIND_TABLES");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let release = var("PROFILE") == "release" && var("DEBUG") == "false";
    let keep = !var("MEMBUDGET_KEEP_UNWIND_TABLES").is_empty();
    let static_libc = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|feature| feature == "crt-static");
    if release && var("CARGO_CFG_TARGET_OS") == "linux" && !static_libc && !keep {
        let script = format!("{}/scripts/no-unwind-tables.ld", var("CARGO_MANIFEST_DIR"));
        println!("cargo:rustc-link-arg-bins={script}");
    }
}
