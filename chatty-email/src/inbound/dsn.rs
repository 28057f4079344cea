//! Delivery status notifications (RFC 3464) in inbound mail.

use std::collections::HashMap;

use mail_parser::{Message, MimeHeaders, PartType};

use crate::ids::signal_id;
use crate::mapper::Report;

/// The delivery report in a `multipart/report; report-type=delivery-status` mail (RFC 3464):
/// the original Message-ID (from the returned message or headers) and, per the first
/// recipient that failed (else the first), the action, status and diagnostic.
pub(super) fn delivery_report(mail: &Message<'_>) -> Option<Report> {
    let ctype = mail.content_type()?;
    let is_report = ctype.ctype().eq_ignore_ascii_case("multipart")
        && ctype
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        && ctype
            .attribute("report-type")
            .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"));
    if !is_report {
        return None;
    }
    let mut status_text = None;
    let mut original = None;
    for part in &mail.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let main = ct.ctype().to_ascii_lowercase();
        let sub = ct.subtype().unwrap_or_default().to_ascii_lowercase();
        match (main.as_str(), sub.as_str()) {
            ("message", "delivery-status" | "global-delivery-status") => {
                status_text = Some(String::from_utf8_lossy(part.contents()).into_owned());
            }
            ("message", "rfc822" | "global") => {
                if let PartType::Message(inner) = &part.body {
                    original = original.or_else(|| inner.message_id().map(str::to_owned));
                }
            }
            ("text", "rfc822-headers") => {
                let text = String::from_utf8_lossy(part.contents()).into_owned();
                original = original.or_else(|| header_in(&text, "message-id"));
            }
            _ => {}
        }
    }
    let original = signal_id(&original?);
    let groups = dsn_groups(&status_text.unwrap_or_default());
    // The first group is per message; the rest are per recipient.
    let recipients: Vec<_> = groups.iter().filter(|g| g.contains_key("action")).collect();
    let chosen = recipients
        .iter()
        .find(|g| {
            g.get("action")
                .is_some_and(|a| a.eq_ignore_ascii_case("failed"))
        })
        .or_else(|| recipients.first())?;
    let action = chosen.get("action").map(|a| a.to_ascii_lowercase())?;
    let failed = action == "failed";
    if !failed && !matches!(action.as_str(), "delivered" | "relayed" | "expanded") {
        // `delayed`: the mail is still on its way; nothing changes yet.
        return None;
    }
    let recipient = chosen.get("final-recipient").map(|r| {
        r.split_once(';')
            .map_or(r.as_str(), |(_, a)| a)
            .trim()
            .to_owned()
    });
    let diagnostic = chosen.get("diagnostic-code").map(|d| {
        d.split_once(';')
            .map_or(d.as_str(), |(_, text)| text)
            .trim()
            .to_owned()
    });
    let status = chosen.get("status").cloned();
    let message = match (recipient, diagnostic) {
        (Some(r), Some(d)) => format!("{action} for {r}: {d}"),
        (Some(r), None) => format!("{action} for {r}"),
        (None, Some(d)) => format!("{action}: {d}"),
        (None, None) => action.clone(),
    };
    Some(Report {
        original,
        failed,
        status,
        message,
    })
}

/// The header groups of a `message/delivery-status` body (blank-line separated), with folded
/// lines unfolded and names in lower case.
pub(crate) fn dsn_groups(text: &str) -> Vec<HashMap<String, String>> {
    let mut groups = Vec::new();
    let mut current: HashMap<String, String> = HashMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
            last = None;
        } else if line.starts_with([' ', '\t']) {
            if let Some(key) = &last
                && let Some(value) = current.get_mut(key)
            {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            let key = name.trim().to_ascii_lowercase();
            current.insert(key.clone(), value.trim().to_owned());
            last = Some(key);
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

/// A header's value in a block of header text (`text/rfc822-headers`), unfolded.
fn header_in(text: &str, name: &str) -> Option<String> {
    dsn_groups(text)
        .into_iter()
        .find_map(|g| g.get(name).cloned())
        .map(|v| {
            v.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::config::PLATFORM;
    use crate::mapper::{Inbound, Mapper};
    use chatty_core::Address;

    fn mapper(own: &str) -> Mapper {
        Mapper::new(PLATFORM, own).unwrap()
    }

    fn addr(mail: &str) -> Address {
        Address::new(PLATFORM, mail).unwrap()
    }

    /// A bounce as the test Postfix writes it.
    pub(crate) const POSTFIX_DSN: &str = "From: Mail Delivery System <MAILER-DAEMON@localhost>\r
Subject: Undelivered Mail Returned to Sender\r
To: m00@localhost\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status;\r
\tboundary=\"B\"\r
Message-Id: <20261125182942.5A4A598C23B@localhost>\r
\r
--B\r
Content-Description: Notification\r
Content-Type: text/plain; charset=utf-8\r
\r
I'm sorry to have to inform you that your message could not be delivered.\r
\r
--B\r
Content-Description: Delivery report\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; localhost\r
Arrival-Date: Wed, 25 Nov 2026 18:29:42 +0000 (UTC)\r
\r
Final-Recipient: rfc822; x@bounce.localhost\r
Original-Recipient: rfc822;x@bounce.localhost\r
Action: failed\r
Status: 5.1.1\r
Diagnostic-Code: smtp; 550 5.1.1 <x@bounce.localhost> User doesn't exist:\r
    x@bounce.localhost\r
\r
--B\r
Content-Description: Undelivered Message\r
Content-Type: message/rfc822\r
\r
Subject: bounce me\r
Message-ID: <b1=20x@chatty.invalid>\r
From: m00@localhost\r
\r
hello\r
\r
--B--\r
";

    #[test]
    fn a_postfix_bounce_is_a_failed_report_for_the_original() {
        let (got, thread) = mapper("m00@localhost").inbound(POSTFIX_DSN.as_bytes());
        assert!(thread.is_none());
        let Inbound::Report(report, meta) = got else {
            panic!("{got:?}")
        };
        assert_eq!(report.original.as_str(), "b1 x");
        assert!(report.failed);
        assert_eq!(report.status.as_deref(), Some("5.1.1"));
        assert!(
            report.message.contains("x@bounce.localhost"),
            "{}",
            report.message
        );
        assert!(
            report.message.contains("User doesn't exist"),
            "{}",
            report.message
        );
        assert_eq!(meta.origin, Some(addr("MAILER-DAEMON@localhost")));
    }

    #[test]
    fn a_success_report_and_headers_only_reports_are_read() {
        let dsn = POSTFIX_DSN
            .replace("Action: failed", "Action: delivered")
            .replace(
                "Content-Type: message/rfc822",
                "Content-Type: text/rfc822-headers",
            );
        let Inbound::Report(report, _) = mapper("m00@localhost").inbound(dsn.as_bytes()).0 else {
            panic!()
        };
        assert!(!report.failed);
        assert_eq!(report.original.as_str(), "b1 x");
        let delayed = POSTFIX_DSN.replace("Action: failed", "Action: delayed");
        assert!(matches!(
            mapper("m00@localhost").inbound(delayed.as_bytes()).0,
            Inbound::Signal(_)
        ));
    }
}
