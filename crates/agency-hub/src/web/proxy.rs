//! Who sent a request. Behind a reverse proxy every connection comes from the proxy; from a
//! peer in `TRUSTED_PROXIES` the forwarding headers are believed: the client is the right-most
//! address of the chain that is not a trusted proxy (the left part of the chain is whatever the
//! client sent, so it may be forged; the right part was appended by proxies we trust). From any
//! other peer the headers are ignored.
//!
//! `X-Forwarded-For` is read when present, else `Forwarded` (RFC 7239): a proxy must append to
//! the one it uses (nginx: `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for`).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::AppState;
use crate::error::AppError;

/// The client of a request: its address and whether it reached us over https.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr {
    pub ip: IpAddr,
    pub https: bool,
}

/// The client behind `peer`, from the headers when `peer` is a trusted proxy.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> ClientAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let direct = ClientAddr {
        ip: peer,
        https: false,
    };
    if !is_trusted(&peer) {
        return direct;
    }
    let (chain, protos) = match values(headers, "x-forwarded-for") {
        Some(xff) => (
            xff.iter().map(|hop| parse_ip(hop)).collect::<Vec<_>>(),
            values(headers, "x-forwarded-proto").unwrap_or_default(),
        ),
        None => forwarded(headers),
    };
    // From the right: the first hop that is not a trusted proxy. A hop that does not parse
    // ("unknown", an obfuscated name) ends the walk at the last trusted hop.
    let mut client = peer;
    for hop in chain.iter().rev() {
        match hop {
            Some(ip) => {
                client = *ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            None => break,
        }
    }
    // The proto the nearest proxy (the one we trust) saw.
    let https = protos
        .last()
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    ClientAddr { ip: client, https }
}

/// A header's comma-separated values over all its lines, trimmed; `None` when absent.
fn values(headers: &HeaderMap, name: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut any = false;
    for line in headers.get_all(name) {
        any = true;
        let Ok(line) = line.to_str() else {
            out.push(String::new());
            continue;
        };
        out.extend(line.split(',').map(|v| v.trim().to_string()));
    }
    any.then_some(out)
}

/// The `for=` addresses and `proto=` values of `Forwarded`, in order.
fn forwarded(headers: &HeaderMap) -> (Vec<Option<IpAddr>>, Vec<String>) {
    let mut chain = Vec::new();
    let mut protos = Vec::new();
    for element in values(headers, "forwarded").unwrap_or_default() {
        for pair in element.split(';') {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match key.trim().to_ascii_lowercase().as_str() {
                "for" => chain.push(parse_ip(value)),
                "proto" => protos.push(value.to_string()),
                _ => {}
            }
        }
    }
    (chain, protos)
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or
/// `[2001:db8::1]:4711`.
fn parse_ip(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim();
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = raw.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    raw.strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

/// `TRUSTED_PROXIES`: addresses and networks, comma-separated (`10.0.0.0/8, 127.0.0.1`).
pub fn parse_trusted(raw: &str) -> Result<Vec<IpNet>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("'{s}' is not an address or network (example: 10.0.0.0/8)"))
        })
        .collect()
}

/// Finds each request's client once, for the handlers (the [`ClientAddr`] extractor) and the
/// request's log span.
pub async fn find_client(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>() {
        let client = resolve(peer.ip(), req.headers(), &state.config.trusted_proxies);
        req.extensions_mut().insert(client);
    }
    next.run(req).await
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<ClientAddr>()
            .copied()
            .ok_or_else(|| {
                AppError::internal(anyhow::anyhow!(
                    "no client address: the server was started without connect info"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let trusted = parse_trusted("10.0.0.0/8").unwrap();
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ]);
        let got = resolve(ip("198.51.100.7"), &h, &trusted);
        assert_eq!(got.ip, ip("198.51.100.7"));
        assert!(!got.https);
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let trusted = parse_trusted("10.0.0.0/8, 127.0.0.1").unwrap();
        // The client forged the first entry; our proxies appended the rest.
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4, 203.0.113.9"),
            ("x-forwarded-for", "10.1.1.1"),
            ("x-forwarded-proto", "https"),
        ]);
        let got = resolve(ip("127.0.0.1"), &h, &trusted);
        assert_eq!(got.ip, ip("203.0.113.9"));
        assert!(got.https);
    }

    #[test]
    fn forwarded_is_read_without_x_forwarded_for() {
        let trusted = parse_trusted("10.0.0.5").unwrap();
        let h = headers(&[(
            "forwarded",
            "for=192.0.2.60;proto=https, for=\"[2001:db8:cafe::17]:4711\"",
        )]);
        let got = resolve(ip("10.0.0.5"), &h, &trusted);
        assert_eq!(got.ip, ip("2001:db8:cafe::17"));
        assert!(got.https);
    }

    #[test]
    fn an_unreadable_hop_stops_at_the_last_trusted_one() {
        let trusted = parse_trusted("10.0.0.0/8").unwrap();
        let h = headers(&[("x-forwarded-for", "unknown, 10.2.2.2")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted).ip, ip("10.2.2.2"));
        // Only trusted hops: the left-most is the best we know.
        let h = headers(&[("x-forwarded-for", "10.3.3.3")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted).ip, ip("10.3.3.3"));
    }

    #[test]
    fn bad_entries_are_named() {
        let err = parse_trusted("10.0.0.0/8, proxy.local").unwrap_err();
        assert!(err.contains("'proxy.local'"), "{err}");
    }
}
