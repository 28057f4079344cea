//! Files v2: uploads, shares (`file_share` and `file_shared`) and the file object.

use serde_json::{Value, json};

use super::{FileRec, Kind, Workspace, now_secs};

/// A media type from a file name's extension.
pub(crate) fn mime_for(name: &str) -> &'static str {
    match name.rsplit('.').next().map(str::to_lowercase).as_deref() {
        Some("txt") => "text/plain",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("pdf") => "application/pdf",
        Some("json") => "application/json",
        Some("html") => "text/html",
        _ => "application/octet-stream",
    }
}

impl Workspace {
    /// A file object (api.slack.com/types/file).
    pub(crate) fn file_json(&self, file: &FileRec) -> Value {
        let filetype = file
            .name
            .rsplit('.')
            .next()
            .unwrap_or("binary")
            .to_lowercase();
        let url_private = format!(
            "{}/files-pri/{}-{}/{}",
            self.base, self.team_id, file.id, file.name
        );
        let url_download = format!(
            "{}/files-pri/{}-{}/download/{}",
            self.base, self.team_id, file.id, file.name
        );
        json!({
            "id": file.id,
            "created": file.created,
            "timestamp": file.created,
            "name": file.name,
            "title": file.title,
            "mimetype": file.mimetype,
            "filetype": filetype,
            "pretty_type": filetype.to_uppercase(),
            "user": file.user,
            "user_team": self.team_id,
            "editable": false,
            "size": file.length,
            "mode": "hosted",
            "is_external": false,
            "external_type": "",
            "is_public": file.channels.iter().any(|c| self.channels.get(c).is_some_and(|c| c.kind == Kind::Public)),
            "public_url_shared": false,
            "display_as_bot": false,
            "username": "",
            "url_private": url_private,
            "url_private_download": url_download,
            "permalink": format!("https://{}.slack.com/files/{}/{}/{}", self.domain, file.user, file.id, file.name),
            "permalink_public": format!("https://slack-files.com/{}-{}-0000", self.team_id, file.id),
            "channels": file.channels.iter().filter(|c| self.channels.get(*c).is_some_and(|c| c.kind == Kind::Public)).collect::<Vec<_>>(),
            "groups": file.channels.iter().filter(|c| self.channels.get(*c).is_some_and(|c| matches!(c.kind, Kind::Private | Kind::Mpim))).collect::<Vec<_>>(),
            "ims": file.channels.iter().filter(|c| self.channels.get(*c).is_some_and(|c| c.kind == Kind::Im)).collect::<Vec<_>>(),
            "has_rich_preview": false,
            "file_access": "visible",
        })
    }

    /// Registers an upload (files.getUploadURLExternal): the file id and the upload key.
    pub(crate) fn start_upload(&mut self, user: &str, name: &str, length: u64) -> (String, String) {
        let id = self.id("F");
        let key = self.secret("up");
        self.files.insert(
            id.clone(),
            FileRec {
                id: id.clone(),
                name: name.to_owned(),
                title: name.to_owned(),
                mimetype: mime_for(name).to_owned(),
                length,
                bytes: None,
                user: user.to_owned(),
                created: now_secs(),
                channels: Vec::new(),
            },
        );
        self.uploads.insert(key.clone(), id.clone());
        (id, key)
    }

    /// Shares uploaded files into `channel` as one `file_share` message
    /// (api.slack.com/events/message/file_share) and emits `file_shared`
    /// (api.slack.com/events/file_shared).
    pub(crate) fn share_files(
        &mut self,
        user: &str,
        channel: &str,
        ids: &[String],
        comment: Option<&str>,
        blocks: Option<Value>,
        thread_ts: Option<&str>,
    ) -> Value {
        for id in ids {
            if let Some(f) = self.files.get_mut(id)
                && !f.channels.iter().any(|c| c == channel)
            {
                f.channels.push(channel.to_owned());
            }
        }
        let files: Vec<Value> = ids
            .iter()
            .filter_map(|id| self.files.get(id))
            .map(|f| self.file_json(f))
            .collect();
        let mut message = match comment {
            Some(text) => self.person_message(user, text, thread_ts),
            None => {
                let mut m = json!({"user": user, "text": ""});
                if let Some(b) = blocks {
                    m["blocks"] = b;
                }
                if let Some(t) = thread_ts {
                    m["thread_ts"] = t.into();
                }
                m
            }
        };
        message["subtype"] = "file_share".into();
        message["files"] = Value::Array(files);
        message["upload"] = false.into();
        message["display_as_bot"] = false.into();
        if let Some(app) = self.apps.values().find(|a| a.bot_user == user) {
            message["bot_id"] = app.bot_id.clone().into();
            message["app_id"] = app.id.clone().into();
        }
        let stored = self.post(channel, message);
        for id in ids {
            let event = json!({
                "type": "file_shared",
                "channel_id": channel,
                "file_id": id,
                "user_id": user,
                "file": {"id": id},
                "event_ts": stored.get("ts").cloned().unwrap_or(Value::Null),
            });
            self.emit_to_members(channel, event);
        }
        stored
    }
}
