//! The terminal window on a real (pseudo-)terminal, ended by SIGTERM and by SIGHUP: it leaves
//! the alternate screen, shows the cursor, turns raw mode off and exits, as on Ctrl-C.
//!
//! The test runs this same program as the window (`CHATTY_SIGNAL_CHILD=1`: a terminal window
//! talking to an echo bot over a direct network) on a pseudo-terminal it opens, reads what the
//! window writes, sends the signal, and checks the escape sequences and the terminal's modes.
//! It has its own `main` (no test harness) so that it can be that window.

#[cfg(unix)]
fn main() {
    if std::env::var_os("CHATTY_SIGNAL_CHILD").is_some() {
        unix::window();
        return;
    }
    let tests = [
        (
            "the_terminal_is_restored_on_sigterm",
            rustix::process::Signal::TERM,
        ),
        (
            "the_terminal_is_restored_on_sighup",
            rustix::process::Signal::HUP,
        ),
    ];
    // The test harness's command line, as far as cargo test and cargo nextest use it:
    // `--list [--format terse] [--ignored]`, and a name filter (with `--exact`).
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        if !args.iter().any(|a| a == "--ignored") {
            for (test, _) in tests {
                println!("{test}: test");
            }
        }
        return;
    }
    let exact = args.iter().any(|a| a == "--exact");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let chosen = |test: &str| {
        filters.is_empty()
            || filters.iter().any(|f| {
                if exact {
                    *f == test
                } else {
                    test.contains(f.as_str())
                }
            })
    };
    let mut failed = 0;
    let mut ran = 0;
    for (test, signal) in tests {
        if !chosen(test) {
            continue;
        }
        ran += 1;
        match std::panic::catch_unwind(|| unix::restored_on(signal)) {
            Ok(()) => println!("test {test} ... ok"),
            Err(_) => {
                println!("test {test} ... FAILED");
                failed += 1;
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" },
        ran - failed
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

#[cfg(not(unix))]
fn main() {
    println!("no pseudo-terminals here: nothing to test");
}

#[cfg(unix)]
mod unix {
    use std::io::Read as _;
    use std::process::{Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use chatty_client::TerminalClient;
    use chatty_core::{Body, Message, Router};
    use chatty_direct::Network;
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    use rustix::termios::{LocalModes, Winsize, tcgetattr, tcsetwinsize};

    const ENTER_ALTERNATE: &str = "\x1b[?1049h";
    const LEAVE_ALTERNATE: &str = "\x1b[?1049l";
    const SHOW_CURSOR: &str = "\x1b[?25h";
    const WAIT: Duration = Duration::from_secs(30);

    /// The window, as the child: `direct:you` talking to an echo bot.
    pub(super) fn window() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let network = Network::new();
            let bot = chatty_core::from_fn(|signal: chatty_core::Signal, handle| async move {
                if let Body::Message(m) = &signal.body {
                    let echo = Message::text(format!("echo: {}", m.text));
                    handle.send(signal.reply(echo)).await?;
                }
                Ok(())
            });
            let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
            tokio::spawn(
                Router::new()
                    .session(network.endpoint("bot"))
                    .run_until(bot, async {
                        let _ = stopped.await;
                    }),
            );
            let window = TerminalClient::new().talk_to(network.address("bot"));
            Router::new()
                .session(network.endpoint("you"))
                .run(window)
                .await
                .unwrap();
        });
    }

    /// Runs the window on a new pseudo-terminal, sends `signal` once it shows, and checks that
    /// it put the terminal back and exited.
    pub(super) fn restored_on(signal: rustix::process::Signal) {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let winsize = Winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        tcsetwinsize(&master, winsize).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_str().unwrap())
            .unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("CHATTY_SIGNAL_CHILD", "1")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave))
            .spawn()
            .unwrap();
        // Everything the window writes to its terminal.
        let output = Arc::new(Mutex::new(Vec::<u8>::new()));
        let mut reader = std::fs::File::from(master.try_clone().unwrap());
        let written = output.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            // Ends with an error once the window has exited and the terminal is closed.
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                written.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        });
        let text = || String::from_utf8_lossy(&output.lock().unwrap()).into_owned();
        let deadline = Instant::now() + WAIT;
        // The window is up: on the alternate screen, connected.
        while !(text().contains(ENTER_ALTERNATE) && text().contains("direct:you")) {
            if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
                let _ = child.kill();
                panic!("the window did not show: {:?}", text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let modes = tcgetattr(&master).unwrap().local_modes;
        assert!(
            !modes.contains(LocalModes::ICANON) && !modes.contains(LocalModes::ECHO),
            "the window runs in raw mode: {modes:?}"
        );
        let before = output.lock().unwrap().len();

        rustix::process::kill_process(rustix::process::Pid::from_child(&child), signal).unwrap();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the window did not exit on {signal:?}: {:?}", text());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "{status:?}: {:?}", text());
        // What it wrote after the signal: it left the alternate screen and showed the cursor.
        std::thread::sleep(Duration::from_millis(100));
        let after = String::from_utf8_lossy(&output.lock().unwrap()[before..]).into_owned();
        assert!(
            after.contains(LEAVE_ALTERNATE) && after.contains(SHOW_CURSOR),
            "no restoring sequences after {signal:?}: {after:?}"
        );
        // And raw mode is off again: the terminal reads lines and echoes.
        let modes = tcgetattr(&master).unwrap().local_modes;
        assert!(
            modes.contains(LocalModes::ICANON) && modes.contains(LocalModes::ECHO),
            "raw mode is still on after {signal:?}: {modes:?}"
        );
    }
}
