//! The Web API methods: one call for an authenticated caller, with scopes, fault injection
//! and Slack's error codes.

use serde_json::{Map, Value, json};

use super::args::{bool_arg, cursor, json_arg, needed_scope, num_arg, parse_cursor, str_arg};
use super::{Caller, Kind, Reply, Workspace, now_secs};

impl Workspace {
    /// A Web API call with `token`: authentication, rate limiting (HTTP 429 with
    /// `Retry-After`, api.slack.com/apis/rate-limits), then the method.
    pub(crate) fn api(
        &mut self,
        method: &str,
        token: Option<&str>,
        args: &Map<String, Value>,
    ) -> Reply {
        let caller = match self.authenticate(token) {
            Ok(caller) => caller,
            Err(code) => return Reply::error(code),
        };
        if let Some(seconds) = self.rate_limited(method) {
            return Reply {
                status: 429,
                retry_after: Some(seconds),
                body: json!({"ok": false, "error": "ratelimited"}),
            };
        }
        self.call(method, &caller, args)
    }

    /// Runs one Web API method for a caller (already authenticated).
    pub(crate) fn call(
        &mut self,
        method: &str,
        caller: &Caller,
        args: &Map<String, Value>,
    ) -> Reply {
        if let Some(queue) = self.failures.get_mut(method)
            && let Some(code) = queue.pop_front()
        {
            return Reply::error(&code);
        }
        match (method, caller) {
            ("apps.connections.open", Caller::AppLevel { .. }) => {}
            ("apps.connections.open", _) | (_, Caller::AppLevel { .. }) => {
                return Reply::error("not_allowed_token_type");
            }
            _ => {}
        }
        if let (Caller::Bot { app }, Some(scope)) = (caller, needed_scope(method, args))
            && let Some(a) = self.apps.get(app)
            && !a.scopes.contains(scope)
        {
            let mut reply = Reply::error("missing_scope");
            reply.body["needed"] = scope.into();
            reply.body["provided"] = a
                .scopes
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
                .into();
            return reply;
        }
        let me = self.user_of(caller).unwrap_or_default();
        match method {
            "auth.test" => self.auth_test(caller),
            "apps.connections.open" => {
                let Caller::AppLevel { app } = caller else {
                    return Reply::error("not_allowed_token_type");
                };
                let ticket = self.secret("ticket");
                self.tickets.insert(ticket.clone(), app.clone());
                if let Some(a) = self.apps.get_mut(app) {
                    a.connections_opened += 1;
                }
                let base = self.base.replacen("http://", "ws://", 1);
                Reply::ok(json!({"url": format!("{base}/link/?ticket={ticket}&app_id={app}")}))
            }
            "chat.postMessage" => self.chat_post_message(caller, &me, args),
            "chat.update" => {
                let (Some(channel), Some(ts)) = (str_arg(args, "channel"), str_arg(args, "ts"))
                else {
                    return Reply::error(if str_arg(args, "channel").is_none() {
                        "channel_not_found"
                    } else {
                        "message_not_found"
                    });
                };
                let text = str_arg(args, "text");
                let blocks = json_arg(args, "blocks");
                if text.is_none() && blocks.is_none() {
                    return Reply::error("no_text");
                }
                match self.edit(&me, channel, ts, text, blocks) {
                    Ok(message) => Reply::ok(json!({
                        "channel": channel,
                        "ts": ts,
                        "text": message.get("text").cloned().unwrap_or_default(),
                        "message": message,
                    })),
                    Err(code) => Reply::error(code),
                }
            }
            "chat.delete" => {
                let (Some(channel), Some(ts)) = (str_arg(args, "channel"), str_arg(args, "ts"))
                else {
                    return Reply::error("message_not_found");
                };
                match self.delete(&me, channel, ts) {
                    Ok(()) => Reply::ok(json!({"channel": channel, "ts": ts})),
                    Err(code) => Reply::error(code),
                }
            }
            "conversations.open" => {
                if let Some(channel) = str_arg(args, "channel") {
                    return match self.channels.get(channel) {
                        Some(ch) => Reply::ok(json!({"channel": self.channel_json(ch, &me)})),
                        None => Reply::error("channel_not_found"),
                    };
                }
                let Some(users) = str_arg(args, "users") else {
                    return Reply::error("users_list_not_supplied");
                };
                let mut list: Vec<String> = users.split(',').map(|u| u.trim().to_owned()).collect();
                if list.iter().any(|u| !self.users.contains_key(u)) {
                    return Reply::error("user_not_found");
                }
                if list.len() > 8 {
                    return Reply::error("too_many_users");
                }
                list.push(me.clone());
                let existed_before = self.channels.len();
                let id = self.open_conversation(list);
                let ch = &self.channels[&id];
                let mut body = if bool_arg(args, "return_im") {
                    json!({"channel": self.channel_json(ch, &me)})
                } else {
                    json!({"channel": {"id": id}})
                };
                if self.channels.len() == existed_before {
                    body["no_op"] = true.into();
                    body["already_open"] = true.into();
                }
                Reply::ok(body)
            }
            "conversations.info" => {
                match str_arg(args, "channel").and_then(|c| self.visible(c, &me)) {
                    Some(ch) => {
                        let mut channel = self.channel_json(ch, &me);
                        if bool_arg(args, "include_num_members") {
                            channel["num_members"] = ch.members.len().into();
                        }
                        Reply::ok(json!({"channel": channel}))
                    }
                    None => Reply::error("channel_not_found"),
                }
            }
            "conversations.members" => {
                let Some(ch) = str_arg(args, "channel").and_then(|c| self.visible(c, &me)) else {
                    return Reply::error("channel_not_found");
                };
                let limit = num_arg(args, "limit").unwrap_or(100).clamp(1, 1000) as usize;
                let start = match str_arg(args, "cursor") {
                    Some(c) => match parse_cursor(c) {
                        Some(n) => n,
                        None => return Reply::error("invalid_cursor"),
                    },
                    None => 0,
                };
                let page: Vec<&String> = ch.members.iter().skip(start).take(limit).collect();
                let next = if start + page.len() < ch.members.len() {
                    cursor(start + page.len())
                } else {
                    String::new()
                };
                Reply::ok(json!({"members": page, "response_metadata": {"next_cursor": next}}))
            }
            "conversations.history" => self.history(&me, args),
            "conversations.replies" => {
                let Some(ch) = str_arg(args, "channel").and_then(|c| self.visible(c, &me)) else {
                    return Reply::error("channel_not_found");
                };
                if !ch.members.contains(&me) {
                    return Reply::error("not_in_channel");
                }
                let Some(ts) = str_arg(args, "ts") else {
                    return Reply::error("thread_not_found");
                };
                let Some(parent) = self.find_message(&ch.id, ts) else {
                    return Reply::error("thread_not_found");
                };
                let root = parent
                    .get("thread_ts")
                    .and_then(Value::as_str)
                    .unwrap_or(ts)
                    .to_owned();
                let messages: Vec<Value> = ch
                    .messages
                    .iter()
                    .filter(|m| {
                        m.get("ts").and_then(Value::as_str) == Some(&root)
                            || m.get("thread_ts").and_then(Value::as_str) == Some(&root)
                    })
                    .cloned()
                    .collect();
                Reply::ok(
                    json!({"messages": messages, "has_more": false, "response_metadata": {"next_cursor": ""}}),
                )
            }
            "conversations.list" => {
                let types = str_arg(args, "types").unwrap_or("public_channel");
                let wanted: Vec<Kind> = types
                    .split(',')
                    .filter_map(|t| match t.trim() {
                        "public_channel" => Some(Kind::Public),
                        "private_channel" => Some(Kind::Private),
                        "im" => Some(Kind::Im),
                        "mpim" => Some(Kind::Mpim),
                        _ => None,
                    })
                    .collect();
                let channels: Vec<Value> = self
                    .channels
                    .values()
                    .filter(|c| wanted.contains(&c.kind))
                    .filter(|c| c.kind == Kind::Public || c.members.contains(&me))
                    .map(|c| self.channel_json(c, &me))
                    .collect();
                Reply::ok(json!({"channels": channels, "response_metadata": {"next_cursor": ""}}))
            }
            "conversations.join" => {
                let Some(id) = str_arg(args, "channel") else {
                    return Reply::error("channel_not_found");
                };
                let Some(kind) = self.channels.get(id).map(|c| c.kind) else {
                    return Reply::error("channel_not_found");
                };
                if kind != Kind::Public {
                    return Reply::error("method_not_supported_for_channel_type");
                }
                let joined = self.join(&me, id);
                let mut body = json!({"channel": self.channel_json(&self.channels[id], &me)});
                if !joined {
                    body["warning"] = "already_in_channel".into();
                    body["response_metadata"] = json!({"warnings": ["already_in_channel"]});
                }
                Reply::ok(body)
            }
            "conversations.leave" => {
                let Some(id) = str_arg(args, "channel") else {
                    return Reply::error("channel_not_found");
                };
                if self.visible(id, &me).is_none() {
                    return Reply::error("channel_not_found");
                }
                if self.leave(&me, id) {
                    Reply::ok(json!({}))
                } else {
                    Reply::ok(json!({"not_in_channel": true}))
                }
            }
            "users.info" => match str_arg(args, "user").and_then(|u| self.users.get(u)) {
                Some(u) => Reply::ok(json!({"user": self.user_json(u)})),
                None => Reply::error("user_not_found"),
            },
            "users.getPresence" => {
                let who = str_arg(args, "user").unwrap_or(&me).to_owned();
                let Some(u) = self.users.get(&who) else {
                    return Reply::error("user_not_found");
                };
                let active = self.is_active(u);
                let presence = if active { "active" } else { "away" };
                if who == me {
                    Reply::ok(json!({
                        "presence": presence,
                        "online": active,
                        "auto_away": false,
                        "manual_away": u.manual_away,
                        "connection_count": if active { 1 } else { 0 },
                        "last_activity": now_secs(),
                    }))
                } else {
                    Reply::ok(json!({"presence": presence}))
                }
            }
            "users.setPresence" => {
                let away = match str_arg(args, "presence") {
                    Some("away") => true,
                    Some("auto") => false,
                    _ => return Reply::error("invalid_presence"),
                };
                if let Some(u) = self.users.get_mut(&me) {
                    u.manual_away = away;
                }
                Reply::ok(json!({}))
            }
            "files.getUploadURLExternal" => {
                let Some(name) = str_arg(args, "filename") else {
                    return Reply::error("invalid_arguments");
                };
                let Some(length) = num_arg(args, "length") else {
                    return Reply::error("invalid_arguments");
                };
                let name = name.to_owned();
                let (id, key) = self.start_upload(&me, &name, length);
                Reply::ok(
                    json!({"upload_url": format!("{}/upload/v1/{key}", self.base), "file_id": id}),
                )
            }
            "files.completeUploadExternal" => self.complete_upload(&me, args),
            "files.info" => match str_arg(args, "file").and_then(|f| self.files.get(f)) {
                Some(f) if f.bytes.is_some() => Reply::ok(json!({
                    "file": self.file_json(f),
                    "comments": [],
                    "response_metadata": {"next_cursor": ""},
                })),
                _ => Reply::error("file_not_found"),
            },
            _ => Reply::error("unknown_method"),
        }
    }

