//! `faultline`: the command-line entry point; see [`faultline_engine::cli`].

fn main() -> std::process::ExitCode {
    faultline_engine::cli::main()
}
