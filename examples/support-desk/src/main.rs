//! `chatty-support-desk check|run CONFIG`: the support desk on the sessions the config names.
fn main() -> std::process::ExitCode {
    chatty::Runner::new()
        .dispatcher("support-desk", chatty_support_desk::support_desk)
        .main()
}
