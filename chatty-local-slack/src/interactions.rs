//! Acting as people with apps: clicking a button on an app's message, running an app's slash
//! command (the workspace's side is `workspace/interactions.rs`).

use serde_json::Value;

use crate::LocalSlack;

impl LocalSlack {
    /// Declares `command` (`/ticket`) as a slash command of the app, as the app's manifest
    /// does (`features.slash_commands`). `false` when there is no such app, or another app has
    /// the command.
    pub fn add_slash_command(&self, app_id: &str, command: &str) -> bool {
        self.inner.lock().add_slash_command(app_id, command)
    }

    /// `user` clicks the button whose `action_id` is `action_id` on the message `ts` of
    /// `channel` (in an `actions` block, or a `section` block's accessory): the app that posted
    /// the message gets an `interactive` envelope whose payload is the `block_actions` payload
    /// Slack documents (`type`, `user`, `api_app_id`, `token`, `container`, `trigger_id`,
    /// `team`, `channel`, `message`, `response_url`, `actions`, …), and must acknowledge it
    /// within the ack timeout (3 s), or the click fails for the person
    /// ([`failed_interactions`](LocalSlack::failed_interactions)); Slack does not send it again.
    /// Returns the payload, or why Slack's client would not let the click happen
    /// (`channel_not_found`, `message_not_found`, `not_an_app_message`, `action_not_found`).
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use chatty_local_slack::LocalSlack;
    /// use serde_json::json;
    ///
    /// let slack = LocalSlack::start().await?;
    /// let alice = slack.add_user("alice");
    /// let app = slack.add_app("bot");
    /// let dm = slack.open_conversation(&[&alice, &app.bot_user_id]);
    /// let posted = slack.call(&app.bot_token, "chat.postMessage", json!({
    ///     "channel": dm,
    ///     "text": "Deploy?",
    ///     "blocks": [{"type": "actions", "block_id": "deploy", "elements": [
    ///         {"type": "button", "action_id": "yes", "value": "y",
    ///          "text": {"type": "plain_text", "text": "Yes"}}]}],
    /// }));
    /// let ts = posted["ts"].as_str().unwrap();
    /// let payload = slack.click(&alice, &dm, ts, "yes").unwrap();
    /// assert_eq!(payload["actions"][0]["value"], "y");
    /// # Ok(())
    /// # }
    /// ```
    pub fn click(
        &self,
        user: &str,
        channel: &str,
        ts: &str,
        action_id: &str,
    ) -> Result<Value, String> {
        self.inner
            .lock()
            .click(user, channel, ts, action_id)
            .map_err(str::to_owned)
    }

    /// `user` runs the slash command `command` with `text` in `channel` (a conversation they
    /// are in): the app that declared it ([`add_slash_command`](LocalSlack::add_slash_command))
    /// gets a `slash_commands` envelope whose payload holds Slack's form fields as strings
    /// (`token`, `team_id`, `team_domain`, `channel_id`, `channel_name`, `user_id`,
    /// `user_name`, `command`, `text`, `api_app_id`, `is_enterprise_install`, `response_url`,
    /// `trigger_id`), to acknowledge within the ack timeout like a click. Returns the payload,
    /// or `unknown_command`, `channel_not_found`, `user_not_found`.
    pub fn slash_command(
        &self,
        user: &str,
        channel: &str,
        command: &str,
        text: &str,
    ) -> Result<Value, String> {
        self.inner
            .lock()
            .slash_command(user, channel, command, text)
            .map_err(str::to_owned)
    }

    /// The `trigger_id`s of the clicks and slash commands the app did not acknowledge in time
    /// (or that found no socket open), in order: Slack showed the person an error.
    pub fn failed_interactions(&self, app_id: &str) -> Vec<String> {
        let mut state = self.inner.lock();
        let table = state.timetable.clone();
        state.apps.get_mut(app_id).map_or_else(Vec::new, |a| {
            a.sweep(std::time::Instant::now(), &table);
            a.failed_interactions.clone()
        })
    }
}
