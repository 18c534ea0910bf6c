fn main() -> std::process::ExitCode {
    stemkaart::cli::main()
}
