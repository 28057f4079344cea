//! `files.*`: files.getUploadURLExternal, files.completeUploadExternal, files.info (files v2,
//! api.slack.com/messaging/files).

use serde_json::{Value, json};

use super::entry::Call;
use crate::workspace::args::{json_arg, num_arg, str_arg};
use crate::workspace::{Kind, Reply, Workspace};

/// api.slack.com/methods/files.getUploadURLExternal: an `upload_url` on this server for the
/// bytes.
pub(super) fn get_upload_url(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    let args = call.args;
    let Some(name) = str_arg(args, "filename") else {
        return Reply::error("invalid_arguments");
    };
    let Some(length) = num_arg(args, "length") else {
        return Reply::error("invalid_arguments");
    };
    let (id, key) = ws.start_upload(call.me, name, length);
    Reply::ok(json!({"upload_url": format!("{}/upload/v1/{key}", ws.base), "file_id": id}))
}

/// api.slack.com/methods/files.completeUploadExternal.
pub(super) fn complete_upload(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    let (me, args) = (call.me, call.args);
    let Some(Value::Array(files)) = json_arg(args, "files") else {
        return Reply::error("invalid_arguments");
    };
    let mut ids = Vec::new();
    for f in &files {
        let Some(id) = f.get("id").and_then(Value::as_str) else {
            return Reply::error("invalid_arguments");
        };
        match ws.files.get_mut(id) {
            Some(rec) if rec.user == me && rec.bytes.is_some() => {
                if let Some(title) = f.get("title").and_then(Value::as_str) {
                    rec.title = title.to_owned();
                }
                ids.push(id.to_owned());
            }
            Some(rec) if rec.user == me => return Reply::error("file_upload_not_completed"),
            _ => return Reply::error("file_not_found"),
        }
    }
    let mut targets: Vec<String> = Vec::new();
    if let Some(c) = str_arg(args, "channel_id") {
        targets.push(c.to_owned());
    }
    if let Some(cs) = str_arg(args, "channels") {
        targets.extend(cs.split(',').map(|c| c.trim().to_owned()));
    }
    let thread_ts = str_arg(args, "thread_ts").map(str::to_owned);
    if thread_ts.is_some() && targets.len() > 1 {
        return Reply::error("invalid_arguments");
    }
    let comment = str_arg(args, "initial_comment").map(str::to_owned);
    let blocks = if comment.is_some() {
        None
    } else {
        json_arg(args, "blocks")
    };
    let mut resolved = Vec::new();
    for target in targets {
        let channel = if (target.starts_with('U') || target.starts_with('W'))
            && ws.users.contains_key(&target)
        {
            ws.open_conversation(vec![me.to_owned(), target])
        } else {
            target
        };
        match ws.channels.get(&channel) {
            Some(ch) if ch.members.iter().any(|m| m == me) => resolved.push(channel),
            Some(ch) if ch.kind == Kind::Public => return Reply::error("not_in_channel"),
            _ => return Reply::error("channel_not_found"),
        }
    }
    for channel in &resolved {
        let thread = thread_ts
            .as_deref()
            .filter(|t| ws.find_message(channel, t).is_some())
            .map(str::to_owned);
        ws.share_files(
            me,
            channel,
            &ids,
            comment.as_deref(),
            blocks.clone(),
            thread.as_deref(),
        );
    }
    let out: Vec<Value> = ids
        .iter()
        .filter_map(|id| ws.files.get(id))
        .map(|f| json!({"id": f.id, "title": f.title}))
        .collect();
    Reply::ok(json!({"files": out}))
}
/// api.slack.com/methods/files.info: a file whose bytes were uploaded.
pub(super) fn info(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    match str_arg(call.args, "file").and_then(|f| ws.files.get(f)) {
        Some(f) if f.bytes.is_some() => Reply::ok(json!({
            "file": ws.file_json(f),
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        })),
        _ => Reply::error("file_not_found"),
    }
}
