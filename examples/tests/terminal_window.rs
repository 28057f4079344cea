//! The demo's terminal window, the real binary in a real terminal: tmux runs it in a detached
//! session of fixed size (on a server of its own), the test types a short conversation with
//! `send-keys` and reads the screen with `capture-pane`, then leaves with Ctrl-C and checks that
//! the program exited cleanly and the terminal is as it was (main screen, cooked mode, echo).

use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long the screen may take to show what is expected.
const WAIT: Duration = Duration::from_secs(30);

/// A tmux server of the test's own (`tmux -L NAME`), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(width: u16, height: u16) -> Tmux {
        match Command::new("tmux").arg("-V").output() {
            Ok(output) if output.status.success() => {}
            _ => panic!(
                "tmux is missing: this test drives the demo in tmux; install it (scripts/test \
                 does: scripts/lib/servers.d/client-tools.sh)"
            ),
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let tmux = Tmux {
            socket: format!("chatty-test-{}-{nanos}", std::process::id()),
        };
        tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "demo",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "sh",
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        assert!(output.status.success(), "tmux {args:?}: {output:?}");
        output
    }

    /// Types `text` literally.
    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "demo", "-l", text]);
    }

    /// Presses a key by its tmux name (`Enter`, `C-c`).
    fn key(&self, key: &str) {
        self.run(&["send-keys", "-t", "demo", key]);
    }

    /// What the pane shows.
    fn screen(&self) -> String {
        let output = self.run(&["capture-pane", "-p", "-t", "demo"]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn format(&self, format: &str) -> String {
        let output = self.run(&["display-message", "-p", "-t", "demo", format]);
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Waits until the pane shows `text`; returns the screen.
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("the screen did not show {text:?} within {WAIT:?}:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

#[test]
fn terminal_window_in_tmux() {
    let tmux = Tmux::start(100, 30);
    // The keys wait in the terminal until the shell reads them.
    tmux.type_text(&format!(
        "echo before the demo; {}; echo demo exited with $?",
        env!("CARGO_BIN_EXE_demo")
    ));
    tmux.key("Enter");

    // The window: a status line for the session, the conversation with the bot.
    tmux.wait_for("connected to direct as direct:you");
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "1",
        "the window uses the alternate screen"
    );
    tmux.type_text("hello tmux");
    tmux.key("Enter");
    let screen = tmux.wait_for("bot: echo: hello tmux (backwards: xumt olleh)");
    assert!(screen.contains("you: hello tmux"), "{screen}");

    // The bot's commands go with `//`; the window's own with `/`.
    tmux.type_text("//time");
    tmux.key("Enter");
    tmux.wait_for("bot: The time is");
    tmux.type_text("/status away back soon");
    tmux.key("Enter");
    tmux.wait_for("you are away (back soon)");
    tmux.type_text("/to nobody");
    tmux.key("Enter");
    tmux.type_text("anyone there?");
    tmux.key("Enter");
    tmux.wait_for("not delivered");

    // Ctrl-C leaves: the program exits with 0 and the shell's screen is back.
    tmux.key("C-c");
    let screen = tmux.wait_for("demo exited with 0");
    assert!(screen.contains("before the demo"), "{screen}");
    assert!(!screen.contains("connected to direct"), "{screen}");
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "0",
        "the main screen is back"
    );
    assert_eq!(tmux.format("#{cursor_flag}"), "1", "the cursor shows");
    // Cooked mode and echo are back (raw mode is off).
    tmux.type_text("stty -a | tr ' ' '\\n' | grep -x -e icanon -e echo | tr '\\n' ' '; echo end");
    tmux.key("Enter");
    let screen = tmux.wait_for("icanon echo end");
    assert!(!screen.contains("-icanon"), "{screen}");
}
