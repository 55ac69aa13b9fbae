//! Which requests a web page may have sent: the `Host` and `Origin` checks
//! that keep browsers from writing to or reading from a daemon on a user's
//! machine (SPEC §3).
//!
//! Two rules, both decided by [`WebAccess::check`] before a request is routed:
//!
//! 1. **Host** (DNS rebinding). A page served from a name the attacker points
//!    at 127.0.0.1 talks to the daemon as its *own* origin: its `Origin` (when
//!    the browser sends one at all; same-origin `GET`s carry none) matches its
//!    `Host`. So the `Host` itself must be a name that cannot be rebound: a
//!    loopback name (`localhost`, `*.localhost`, RFC 6761), an IP address
//!    literal (rebinding needs a DNS name; the listen address is always one),
//!    or a name listed in [`AllowedHosts`] (`--allow-host`). A request without
//!    `Host` (HTTP/1.0) or with an empty one (RFC 9110 §7.2) passes this rule.
//! 2. **Origin** (cross-site requests). A browser sends `POST` with
//!    `Content-Type: text/plain` to any site without asking first; it marks it
//!    with `Origin`. A request that carries `Origin` is answered only if that
//!    origin is the daemon's own (the request's scheme plus its `Host`, which
//!    passed rule 1) or is listed in [`AllowedOrigins`] (`--allow-origin`).
//!    `Origin: null` (sandboxed frames, `file://`) is never the daemon's own.
//!    Requests without `Origin` (curl, log shippers) pass.
//!
//! Comparisons follow RFC 6454 and RFC 3986: scheme and host are
//! case-insensitive, a name's trailing dot is dropped, an absent port is the
//! scheme's default (80 for `http`), ports compare exactly. Everything here
//! is pure: header values and the allow-lists in, a [`Refusal`] or nothing
//! out. No input makes it panic.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::Request;

/// The scheme a request arrived over: the daemon's own origin is this scheme
/// plus the request's `Host`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scheme {
    /// Plain HTTP.
    Http,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
        }
    }
}

/// The port a scheme implies when an origin names none.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// The host of a `Host` value or an origin, normalised: a name lower-cased
/// without its trailing dot, or an IP address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HostName {
    /// A registered name (`localhost`, `logs.example.com`).
    Name(String),
    /// An IPv4 address in dotted-decimal form.
    Ipv4(Ipv4Addr),
    /// An IPv6 address, written in brackets in a `Host` or origin.
    Ipv6(Ipv6Addr),
}

impl HostName {
    /// Parses a host without a port: `[IPv6]`, dotted-decimal IPv4, or a name
    /// of letters, digits, `-` and `_` in non-empty dot-separated labels, with
    /// at most one trailing dot. Anything else (userinfo, percent-encoding,
    /// non-ASCII, a bare IPv6 address) is `None`.
    pub fn parse(host: &[u8]) -> Option<HostName> {
        let text = std::str::from_utf8(host).ok()?;
        if let Some(inner) = text.strip_prefix('[') {
            return inner.strip_suffix(']')?.parse().ok().map(HostName::Ipv6);
        }
        // Ipv4Addr's parser takes exactly four decimal octets, no leading
        // zeros: the form browsers serialise. `127.1` or `0x7f.0.0.1` are
        // names here, and so not loopback.
        if let Ok(v4) = text.parse() {
            return Some(HostName::Ipv4(v4));
        }
        let name = text.strip_suffix('.').unwrap_or(text);
        let valid_label = |label: &str| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        name.split('.')
            .all(valid_label)
            .then(|| HostName::Name(name.to_ascii_lowercase()))
    }

    /// `localhost` or a name under `.localhost` (RFC 6761 §6.3: always the
    /// loopback interface, never looked up in DNS).
    pub fn is_loopback_name(&self) -> bool {
        match self {
            HostName::Name(name) => name == "localhost" || name.ends_with(".localhost"),
            HostName::Ipv4(_) | HostName::Ipv6(_) => false,
        }
    }

