//! Slack's text formats: escaping, mentions, and mrkdwn ↔ HTML for rich content.

/// Slack's three escaped characters (api.slack.com/reference/surfaces/formatting#escaping).
pub(crate) fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `<@U…>` mentions in a text.
pub(crate) fn mentions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        let end = rest.find(['>', '|']).unwrap_or(rest.len());
        let id = &rest[..end];
        if !id.is_empty()
            && id.chars().all(|c| c.is_ascii_alphanumeric())
            && !out.iter().any(|o| o == id)
        {
            out.push(id.to_owned());
        }
        rest = &rest[end..];
    }
    out
}

/// A small HTML → mrkdwn conversion for the `section` block that carries rich content:
/// bold, italics, strike, code, links and line breaks; other tags are dropped.
pub(crate) fn html_to_mrkdwn(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    let mut link: Option<String> = None;
    let mut link_text = String::new();
    while let Some(start) = rest.find('<') {
        let text = unescape_html(&rest[..start]);
        if link.is_some() {
            link_text.push_str(&text);
        } else {
            out.push_str(&text);
        }
        let Some(end) = rest[start..].find('>') else {
            rest = &rest[start..];
            break;
        };
        let tag = &rest[start + 1..start + end];
        rest = &rest[start + end + 1..];
        let lower = tag.to_ascii_lowercase();
        let name = lower
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let closing = lower.starts_with('/');
        let mark = match name.as_str() {
            "b" | "strong" => "*",
            "i" | "em" => "_",
            "s" | "strike" | "del" => "~",
            "code" => "`",
            _ => "",
        };
        if !mark.is_empty() {
            if link.is_some() {
                link_text.push_str(mark);
            } else {
                out.push_str(mark);
            }
            continue;
        }
        match (name.as_str(), closing) {
            ("br", _) | ("p", true) | ("div", true) | ("li", true) => out.push('\n'),
            ("a", false) => {
                let href = tag
                    .split("href=")
                    .nth(1)
                    .map(|h| h.trim_start_matches(['"', '\'']))
                    .and_then(|h| h.split(['"', '\'']).next())
                    .unwrap_or_default();
                link = Some(href.to_owned());
                link_text.clear();
            }
            ("a", true) => {
                if let Some(href) = link.take() {
                    out.push_str(&format!("<{href}|{link_text}>"));
                }
            }
            _ => {}
        }
    }
    out.push_str(&unescape_html(rest));
    out.trim_end().to_owned()
}

fn unescape_html(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A small mrkdwn → HTML conversion (the inverse of [`html_to_mrkdwn`]) for inbound `section`
/// blocks.
pub(crate) fn mrkdwn_to_html(mrkdwn: &str) -> String {
    let text = unescape(mrkdwn);
    let mut out = String::new();
    let mut open: Vec<char> = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' | '_' | '~' | '`' => {
                let tag = match c {
                    '*' => "b",
                    '_' => "i",
                    '~' => "s",
                    _ => "code",
                };
                if open.last() == Some(&c) {
                    open.pop();
                    out.push_str(&format!("</{tag}>"));
                } else {
                    open.push(c);
                    out.push_str(&format!("<{tag}>"));
                }
            }
            '<' => {
                let mut inner = String::new();
                for d in chars.by_ref() {
                    if d == '>' {
                        break;
                    }
                    inner.push(d);
                }
                let (target, label) = inner.split_once('|').unwrap_or((&inner, &inner));
                out.push_str(&format!(
                    "<a href=\"{}\">{}</a>",
                    escape_html(target),
                    escape_html(label)
                ));
            }
            '\n' => out.push_str("<br>"),
            other => out.push_str(&escape_html(&other.to_string())),
        }
    }
    while let Some(c) = open.pop() {
        let tag = match c {
            '*' => "b",
            '_' => "i",
            '~' => "s",
            _ => "code",
        };
        out.push_str(&format!("</{tag}>"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mrkdwn_and_html_convert_both_ways() {
        assert_eq!(
            mrkdwn_to_html("*b* _i_ <https://x.org|x>"),
            "<b>b</b> <i>i</i> <a href=\"https://x.org\">x</a>"
        );
        assert_eq!(html_to_mrkdwn("<p>a &amp; <em>b</em></p>"), "a & _b_");
    }

    #[test]
    fn mentions_and_escapes() {
        assert_eq!(mentions("hi <@U1> and <@U2|bob> <@U1>"), vec!["U1", "U2"]);
        assert!(mentions("no <#C1> <@>").is_empty());
        assert_eq!(unescape("&lt;a&gt; &amp;amp;"), "<a> &amp;");
    }
}
