//! Which IP addresses are not on the public internet, and why.
//!
//! The tables follow the IANA IPv4 and IPv6 special-purpose address registries (RFC 6890 and
//! its updates). An address in none of them is public and [`classify`] returns `None` for it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

/// Why an address is not a public internet address.
///
/// [`OutboundPolicy`](crate::OutboundPolicy) refuses every class by default;
/// `allow_loopback` admits [`Loopback`](Self::Loopback), `allow_private` admits
/// [`Private`](Self::Private), [`SharedCgnat`](Self::SharedCgnat) and
/// [`UniqueLocal`](Self::UniqueLocal), and `allowed_hosts` admits any address it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressClass {
    /// `0.0.0.0/8` and `::`: "this host"; Linux connects them to the local machine.
    Unspecified,
    /// `127.0.0.0/8` and `::1`: the machine psi runs on, with its admin ports and databases.
    Loopback,
    /// `10/8`, `172.16/12`, `192.168/16` (RFC 1918) and `64:ff9b:1::/48` (local NAT64):
    /// the operator's internal network.
    Private,
    /// `100.64.0.0/10` (RFC 6598): carrier-grade NAT, also used by overlay VPNs such as Tailscale.
    SharedCgnat,
    /// `fc00::/7` (RFC 4193): IPv6's private networks.
    UniqueLocal,
    /// `169.254.0.0/16` and `fe80::/10`: one network segment; home of cloud metadata services
    /// (`169.254.169.254`) that hand out credentials.
    LinkLocal,
    /// `224.0.0.0/4` and `ff00::/8`: group addresses, never a web server.
    Multicast,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`: examples
    /// in documentation, never deployed.
    Documentation,
    /// `198.18.0.0/15` and `2001:2::/48`: benchmarking networks, not routed on the internet.
    Benchmarking,
    /// Everything else not routed on the internet: `192.0.0.0/24`, `240.0.0.0/4` (with the
    /// broadcast address), and IPv6 outside `2000::/3` such as `100::/64` and the deprecated
    /// site-local and IPv4-compatible ranges.
    Reserved,
}

impl AddressClass {
    /// A stable snake_case name for logs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::SharedCgnat => "shared_cgnat",
            Self::UniqueLocal => "unique_local",
            Self::LinkLocal => "link_local",
            Self::Multicast => "multicast",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::Reserved => "reserved",
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::SharedCgnat => "shared (CGNAT)",
            Self::UniqueLocal => "unique-local",
            Self::LinkLocal => "link-local",
            Self::Multicast => "multicast",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::Reserved => "reserved",
        })
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(segments: [u16; 8], prefix: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), prefix)
}

use AddressClass::*;

const V4_RANGES: [(Ipv4Net, AddressClass); 14] = [
    (v4(0, 0, 0, 0, 8), Unspecified),
    (v4(10, 0, 0, 0, 8), Private),
    (v4(100, 64, 0, 0, 10), SharedCgnat),
    (v4(127, 0, 0, 0, 8), Loopback),
    (v4(169, 254, 0, 0, 16), LinkLocal),
    (v4(172, 16, 0, 0, 12), Private),
    (v4(192, 0, 0, 0, 24), Reserved),
    (v4(192, 0, 2, 0, 24), Documentation),
    (v4(192, 168, 0, 0, 16), Private),
    (v4(198, 18, 0, 0, 15), Benchmarking),
    (v4(198, 51, 100, 0, 24), Documentation),
    (v4(203, 0, 113, 0, 24), Documentation),
    (v4(224, 0, 0, 0, 4), Multicast),
    (v4(240, 0, 0, 0, 4), Reserved),
];

/// The only IPv6 range assigned for global unicast; everything outside it (after the ranges
/// below and the embedded IPv4 forms) is reserved.
const GLOBAL_UNICAST: Ipv6Net = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);

const V6_RANGES: [(Ipv6Net, AddressClass); 10] = [
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 128), Unspecified),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), Loopback),
    (v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), Private),
    (v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48), Benchmarking),
    (v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), Documentation),
    (v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), Documentation),
    (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), UniqueLocal),
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), LinkLocal),
    (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), Reserved),
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), Multicast),
];

/// IPv6 prefixes whose addresses carry an IPv4 address that the packets end up at.
const IPV4_MAPPED: Ipv6Net = v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96);
const NAT64: Ipv6Net = v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
const SIX_TO_FOUR: Ipv6Net = v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16);

/// Why `ip` is not a public internet address, or `None` when it is one.
///
/// IPv6 addresses that carry an IPv4 address are judged by that address: IPv4-mapped
/// (`::ffff:127.0.0.1` reaches 127.0.0.1 through a dual-stack socket), NAT64 (`64:ff9b::/96`)
/// and 6to4 (`2002::/16`).
///
/// ```
/// use psi_outbound::{classify, AddressClass};
///
/// assert_eq!(classify("169.254.169.254".parse()?), Some(AddressClass::LinkLocal));
/// assert_eq!(classify("::ffff:127.0.0.1".parse()?), Some(AddressClass::Loopback));
/// assert_eq!(classify("93.184.215.14".parse()?), None);
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub fn classify(ip: IpAddr) -> Option<AddressClass> {
    match ip {
        IpAddr::V4(ip) => classify_v4(ip),
        IpAddr::V6(ip) => match embedded_ipv4(ip) {
            Some(inner) => classify_v4(inner),
            None => classify_v6(ip),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    V4_RANGES
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|&(_, class)| class)
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    match V6_RANGES.iter().find(|(net, _)| net.contains(&ip)) {
        Some(&(_, class)) => Some(class),
        None if GLOBAL_UNICAST.contains(&ip) => None,
        None => Some(Reserved),
    }
}

/// The IPv4 address an IPv6 address leads to, for the forms that embed one.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = ip.to_bits();
    if IPV4_MAPPED.contains(&ip) || NAT64.contains(&ip) {
        Some(Ipv4Addr::from_bits(bits as u32)) // the low 32 bits
    } else if SIX_TO_FOUR.contains(&ip) {
        Some(Ipv4Addr::from_bits((bits >> 80) as u32)) // bits 16..48
    } else {
        None
    }
}

