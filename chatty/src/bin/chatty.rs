//! The `chatty` binary: `chatty run CONFIG` runs the bots a config file names, `chatty check
//! CONFIG` checks the file without connecting.

fn main() -> std::process::ExitCode {
    chatty::Runner::new().main()
}
