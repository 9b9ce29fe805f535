//! Callbacks: delivering a stored submission's result to the URL its client named, and the
//! address rules that keep those deliveries from reaching what the server can reach and
//! the client cannot (SSRF: the cloud's metadata service, the cluster's own services).
//!
//! By default a callback may only go to a public address: loopback, private, link-local
//! (where the metadata services live), carrier-grade NAT, multicast, reserved and
//! documentation ranges are refused, IPv4 inside IPv6 (mapped, NAT64) included. An
//! operator widens that with allowed CIDRs (`--callback-allow`). The rules hold when the
//! submission is made (a refused URL is a `400` naming the rule) and again at each delivery,
//! where the host name is resolved anew and only allowed addresses are dialled (so a name
//! that changes to a private address by then is not followed), redirects are not followed
//! and no proxy is used.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use crate::error::ApiError;

/// Where callbacks may go.
#[derive(Clone, Debug, Default)]
pub struct CallbackRules {
    allow: Vec<IpNet>,
}

/// Ranges refused by default, each with the rule a refusal names.
const REFUSED: &[(&str, &str)] = &[
    ("0.0.0.0/8", "\"this network\" addresses"),
    ("10.0.0.0/8", "private addresses"),
    ("100.64.0.0/10", "carrier-grade NAT addresses"),
    ("127.0.0.0/8", "loopback addresses"),
    (
        "169.254.0.0/16",
        "link-local addresses (cloud metadata services)",
    ),
    ("172.16.0.0/12", "private addresses"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation addresses"),
    ("192.168.0.0/16", "private addresses"),
    ("198.18.0.0/15", "benchmarking addresses"),
    ("198.51.100.0/24", "documentation addresses"),
    ("203.0.113.0/24", "documentation addresses"),
    ("224.0.0.0/4", "multicast addresses"),
    ("240.0.0.0/4", "reserved addresses"),
    ("::/128", "the unspecified address"),
    ("::1/128", "loopback addresses"),
    ("100::/64", "discard addresses"),
    ("2001:db8::/32", "documentation addresses"),
    (
        "fc00::/7",
        "unique local addresses (private; cloud metadata services)",
    ),
    (
        "fe80::/10",
        "link-local addresses (cloud metadata services)",
    ),
    ("ff00::/8", "multicast addresses"),
];

impl CallbackRules {
    /// The default rules, widened by `allow`.
    pub fn new(allow: Vec<IpNet>) -> CallbackRules {
        CallbackRules { allow }
    }

    /// The rule refusing a callback to `ip`, if one does.
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        if self.allow.iter().any(|net| net.contains(&ip)) {
            return None;
        }
        // An IPv4 address inside an IPv6 one reaches the IPv4 host.
        if let IpAddr::V6(v6) = ip {
            if let Some(v4) = embedded_v4(v6) {
                return self.refusal(IpAddr::V4(v4));
            }
        }
        REFUSED.iter().find_map(|(net, rule)| {
            let net: IpNet = net.parse().expect("the refused ranges are valid CIDRs");
            net.contains(&ip).then_some(*rule)
        })
    }

    /// Checks a callback URL when a submission names it: `http` or `https`, and every
    /// address its host has allowed.
    pub async fn check(&self, text: &str) -> Result<url::Url, ApiError> {
        let bad = |why: String| ApiError::BadRequest(format!("callback URL {text:?}: {why}"));
        if text.len() > 2048 {
            return Err(bad("longer than 2048 bytes".into()));
        }
        let url = url::Url::parse(text).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("only http and https callbacks are delivered".into()));
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let addresses: Vec<IpAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
            Some(url::Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
            Some(url::Host::Domain(name)) => tokio::net::lookup_host((name, port))
                .await
                .map_err(|e| bad(format!("the host does not resolve: {e}")))?
                .map(|address| address.ip())
                .collect(),
            None => return Err(bad("no host".into())),
        };
        for ip in addresses {
            if let Some(rule) = self.refusal(ip) {
                return Err(bad(format!(
                    "{ip} is refused: callbacks may not go to {rule} (an operator allows \
                     ranges with --callback-allow CIDR)"
                )));
            }
        }
        Ok(url)
    }

    /// The HTTP client deliveries use: it dials only allowed addresses, follows no
    /// redirect, uses no proxy.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .dns_resolver(Arc::new(Resolver(self.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("judgelet/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with these settings builds")
    }
}

/// The IPv4 address an IPv4-mapped (`::ffff:a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`) address
/// reaches.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let [a, b, c, d, e, f, _, _] = ip.segments();
    let octets = ip.octets();
    ([a, b, c, d, e, f] == [0x64, 0xff9b, 0, 0, 0, 0])
        .then(|| Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]))
}

/// Resolves a delivery's host name, keeping only the addresses the rules allow.
struct Resolver(CallbackRules);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let rules = self.0.clone();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = resolved
                .filter(|address| rules.refusal(address.ip()).is_none())
                .collect();
            if allowed.is_empty() {
                return Err(format!("{} resolves only to refused addresses", name.as_str()).into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// How to deliver one result: what the submission's front door sends.
pub struct Message {
    pub method: reqwest::Method,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// Delivers a message once. `Err` says why it failed.
pub async fn deliver(
    client: &reqwest::Client,
    rules: &CallbackRules,
    url: &str,
    message: Message,
) -> Result<(), String> {
    let url = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    // A literal address is dialled without resolving: the rules are checked here.
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        _ => None,
    };
    if let Some(rule) = literal.and_then(|ip| rules.refusal(ip)) {
        return Err(format!("callbacks may not go to {rule}"));
    }
    let mut request = client
        .request(message.method, url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(message.body);
    for (name, value) in message.headers {
        request = request.header(name, value);
    }
    match request.send().await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("HTTP {}", response.status().as_u16())),
        Err(e) => Err(error_chain(&e)),
    }
}

/// An error and its causes, which is where reqwest says what failed.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_by_default() {
        let rules = CallbackRules::default();
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(rules.refusal(ip(refused)).is_some(), "{refused} allowed");
        }
        for allowed in [
            "1.1.1.1",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(rules.refusal(ip(allowed)), None, "{allowed} refused");
        }
        assert_eq!(
            rules.refusal(ip("169.254.169.254")),
            Some("link-local addresses (cloud metadata services)")
        );
    }

    #[test]
    fn an_operator_widens_the_rules() {
        let rules = CallbackRules::new(vec!["127.0.0.0/8".parse().unwrap()]);
        assert_eq!(rules.refusal(ip("127.0.0.1")), None);
        assert_eq!(rules.refusal(ip("::ffff:127.0.0.1")), None);
        assert!(rules.refusal(ip("10.0.0.1")).is_some());
    }

    #[tokio::test]
    async fn urls_are_checked_when_submitted() {
        let rules = CallbackRules::default();
        let refused = |url: &'static str| {
            let rules = rules.clone();
            async move { rules.check(url).await.unwrap_err().to_string() }
        };
        assert!(refused("http://127.0.0.1:9/x").await.contains("loopback"));
        assert!(refused("http://localhost:9/x").await.contains("loopback"));
        assert!(refused("http://[::ffff:10.0.0.1]/")
            .await
            .contains("private"));
        assert!(refused("http://169.254.169.254/latest/meta-data")
            .await
            .contains("metadata"));
        assert!(refused("ftp://example.com/")
            .await
            .contains("only http and https"));
        assert!(refused("not a url").await.contains("callback URL"));
        assert!(
            refused("http://0x7f000001/").await.contains("loopback"),
            "hex is still loopback"
        );
        assert!(rules.check("https://1.1.1.1/hook").await.is_ok());
    }
}