/// The address a socket really talks to: an IPv4-mapped IPv6 address is its IPv4 address.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(ip: &str) -> Option<AddressClass> {
        classify(ip.parse().unwrap())
    }

    #[test]
    fn each_special_ipv4_range_has_its_class() {
        let cases = [
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("10.0.0.1", Private),
            ("10.255.255.255", Private),
            ("100.64.0.1", SharedCgnat),
            ("100.127.255.254", SharedCgnat),
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("169.254.169.254", LinkLocal),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.0.0.170", Reserved),
            ("192.0.2.1", Documentation),
            ("192.168.1.1", Private),
            ("198.18.0.1", Benchmarking),
            ("198.19.255.255", Benchmarking),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("224.0.0.251", Multicast),
            ("239.255.255.250", Multicast),
            ("240.0.0.1", Reserved),
            ("255.255.255.255", Reserved),
        ];
        for (ip, expected) in cases {
            assert_eq!(class(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn public_addresses_next_to_special_ranges_are_public() {
        for ip in [
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.3.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2001:4860:4860::8888",
            "2a00:1450:4001::1",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(class(ip), None, "{ip}");
        }
    }

    #[test]
    fn each_special_ipv6_range_has_its_class() {
        let cases = [
            ("::", Unspecified),
            ("::1", Loopback),
            ("fc00::1", UniqueLocal),
            ("fd12:3456::1", UniqueLocal),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fec0::1", Reserved),
            ("ff02::1", Multicast),
            ("2001:db8::1", Documentation),
            ("3fff:fff::1", Documentation),
            ("2001:2::1", Benchmarking),
            ("64:ff9b:1::a00:1", Private),
            ("100::1", Reserved),
            ("::127.0.0.1", Reserved),
            ("4000::1", Reserved),
        ];
        for (ip, expected) in cases {
            assert_eq!(class(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn ipv6_forms_carrying_an_ipv4_address_are_judged_by_it() {
        let cases = [
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:10.1.2.3", Private),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:0.0.0.0", Unspecified),
            ("64:ff9b::127.0.0.1", Loopback),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
            ("2002:7f00:1::", Loopback),
            ("2002:c0a8:101::1", Private),
        ];
        for (ip, expected) in cases {
            assert_eq!(class(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn canonical_unwraps_only_ipv4_mapped_addresses() {
        let c = |s: &str| canonical(s.parse().unwrap()).to_string();
        assert_eq!(c("::ffff:127.0.0.1"), "127.0.0.1");
        assert_eq!(c("::1"), "::1");
        assert_eq!(c("64:ff9b::7f00:1"), "64:ff9b::7f00:1");
        assert_eq!(c("10.0.0.1"), "10.0.0.1");
    }
}
