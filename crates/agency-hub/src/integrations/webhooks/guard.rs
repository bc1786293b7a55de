//! Where webhooks may go (server-side request forgery): a webhook is a request the server makes
//! to an address an admin typed, so it must not reach what only the server can reach — the
//! cloud's metadata service, the database, the admin ports of the private network.
//!
//! The rule, checked when an endpoint is registered and again on every delivery:
//! - `https://` only; `http://` for loopback hosts while the app itself runs on http
//!   (development, `APP_URL=http://…`);
//! - never to link-local addresses (169.254.0.0/16, fe80::/10: where cloud metadata lives),
//!   unspecified, multicast, broadcast or reserved ones;
//! - loopback (127.0.0.0/8, ::1, `localhost`) while the app runs on http, or when the admin
//!   setting allows private networks; private ranges (10/8, 172.16/12, 192.168/16, the
//!   100.64/10 carrier-grade NAT, fc00::/7) only with that setting.
//!
//! A host name is resolved by [`Guarded`], the webhook client's resolver, which hands the
//! connector only addresses the rule allows: what was checked is what is connected to (a name
//! that resolves elsewhere on the second lookup gains nothing). Redirects are not followed and
//! no proxy is used, so neither can lead the request anywhere else.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// What the rule allows besides public addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub loopback: bool,
    pub private: bool,
}

impl Policy {
    /// The policy of an app at `app_url`, with the admin's setting.
    pub fn new(app_url: &Url, private_networks: bool) -> Self {
        Self {
            loopback: app_url.scheme() == "http" || private_networks,
            private: private_networks,
        }
    }

