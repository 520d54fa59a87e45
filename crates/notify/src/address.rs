//! Which addresses an outgoing request (a webhook delivery) may reach: public ones only, unless
//! the deployment allows a network (a Land network's own addresses, the tests' loopback). A
//! request resolves the host once and connects to an address this policy allowed, so a name that
//! resolves to an internal address cannot smuggle a request there (server-side request forgery).

use std::net::IpAddr;

/// A network allowed in spite of the rule (`10.0.0.0/8`, `127.0.0.1/32`, `fd00::/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    pub address: IpAddr,
    pub prefix: u8,
}

impl std::str::FromStr for Network {
    type Err = String;
    fn from_str(text: &str) -> Result<Network, String> {
        let (address, prefix) = text.split_once('/').unwrap_or((text, ""));
        let address: IpAddr = address.trim().parse().map_err(|_| format!("{text:?}: keine IP-Adresse"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix.is_empty() {
            max
        } else {
            prefix
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: Präfix 0 bis {max}"))?
        };
        Ok(Network { address, prefix })
    }
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Why an address is not public, in German; `None` for a public one.
pub fn not_public(ip: IpAddr) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("eine Loopback-Adresse")
            } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
                Some("eine private Adresse")
            } else if v4.is_link_local() {
                Some("eine Link-Local-Adresse")
            } else if v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() || a == 0 {
                Some("keine Adresse eines Servers")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("eine Loopback-Adresse")
            } else if first & 0xfe00 == 0xfc00 {
                Some("eine private Adresse")
            } else if first & 0xffc0 == 0xfe80 {
                Some("eine Link-Local-Adresse")
            } else if v6.is_unspecified() || v6.is_multicast() {
                Some("keine Adresse eines Servers")
            } else {
                None
            }
        }
    }
}

/// Whether a request may go to `ip`: public, or in one of the `allowed` networks. The refusal
/// says why, in German.
pub fn check(ip: IpAddr, allowed: &[Network]) -> Result<(), String> {
    match not_public(ip) {
        Some(why) if !allowed.iter().any(|n| n.contains(ip)) => Err(format!(
            "{ip} ist {why}; Webhooks gehen nur an öffentliche Adressen oder an Netze, die der Server erlaubt."
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_unless_their_network_is_allowed() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(check(ip(internal), &[]).is_err(), "{internal}");
        }
        for public in ["93.184.216.34", "2a00:1450:4001:80b::200e", "172.32.0.1", "100.128.0.1"] {
            assert!(check(ip(public), &[]).is_ok(), "{public}");
        }
        let lvn: Network = "10.0.0.0/8".parse().expect("net");
        assert!(check(ip("10.1.2.3"), &[lvn]).is_ok());
        assert!(check(ip("192.168.1.1"), &[lvn]).is_err());
        let loopback: Network = "127.0.0.1".parse().expect("net");
        assert!(check(ip("127.0.0.1"), &[loopback]).is_ok());
        assert!(check(ip("127.0.0.2"), &[loopback]).is_err(), "a /32 only");
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!(check(ip("169.254.169.254"), &[]).expect_err("metadata").contains("Link-Local"));
    }
}