    /// An IP address literal: no DNS lookup, so no rebinding.
    pub fn is_ip(&self) -> bool {
        matches!(self, HostName::Ipv4(_) | HostName::Ipv6(_))
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostName::Name(name) => f.write_str(name),
            HostName::Ipv4(ip) => write!(f, "{ip}"),
            HostName::Ipv6(ip) => write!(f, "[{ip}]"),
        }
    }
}

/// A `Host` field value: `host[:port]` (RFC 9110 §7.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authority {
    /// The host, normalised.
    pub host: HostName,
    /// The port, when one was given.
    pub port: Option<u16>,
}

impl Authority {
    /// Parses `host[:port]` as [`HostName::parse`] reads hosts; the port is 1
    /// to 5 decimal digits up to 65535. Surrounding spaces and tabs are
    /// ignored; anything else malformed is `None`.
    pub fn parse(value: &[u8]) -> Option<Authority> {
        let value = value.trim_ascii();
        let (host, port) = if value.starts_with(b"[") {
            let close = value.iter().position(|&b| b == b']')?;
            let (host, rest) = value.split_at(close + 1);
            match rest {
                [] => (host, None),
                [b':', port @ ..] => (host, Some(port)),
                _ => return None,
            }
        } else {
            match value.iter().position(|&b| b == b':') {
                None => (value, None),
                Some(colon) => {
                    let (host, rest) = value.split_at(colon);
                    (host, Some(rest.get(1..)?))
                }
            }
        };
        let port = match port {
            None => None,
            Some(digits) => Some(parse_port(digits)?),
        };
        Some(Authority {
            host: HostName::parse(host)?,
            port,
        })
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.host)?;
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

fn parse_port(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A web origin (RFC 6454): scheme, host and port, normalised so that equal
/// origins compare equal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: HostName,
    /// The explicit port, else the scheme's default; `None` only for a scheme
    /// without a default and no port given.
    port: Option<u16>,
}

impl Origin {
    /// Parses a serialised origin, `scheme://host[:port]`, as browsers send it
    /// in `Origin`. Not `null` (opaque origins match nothing) and no path,
    /// query, fragment or userinfo. Surrounding spaces and tabs are ignored.
    pub fn parse(value: &[u8]) -> Option<Origin> {
        let text = std::str::from_utf8(value.trim_ascii()).ok()?;
        let (scheme, rest) = text.split_once("://")?;
        let mut chars = scheme.chars();
        let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !scheme_ok {
            return None;
        }
        if rest.trim_ascii().len() != rest.len() {
            return None;
        }
        let scheme = scheme.to_ascii_lowercase();
        let authority = Authority::parse(rest.as_bytes())?;
        let port = authority.port.or_else(|| default_port(&scheme));
        Some(Origin {
            scheme,
            host: authority.host,
            port,
        })
    }

    /// The daemon's own origin for a request over `scheme` with `Host: host`.
    pub fn own(scheme: Scheme, host: &Authority) -> Origin {
        let scheme = scheme.as_str();
        Origin {
            scheme: scheme.to_owned(),
            host: host.host.clone(),
            port: host.port.or_else(|| default_port(scheme)),
        }
    }
}

impl fmt::Display for Origin {
    /// The serialisation: the default port left out, as browsers write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        match self.port {
            Some(port) if Some(port) != default_port(&self.scheme) => write!(f, ":{port}"),
            _ => Ok(()),
        }
    }
}

/// Names besides loopback names and IP literals that `Host` may carry
/// (`--allow-host`). Empty by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    any: bool,
    names: Vec<String>,
    /// Domains given as `.example.com`, stored without the leading dot.
    domains: Vec<String>,
}

