//! The servers a client may sign in to, and the order it tries them in. A pool is given as
//! several `HOST:PORT`s, or as one name with several addresses; each address is one
//! candidate. The first sign-in follows the order given (an operator's preference); after a
//! lost connection the candidates are shuffled, so that the clients of a node that died
//! spread over the others instead of all landing on the next one, and the address that was
//! lost goes last: it is the one most likely still down.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use rand::Rng;
use rand::seq::SliceRandom;

use crate::config::ServerAddr;
use crate::dial;
use crate::error::ClientError;

/// The configured servers, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Servers {
    names: Vec<ServerAddr>,
}

/// One address of one server: where to dial, and the name TLS checks the certificate
/// against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub name: ServerAddr,
    pub addr: SocketAddr,
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name.at(self.addr))
    }
}

impl Servers {
    pub fn parse(servers: &[String], default_port: u16) -> Result<Servers, ClientError> {
        if servers.is_empty() {
            return Err(ClientError::Config("no server is given".into()));
        }
        let names = servers
            .iter()
            .map(|s| ServerAddr::parse(s, default_port))
            .collect::<Result<_, _>>()?;
        Ok(Servers { names })
    }

    /// Every address of every server, in the order given, each once; those of `from`'s
    /// family when connecting from a given address. A name that does not resolve is left
    /// out; when none does, why the first did not.
    pub async fn resolve(&self, from: Option<IpAddr>) -> Result<Vec<Candidate>, ClientError> {
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut failure = None;
        for name in &self.names {
            match dial::resolve(name, from).await {
                Ok(addrs) => {
                    for addr in addrs {
                        if !candidates.iter().any(|c| c.addr == addr) {
                            candidates.push(Candidate {
                                name: name.clone(),
                                addr,
                            });
                        }
                    }
                }
                Err(e) => {
                    tracing::info!(server = %name, error = %e, "server name not resolved");
                    failure.get_or_insert(ClientError::Unreachable {
                        server: name.to_string(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        match failure {
            Some(error) if candidates.is_empty() => Err(error),
            _ => Ok(candidates),
        }
    }
}

/// The order to try `candidates` in after losing the connection to `lost`: shuffled, with
/// `lost` last.
pub(crate) fn failover_order<T: PartialEq>(
    mut candidates: Vec<T>,
    lost: &T,
    rng: &mut impl Rng,
) -> Vec<T> {
    candidates.shuffle(rng);
    if let Some(i) = candidates.iter().position(|c| c == lost) {
        let lost = candidates.remove(i);
        candidates.push(lost);
    }
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    proptest! {
        #[test]
        fn failover_tries_every_server_once_and_the_lost_one_last(
            n in 1usize..12,
            lost in 0usize..16,
            seed: u64,
        ) {
            let candidates: Vec<usize> = (0..n).collect();
            let order = failover_order(candidates, &lost, &mut StdRng::seed_from_u64(seed));
            let mut sorted = order.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sorted, (0..n).collect::<Vec<_>>());
            if lost < n {
                prop_assert_eq!(order.last(), Some(&lost));
            }
        }
    }

    #[test]
    fn failover_spreads_clients_over_the_others() {
        let mut rng = StdRng::seed_from_u64(7);
        let firsts: std::collections::BTreeSet<u32> = (0..64)
            .map(|_| failover_order(vec![1, 2, 3, 4], &1, &mut rng)[0])
            .collect();
        assert_eq!(firsts.into_iter().collect::<Vec<_>>(), [2, 3, 4]);
    }

    #[tokio::test]
    async fn every_address_is_a_candidate_once_in_the_order_given() {
        let servers = Servers::parse(
            &[
                "127.0.0.2:7000".into(),
                "127.0.0.1".into(),
                "127.0.0.2:7000".into(),
            ],
            5061,
        )
        .unwrap();
        let found = servers.resolve(None).await.unwrap();
        let addrs: Vec<String> = found.iter().map(|c| c.addr.to_string()).collect();
        assert_eq!(addrs, ["127.0.0.2:7000", "127.0.0.1:5061"]);
        assert_eq!(found[1].to_string(), "127.0.0.1:5061");
        let v6 = Servers::parse(&["[::1]:7000".into()], 5061).unwrap();
        assert!(
            v6.resolve(Some("127.0.0.1".parse().unwrap()))
                .await
                .is_err(),
            "no address of the family connected from"
        );
        assert!(matches!(
            Servers::parse(&[], 5061),
            Err(ClientError::Config(_))
        ));
    }
}
