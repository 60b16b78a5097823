use std::process::ExitCode;

fn main() -> ExitCode {
    vrg_operator::cli::main()
}