impl AllowedHosts {
    /// Parses a comma-separated list: `name` allows that name (any port),
    /// `.example.com` allows `example.com` and every name under it, `*`
    /// allows every host (the rebinding check is then off). Empty entries
    /// are skipped. `Err` says which entry is wrong and why.
    pub fn parse(list: &str) -> Result<AllowedHosts, String> {
        let mut allowed = AllowedHosts::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                allowed.any = true;
                continue;
            }
            let (domain, name) = match entry.strip_prefix('.') {
                Some(rest) => (true, rest),
                None => (false, entry),
            };
            let bad = || {
                format!("{entry:?} is not a host name like logs.example.com or .example.com (no scheme, no port)")
            };
            match HostName::parse(name.as_bytes()).ok_or_else(bad)? {
                HostName::Name(name) if domain => allowed.domains.push(name),
                HostName::Name(name) => allowed.names.push(name),
                // IP literals are always allowed; listing one changes nothing.
                HostName::Ipv4(_) | HostName::Ipv6(_) if !domain => {}
                HostName::Ipv4(_) | HostName::Ipv6(_) => return Err(bad()),
            }
        }
        Ok(allowed)
    }

    /// Whether `*` was listed: every host is allowed.
    pub fn allows_any(&self) -> bool {
        self.any
    }

    /// Whether a request with `Host: host` may be answered: a loopback name,
    /// an IP literal, or a listed name.
    pub fn allows(&self, host: &HostName) -> bool {
        if self.any || host.is_ip() || host.is_loopback_name() {
            return true;
        }
        let HostName::Name(name) = host else {
            return false;
        };
        self.names.iter().any(|n| n == name)
            || self.domains.iter().any(|d| {
                name == d
                    || name
                        .strip_suffix(d.as_str())
                        .is_some_and(|head| head.ends_with('.'))
            })
    }
}

/// Origins besides the daemon's own that may send requests
/// (`--allow-origin`). Empty by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedOrigins {
    any: bool,
    origins: Vec<Origin>,
}

impl AllowedOrigins {
    /// Parses a comma-separated list of exact origins
    /// (`https://dash.example.com:8443`) or `*` (every origin, `null`
    /// included: the check is then off). Empty entries are skipped. `null`
    /// is refused: every sandboxed frame and `file://` page sends it, so
    /// listing it would let any page in; say `*` if that is meant.
    pub fn parse(list: &str) -> Result<AllowedOrigins, String> {
        let mut allowed = AllowedOrigins::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                allowed.any = true;
            } else if entry.eq_ignore_ascii_case("null") {
                return Err("\"null\" is the origin of every sandboxed frame and file:// page, so it cannot be allowed alone; use * to allow every page".to_owned());
            } else {
                let origin = Origin::parse(entry.as_bytes()).ok_or_else(|| {
                    format!("{entry:?} is not an origin like https://dash.example.com:8443 (scheme://host[:port], no path)")
                })?;
                allowed.origins.push(origin);
            }
        }
        Ok(allowed)
    }

    /// Whether `*` was listed: every origin is allowed.
    pub fn allows_any(&self) -> bool {
        self.any
    }

    fn allows(&self, origin: &Origin) -> bool {
        self.any || self.origins.contains(origin)
    }
}

/// The allow-lists a daemon was started with; [`WebAccess::check`] applies
/// both rules of the module doc.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebAccess {
    /// `--allow-host`.
    pub hosts: AllowedHosts,
    /// `--allow-origin`.
    pub origins: AllowedOrigins,
}

impl WebAccess {
    /// Decides whether `req`, received over `scheme`, may be answered.
    /// `Err` is the answer to send instead ([`Refusal::status`],
    /// [`Refusal::message`]), before routing and before the body is used.
    pub fn check(&self, scheme: Scheme, req: &Request) -> Result<(), Refusal> {
        let host = single_field(req, "host").ok_or(Refusal::SeveralHosts)?;
        let origin = single_field(req, "origin").ok_or(Refusal::SeveralOrigins)?;
        self.check_fields(scheme, host, origin)
    }