    /// Why the rule refuses `ip`, if it does.
    pub fn refuses(&self, ip: IpAddr) -> Option<String> {
        let class = classify(ip);
        let allowed = match class {
            Class::Public => true,
            Class::Loopback => self.loopback,
            Class::Private => self.private,
            Class::LinkLocal | Class::Reserved => false,
        };
        (!allowed).then(|| class.refusal(ip))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Public,
    Loopback,
    Private,
    LinkLocal,
    Reserved,
}

impl Class {
    fn refusal(self, ip: IpAddr) -> String {
        match self {
            Self::Public => String::new(),
            Self::Loopback => format!(
                "{ip} is a loopback address: webhooks go there only when private networks are allowed (Integrations)."
            ),
            Self::Private => format!(
                "{ip} is a private network address: webhooks go there only when private networks are allowed (Integrations)."
            ),
            Self::LinkLocal => format!(
                "{ip} is a link-local address (where cloud metadata services answer): webhooks are never sent there."
            ),
            Self::Reserved => {
                format!("{ip} is not a public address: webhooks are never sent there.")
            }
        }
    }
}

fn classify(ip: IpAddr) -> Class {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Class {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Class::Loopback
    } else if ip.is_link_local() {
        Class::LinkLocal
    } else if ip.is_private()
        // Carrier-grade NAT (100.64.0.0/10) and benchmarking (198.18.0.0/15) networks.
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
    {
        Class::Private
    } else if ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        // IETF protocol assignments (192.0.0.0/24).
        || (a, b, c) == (192, 0, 0)
    {
        Class::Reserved
    } else {
        Class::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> Class {
    let s = ip.segments();
    // The IPv4 address inside, where the IPv6 one carries one to it: IPv4-mapped
    // (::ffff:0:0/96), IPv4-compatible (::/96, not :: and ::1), NAT64 (64:ff9b::/96), 6to4
    // (2002::/16). Each is judged as that IPv4 address.
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if s[..6] == [0; 6] && !ip.is_unspecified() && !ip.is_loopback() {
        return classify_v4(embedded(s[6], s[7]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return classify_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return classify_v4(embedded(s[1], s[2]));
    }
    let first = s[0];
    if ip.is_loopback() {
        Class::Loopback
    } else if first & 0xffc0 == 0xfe80 {
        Class::LinkLocal
    } else if first & 0xfe00 == 0xfc00
        // Site-local (fec0::/10, deprecated) and local-use NAT64 (64:ff9b:1::/48).
        || first & 0xffc0 == 0xfec0
        || s[..3] == [0x64, 0xff9b, 1]
    {
        Class::Private
    } else if ip.is_unspecified()
        || ip.is_multicast()
        // Discard-only (100::/64), Teredo (2001::/32, an IPv4 address hidden inside),
        // documentation (2001:db8::/32, 3fff::/20).
        || s[..4] == [0x100, 0, 0, 0]
        || s[..2] == [0x2001, 0]
        || s[..2] == [0x2001, 0xdb8]
        || first & 0xfff0 == 0x3ff0
    {
        Class::Reserved
    } else {
        Class::Public
    }
}

fn is_localhost(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Checks what can be checked without a lookup: the scheme, credentials, and a host that is an
/// address. Returns the URL parsed.
pub fn check_url(raw: &str, policy: Policy, app_url: &Url) -> Result<Url, String> {
    let url = Url::parse(raw.trim())
        .map_err(|_| "Enter the endpoint's full address, starting with https://.".to_string())?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "Leave credentials out of the address: each delivery is signed instead.".into(),
        );
    }
    let loopback_host = match url.host() {
        None => return Err("The address has no host.".into()),
        Some(Host::Domain(name)) => is_localhost(name),
        Some(Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip), policy)?,
        Some(Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip), policy)?,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback_host && app_url.scheme() == "http" => {}
        "http" => {
            return Err(
                "Use an https:// address (http:// is allowed only for this machine while the app runs on http)."
                    .into(),
            );
        }
        _ => return Err("Use an https:// address.".into()),
    }
    if loopback_host && !policy.loopback {
        return Err(format!(
            "{} is this machine: webhooks go there only when private networks are allowed (Integrations).",
            url.host_str().unwrap_or_default()
        ));
    }
    Ok(url)
}

/// Whether `ip` is loopback, once the rule allows it.
fn check_ip(ip: IpAddr, policy: Policy) -> Result<bool, String> {
    match policy.refuses(ip) {
        Some(why) => Err(why),
        None => Ok(classify(ip) == Class::Loopback),
    }
}

/// Resolves the URL's host name (if it is one) the way a delivery will, and refuses it when
/// none of its addresses is allowed, or it does not resolve.
pub async fn check_resolves(url: &Url, policy: Policy) -> Result<(), String> {
    let Some(Host::Domain(name)) = url.host() else {
        return Ok(());
    };
    allowed_addresses(name, policy).await.map(|_| ())
}

/// The addresses of `name` the rule allows, or why there are none.
async fn allowed_addresses(name: &str, policy: Policy) -> Result<Vec<SocketAddr>, String> {
    let looked_up =
        tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((name, 0)))
            .await
            .map_err(|_| format!("Looking up {name} took too long."))?
            .map_err(|e| format!("{name} could not be found ({e})."))?;
    let mut refusal = None;
    let allowed: Vec<SocketAddr> = looked_up
        .filter(|a| match policy.refuses(a.ip()) {
            None => true,
            Some(why) => {
                refusal.get_or_insert(why);
                false
            }
        })
        .collect();
    if allowed.is_empty() {
        return Err(refusal
            .map(|why| format!("{name} resolves to {why}"))
            .unwrap_or_else(|| format!("{name} has no address.")));
    }
    Ok(allowed)
}

/// The webhook client's resolver: only addresses the policy allows reach the connector.
pub struct Guarded(pub Policy);

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0;
        let name = name.as_str().to_string();
        Box::pin(async move {
            let addrs = allowed_addresses(&name, policy).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(url: &str) -> Url {
        Url::parse(url).unwrap()
    }

    #[test]
    fn addresses_are_classed() {
        let strict = Policy::new(&app("https://portal.example.com"), false);
        for refused in [
            "169.254.169.254",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "100.64.0.1",
            "127.0.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "::",
            // IPv4 inside IPv6: NAT64, IPv4-compatible, 6to4.
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::a00:1",
            "::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "2002:7f00:1::",
            "64:ff9b:1::1",
            "fec0::1",
            "2001:db8::1",
            "2001:0:4136:e378::1",
            "100::1",
            "192.0.0.8",
            "192.0.2.10",
            "198.51.100.7",
        ] {
            assert!(
                strict.refuses(refused.parse().unwrap()).is_some(),
                "{refused} passed"
            );
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "172.32.0.1",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(strict.refuses(public.parse().unwrap()), None, "{public}");
        }
        let open = Policy::new(&app("https://portal.example.com"), true);
        assert_eq!(open.refuses("10.0.0.1".parse().unwrap()), None);
        assert_eq!(open.refuses("127.0.0.1".parse().unwrap()), None);
        // Link-local is never allowed: the metadata service lives there.
        assert!(open.refuses("169.254.169.254".parse().unwrap()).is_some());
        // An app on http (development) may call this machine, still not the private network.
        let dev = Policy::new(&app("http://localhost:8080"), false);
        assert_eq!(dev.refuses("127.0.0.1".parse().unwrap()), None);
        assert!(dev.refuses("10.0.0.1".parse().unwrap()).is_some());
    }

    #[test]
    fn urls_are_checked_for_scheme_credentials_and_address() {
        let prod = app("https://portal.example.com");
        let strict = Policy::new(&prod, false);
        assert!(check_url("https://hooks.example.com/in", strict, &prod).is_ok());
        assert!(
            check_url("http://hooks.example.com/in", strict, &prod)
                .unwrap_err()
                .contains("https://")
        );
        assert!(
            check_url("https://user:pw@hooks.example.com/", strict, &prod)
                .unwrap_err()
                .contains("credentials")
        );
        assert!(
            check_url("http://169.254.169.254/", strict, &prod)
                .unwrap_err()
                .contains("link-local")
        );
        assert!(
            check_url("https://[fd00::1]/", strict, &prod)
                .unwrap_err()
                .contains("private")
        );
        assert!(
            check_url("https://localhost/", strict, &prod)
                .unwrap_err()
                .contains("this machine")
        );
        assert!(check_url("ftp://hooks.example.com/", strict, &prod).is_err());
        assert!(check_url("not a url", strict, &prod).is_err());
        let dev = app("http://127.0.0.1:8080");
        let local = Policy::new(&dev, false);
        assert!(check_url("http://127.0.0.1:9000/hook", local, &dev).is_ok());
        assert!(check_url("http://localhost:9000/hook", local, &dev).is_ok());
        assert!(check_url("http://10.0.0.1/", local, &dev).is_err());
    }

    #[tokio::test]
    async fn the_resolver_hands_over_allowed_addresses_only() {
        let strict = Policy::new(&app("https://portal.example.com"), false);
        let refused = allowed_addresses("localhost", strict).await.unwrap_err();
        assert!(refused.contains("loopback"), "{refused}");
        let dev = Policy::new(&app("http://localhost"), false);
        let addrs = allowed_addresses("localhost", dev).await.unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}