    /// api.slack.com/methods/chat.postMessage: `channel` is a conversation id, or a user id for
    /// the DM with that user.
    pub(crate) fn chat_post_message(
        &mut self,
        caller: &Caller,
        me: &str,
        args: &Map<String, Value>,
    ) -> Reply {
        let Some(target) = str_arg(args, "channel").map(str::to_owned) else {
            return Reply::error("channel_not_found");
        };
        let channel = if (target.starts_with('U') || target.starts_with('W'))
            && self.users.contains_key(&target)
        {
            self.open_conversation(vec![me.to_owned(), target.clone()])
        } else {
            target
        };
        let Some(ch) = self.channels.get(&channel) else {
            return Reply::error("channel_not_found");
        };
        let member = ch.members.iter().any(|m| m == me);
        if !member {
            return Reply::error(if ch.kind == Kind::Public {
                "not_in_channel"
            } else {
                "channel_not_found"
            });
        }
        let text = str_arg(args, "text").map(str::to_owned);
        let blocks = json_arg(args, "blocks");
        if blocks == Some(Value::Null) {
            return Reply::error("invalid_blocks");
        }
        if let Some(b) = &blocks
            && !b.is_array()
        {
            return Reply::error("invalid_blocks_format");
        }
        if text.is_none() && blocks.is_none() {
            return Reply::error("no_text");
        }
        if text.as_ref().is_some_and(|t| t.chars().count() > 40_000) {
            return Reply::error("msg_too_long");
        }
        let thread_ts = str_arg(args, "thread_ts").map(str::to_owned);
        if let Some(t) = &thread_ts
            && self.find_message(&channel, t).is_none()
        {
            // Slack posts to the channel when the parent does not exist; it does not fail.
            tracing::debug!(thread_ts = %t, "no such parent: posting to the channel");
        }
        let mut message = json!({"user": me, "text": text.clone().unwrap_or_default()});
        if let Some(b) = blocks {
            message["blocks"] = b;
        }
        if let Some(t) = thread_ts.filter(|t| self.find_message(&channel, t).is_some()) {
            message["thread_ts"] = t.into();
        }
        if let Some(meta) = json_arg(args, "metadata") {
            if meta.get("event_type").and_then(Value::as_str).is_none()
                || !meta.get("event_payload").is_some_and(Value::is_object)
            {
                return Reply::error("invalid_metadata_format");
            }
            message["metadata"] = meta;
        }
        if let Caller::Bot { app } = caller
            && let Some(a) = self.apps.get(app)
        {
            message["bot_id"] = a.bot_id.clone().into();
            message["app_id"] = a.id.clone().into();
            message["bot_profile"] = self.bot_profile(a);
        }
        let stored = self.post(&channel, message);
        let ts = stored.get("ts").cloned().unwrap_or(Value::Null);
        Reply::ok(json!({"channel": channel, "ts": ts, "message": stored}))
    }

