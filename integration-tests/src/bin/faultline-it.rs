//! The `faultline` command line, built as a binary of this package so that the black-box tests
//! can locate it with `env!("CARGO_BIN_EXE_faultline-it")`.

fn main() -> std::process::ExitCode {
    faultline_engine::cli::main()
}
