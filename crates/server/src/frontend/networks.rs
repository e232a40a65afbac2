//! Sets of client networks the configuration names: those whose REGISTERs need no
//! authentication (`auth.trusted_networks`), and those whose users are outside
//! (`manage.external_networks`).

use std::net::IpAddr;

use ipnet::IpNet;

/// Configured networks, as [`crate::config::Config::trusted_networks`] and
/// [`crate::config::Config::external_networks`] parse them.
#[derive(Debug, Clone, Default)]
pub struct Networks(Vec<IpNet>);

impl Networks {
    pub fn new(networks: Vec<IpNet>) -> Networks {
        Networks(networks)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 peer may arrive as an IPv4-mapped IPv6 address on a dual-stack socket.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_network;

    fn trusted(list: &[&str]) -> Networks {
        Networks::new(list.iter().map(|n| parse_network(n).unwrap()).collect())
    }

    #[test]
    fn networks_contain_their_addresses() {
        let loopback = trusted(&["127.0.0.0/8"]);
        assert!(loopback.contains("127.1.2.3".parse().unwrap()));
        assert!(loopback.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!loopback.contains("128.0.0.1".parse().unwrap()));
        let host = trusted(&["::1"]);
        assert!(host.contains("::1".parse().unwrap()));
        assert!(!host.contains("::2".parse().unwrap()));
        assert!(trusted(&["0.0.0.0/0"]).contains("8.8.8.8".parse().unwrap()));
        assert!(!Networks::default().contains("127.0.0.1".parse().unwrap()));
    }
}