    /// [`WebAccess::check`] on the values of the one `Host` and the one
    /// `Origin` field, each `None` when absent.
    pub fn check_fields(
        &self,
        scheme: Scheme,
        host: Option<&[u8]>,
        origin: Option<&[u8]>,
    ) -> Result<(), Refusal> {
        let host = match host.map(<[u8]>::trim_ascii) {
            None | Some([]) => None,
            Some(value) => Some(Authority::parse(value).ok_or(Refusal::MalformedHost)?),
        };
        if let Some(host) = &host {
            if !self.hosts.allows(&host.host) {
                return Err(Refusal::HostNotAllowed {
                    host: host.to_string(),
                    name: host.host.to_string(),
                });
            }
        }
        let Some(origin) = origin else {
            return Ok(());
        };
        if self.origins.allows_any() {
            return Ok(());
        }
        let origin = match origin.trim_ascii() {
            b"null" => return Err(Refusal::NullOrigin),
            value => Origin::parse(value).ok_or(Refusal::MalformedOrigin)?,
        };
        let own = host.as_ref().map(|host| Origin::own(scheme, host));
        if own.as_ref() == Some(&origin) || self.origins.allows(&origin) {
            return Ok(());
        }
        Err(Refusal::OriginNotAllowed {
            origin: origin.to_string(),
            own: own.map(|o| o.to_string()),
        })
    }
}

/// `Some(value)` of the only field named `name` (`Some(None)` when absent);
/// `None` when there are several.
fn single_field<'a>(req: &'a Request, name: &str) -> Option<Option<&'a [u8]>> {
    let mut fields = req
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice());
    let first = fields.next();
    fields.next().is_none().then_some(first)
}

/// Why a request is refused by [`WebAccess::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// 400: `Host` is not `host[:port]`.
    MalformedHost,
    /// 400: more than one `Host` field.
    SeveralHosts,
    /// 400: more than one `Origin` field.
    SeveralOrigins,
    /// 403: `Origin` is neither `null` nor `scheme://host[:port]`.
    MalformedOrigin,
    /// 403: `Origin: null`, sent by sandboxed frames and `file://` pages.
    NullOrigin,
    /// 403: `Host` names a host that is not loopback, an IP literal or
    /// listed with `--allow-host`.
    HostNotAllowed {
        /// The `Host` value, normalised.
        host: String,
        /// Its host part, as `--allow-host` would list it.
        name: String,
    },
    /// 403: `Origin` is not the daemon's own and not listed with
    /// `--allow-origin`.
    OriginNotAllowed {
        /// The origin sent, normalised.
        origin: String,
        /// The daemon's own origin for this request; `None` without `Host`.
        own: Option<String>,
    },
}

impl Refusal {
    /// The status code to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::MalformedHost | Refusal::SeveralHosts | Refusal::SeveralOrigins => 400,
            Refusal::MalformedOrigin
            | Refusal::NullOrigin
            | Refusal::HostNotAllowed { .. }
            | Refusal::OriginNotAllowed { .. } => 403,
        }
    }

    /// What is wrong and what to do, as a sentence; a 403 names the flag that
    /// would allow the request.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::MalformedHost => f.write_str(
                "the Host header is malformed; send host[:port], e.g. Host: 127.0.0.1:8080",
            ),
            Refusal::SeveralHosts => {
                f.write_str("the request has several Host headers; send exactly one")
            }
            Refusal::SeveralOrigins => {
                f.write_str("the request has several Origin headers; send at most one")
            }
            Refusal::MalformedOrigin => f.write_str(
                "the Origin header is not an origin (scheme://host[:port]); web pages may not use spool unless their origin is listed with --allow-origin",
            ),
            Refusal::NullOrigin => f.write_str(
                "web pages may not use spool: Origin null (a sandboxed frame or a file:// page) could be any page; it is accepted only with --allow-origin *",
            ),
            Refusal::HostNotAllowed { host, name } => write!(
                f,
                "Host {host} is not a loopback name, an IP address or a name listed with --allow-host, so this may be a web page using DNS rebinding; connect to 127.0.0.1 or localhost, or start spool with --allow-host {name}"
            ),
            Refusal::OriginNotAllowed { origin, own } => {
                write!(f, "web pages may not use spool: Origin {origin} is not ")?;
                match own {
                    Some(own) => write!(f, "this daemon's own ({own})")?,
                    None => f.write_str("this daemon's own (the request has no Host)")?,
                }
                write!(
                    f,
                    " and not listed with --allow-origin; to let that page in, start spool with --allow-origin {origin}"
                )
            }
        }
    }
}

impl std::error::Error for Refusal {}