    /// api.slack.com/methods/conversations.history: newest first, thread replies left out,
    /// `metadata` only with `include_all_metadata`.
    pub(crate) fn history(&self, me: &str, args: &Map<String, Value>) -> Reply {
        let Some(ch) = str_arg(args, "channel").and_then(|c| self.visible(c, me)) else {
            return Reply::error("channel_not_found");
        };
        if !ch.members.iter().any(|m| m == me) {
            return Reply::error("not_in_channel");
        }
        let limit = num_arg(args, "limit").unwrap_or(100).clamp(1, 999) as usize;
        let inclusive = bool_arg(args, "inclusive");
        let parse = |v: Option<&str>| v.and_then(|s| s.parse::<f64>().ok());
        let latest = parse(str_arg(args, "latest"));
        let oldest = parse(str_arg(args, "oldest"));
        let metadata = bool_arg(args, "include_all_metadata");
        let mut roots: Vec<Value> = ch
            .messages
            .iter()
            .rev()
            .filter(|m| {
                let ts = m.get("ts").and_then(Value::as_str).unwrap_or_default();
                match m.get("thread_ts").and_then(Value::as_str) {
                    Some(t) => t == ts,
                    None => true,
                }
            })
            .filter(|m| {
                let ts: f64 = m
                    .get("ts")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0.0);
                let below = latest.is_none_or(|l| if inclusive { ts <= l } else { ts < l });
                let above = oldest.is_none_or(|o| if inclusive { ts >= o } else { ts > o });
                below && above
            })
            .cloned()
            .collect();
        let start = match str_arg(args, "cursor") {
            Some(c) => match parse_cursor(c) {
                Some(n) => n,
                None => return Reply::error("invalid_cursor"),
            },
            None => 0,
        };
        let total = roots.len();
        let mut page: Vec<Value> = roots.drain(..).skip(start).take(limit).collect();
        if !metadata {
            for m in &mut page {
                if let Some(o) = m.as_object_mut() {
                    o.remove("metadata");
                }
            }
        }
        let has_more = start + page.len() < total;
        let next = if has_more {
            cursor(start + page.len())
        } else {
            String::new()
        };
        Reply::ok(json!({
            "messages": page,
            "has_more": has_more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": next},
        }))
    }
}
