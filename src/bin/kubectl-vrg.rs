//! `kubectl vrg`: the kubectl plugin (see `vrg_operator::plugin`).

use std::process::ExitCode;

fn main() -> ExitCode {
    vrg_operator::plugin::main()
}
