//! The `flowctl` binary: parses the command line and runs one subcommand (see `cmd`).

mod cmd;

fn main() -> std::process::ExitCode {
    cmd::main()
}
