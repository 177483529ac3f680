fn main() -> std::process::ExitCode {
    membudget::cli::run()
}
