//! A runner running a config file in this process (on direct networks) until told to stop, and
//! a person talking to one of its bots once its session is up.

use std::path::PathBuf;
use std::time::Duration;

use chatty::direct::Person;
use chatty::prelude::*;
use chatty::{RunError, Runner};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A runner running a config file until told to stop.
pub(crate) struct Running {
    stop: oneshot::Sender<()>,
    run: JoinHandle<Result<(), RunError>>,
}

impl Running {
    /// Starts `runner` on the config file `path`.
    pub(crate) fn start(runner: Runner, path: PathBuf) -> Running {
        let (stop, stopped) = oneshot::channel::<()>();
        let run = tokio::spawn(async move {
            runner
                .run_file(&path, async move {
                    let _ = stopped.await;
                })
                .await
        });
        Running { stop, run }
    }

    /// Ends its sessions in order and returns what the run returned (within 30 s).
    pub(crate) async fn stop(self) -> Result<(), RunError> {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(30), self.run)
            .await
            .expect("the run ends within 30 s")
            .expect("the run does not panic")
    }

    /// `person` says `text` to `to`, trying until the session serving `to` is up (within
    /// `wait`), and returns the answer's text; `Err` with the run's result if the run ended
    /// first.
    pub(crate) async fn ask(
        &mut self,
        person: &Person,
        to: &Address,
        text: &str,
        wait: Duration,
    ) -> Result<String, Result<(), RunError>> {
        let deadline = tokio::time::Instant::now() + wait;
        while person
            .send(Signal::message(text).to(to.clone()))
            .await
            .is_err()
        {
            if self.run.is_finished() {
                return Err((&mut self.run).await.expect("the run does not panic"));
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{to} was not served within {wait:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (_, answer) = tokio::time::timeout(Duration::from_secs(30), person.expect_message())
            .await
            .expect("an answer within 30 s");
        Ok(answer.text)
    }
}
