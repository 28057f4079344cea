//! The host names a web window answers to, against DNS rebinding: a page of another site whose
//! name is made to resolve to this machine reaches the window with that site's name in `Host`
//! (and in `Origin`), so a request naming any other host is refused.
//!
//! Loopback names (`localhost`, `127.x.x.x`, `[::1]`, with any port) are always accepted; the
//! address the window listens on when it is a particular one; and, for a window with a token,
//! the public names it is given (a DNS name or an IP address, without a port).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The host names one window answers to.
#[derive(Debug, Clone)]
pub(super) struct Hosts {
    /// Lower-case public names (DNS names, IPv4 addresses, IPv6 addresses without brackets).
    public: Vec<String>,
    /// The address the window listens on, when it is a particular one (not 0.0.0.0 or `::`).
    bound: Option<IpAddr>,
}

impl Hosts {
    /// The names of a window listening on `bound`, with `public` names (already checked by
    /// [`public_name`]).
    pub(super) fn new(bound: IpAddr, public: Vec<String>) -> Hosts {
        Hosts {
            public,
            bound: (!bound.is_unspecified()).then_some(bound),
        }
    }

    /// The first public name, for the URL to print.
    pub(super) fn first_public(&self) -> Option<&str> {
        self.public.first().map(String::as_str)
    }

    /// Whether `authority` (a `Host` header: a name or an IP address, with or without a port)
    /// is one the window answers to.
    pub(super) fn accepts(&self, authority: &str) -> bool {
        let Some(host) = host_of(authority) else {
            return false;
        };
        is_loopback(&host)
            || self.public.contains(&host)
            || self
                .bound
                .is_some_and(|ip| host.parse::<IpAddr>() == Ok(ip))
    }

    /// Whether a WebSocket whose request came with `origin` (its `Origin` header) and `host`
    /// (its `Host` header, already accepted) may be opened: the origin's host must be one the
    /// window answers to, and be the page's own (same host and port as `host`) unless it is a
    /// public name (which a proxy in front may serve on other ports).
    pub(super) fn accepts_origin(&self, origin: &str, host: &str) -> bool {
        let Some(authority) = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
        else {
            return false;
        };
        if authority.contains('/') || !self.accepts(authority) {
            return false;
        }
        if authority.eq_ignore_ascii_case(host) {
            return true;
        }
        host_of(authority).is_some_and(|name| self.public.contains(&name))
    }
}

/// Checks and normalizes a public name: a DNS name (letters, digits, `-`, dots between labels)
/// or an IP address (IPv6 with or without brackets), without a port; lower case, without a
/// trailing dot.
pub(super) fn public_name(name: &str) -> Result<String, String> {
    let trimmed = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let bare = trimmed
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(&trimmed);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if !trimmed.is_empty() && trimmed.len() <= 253 && trimmed.split('.').all(label_ok) {
        Ok(trimmed)
    } else {
        Err(format!(
            "`{name}` is not a host name or IP address (give it without scheme, port or path: chat.example.org)"
        ))
    }
}

/// The host of an authority (`name`, `name:port`, `1.2.3.4:80`, `[::1]:80`), lower case, IPv6
/// without brackets, without a trailing dot; `None` when it is not one.
fn host_of(authority: &str) -> Option<String> {
    let authority = authority.trim();
    let host = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || port_ok(after.strip_prefix(':')?)) {
            return None;
        }
        inside.parse::<Ipv6Addr>().ok()?.to_string()
    } else {
        let (name, port) = match authority.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        };
        if port.is_some_and(|p| !port_ok(p)) || name.contains(':') {
            return None;
        }
        name.trim_end_matches('.').to_ascii_lowercase()
    };
    (!host.is_empty()).then_some(host)
}

fn port_ok(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.chars().all(|c| c.is_ascii_digit())
}

/// `localhost`, any `127.x.x.x` and `::1`.
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        || host.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(bound: &str, public: &[&str]) -> Hosts {
        let public = public.iter().map(|n| public_name(n).unwrap()).collect();
        Hosts::new(bound.parse().unwrap(), public)
    }

    #[test]
    fn loopback_names_with_or_without_port() {
        let h = hosts("127.0.0.1", &[]);
        for ok in [
            "localhost",
            "localhost:8080",
            "LOCALHOST:1",
            "localhost.",
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:8080",
            "[0:0:0:0:0:0:0:1]:9",
        ] {
            assert!(h.accepts(ok), "{ok}");
        }
        for refused in [
            "rebind.example",
            "rebind.example:8080",
            "localhost.rebind.example",
            "127.0.0.1.rebind.example",
            "10.0.0.1:8080",
            "[::2]:80",
            "",
            "localhost:",
            "localhost:80:80",
            "::1",
            "localhost:http",
        ] {
            assert!(!h.accepts(refused), "{refused}");
        }
    }

    #[test]
    fn public_names_and_the_bound_address() {
        let h = hosts(
            "0.0.0.0",
            &["Chat.Example.org.", "[2001:db8::1]", "192.0.2.7"],
        );
        for ok in [
            "chat.example.org",
            "CHAT.example.org:443",
            "[2001:db8::1]:8080",
            "192.0.2.7:8080",
            "localhost:8080",
        ] {
            assert!(h.accepts(ok), "{ok}");
        }
        assert!(!h.accepts("example.org"));
        assert!(!h.accepts("0.0.0.0:8080"));
        let bound = hosts("192.0.2.9", &[]);
        assert!(bound.accepts("192.0.2.9:8080"));
        assert!(!bound.accepts("192.0.2.10:8080"));
    }

    #[test]
    fn public_names_are_checked() {
        assert_eq!(public_name("Chat.Example.ORG").unwrap(), "chat.example.org");
        assert_eq!(public_name("[::1]").unwrap(), "::1");
        for bad in [
            "",
            "http://chat.example.org",
            "chat.example.org:443",
            "chat example",
            "chat..example",
            "-chat.example",
            "chat.example/path",
        ] {
            assert!(public_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn origins_must_be_the_page_itself_or_a_public_name() {
        let h = hosts("127.0.0.1", &["chat.example.org"]);
        assert!(h.accepts_origin("http://127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(h.accepts_origin("http://LOCALHOST:8080", "localhost:8080"));
        // Behind a proxy: the page is the public name, the request reaches loopback.
        assert!(h.accepts_origin("https://chat.example.org", "127.0.0.1:8080"));
        // Another site, or another local site on another port.
        assert!(!h.accepts_origin("http://rebind.example:8080", "rebind.example:8080"));
        assert!(!h.accepts_origin("http://localhost:3000", "localhost:8080"));
        assert!(!h.accepts_origin("http://127.0.0.1:3000", "127.0.0.1:8080"));
        assert!(!h.accepts_origin("null", "127.0.0.1:8080"));
        assert!(!h.accepts_origin("file://", "127.0.0.1:8080"));
        assert!(!h.accepts_origin("ws://127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(!h.accepts_origin("http://127.0.0.1:8080/x", "127.0.0.1:8080"));
    }
}
