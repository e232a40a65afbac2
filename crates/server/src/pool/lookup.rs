//! The lookup: which node's channel URI `cmd:requri` hands out, chosen per client.
//!
//! Each heartbeat round gives the lookup the registry's rows as just read. Of those, only
//! the nodes whose last heartbeat is at most one and a half heartbeat intervals old are
//! handed out ([`fresh_before`]): a healthy node beats once an interval, so a row older
//! than that belongs to a node that has missed a beat, and most likely died. Waiting for
//! `pool.node_timeout_ms` instead, as the judgement of death does, would send clients to a
//! dead node for seconds. When no node is fresh (the store cannot be read, say) this node
//! hands out its own channel URI: it is alive, since it answers.
//!
//! The loads in the rows are as old as their heartbeats, so a burst of sign-ins between
//! two rounds would all go to the node that was least loaded at the round. The lookup
//! therefore counts the clients it has handed to each node since the round, and adds them
//! to that node's joined endpoints: a client asks for a channel to join rooms, so each is
//! at least one endpoint more there. Every node's own counts start again at each round,
//! when the rows carry what those clients did. Nodes exactly as loaded are chosen between
//! at random, so that the front ends of a pool, all reading the same rows, do not all
//! send their next client to the same node.

use std::sync::{Arc, Mutex};

use parlance_store::nodes::Node;
use rand::Rng;

use super::load::load_key;
use crate::config::PoolConfig;

/// The channel URI `cmd:requri` hands out, chosen among the fresh nodes of the last round.
#[derive(Debug)]
pub(crate) struct Lookup {
    /// This node's own channel URI, handed out when no other node is known fresh.
    own: Arc<str>,
    heartbeat_ms: i64,
    candidates: Mutex<Vec<Candidate>>,
}

/// A node that may be handed out, as of the last round.
#[derive(Debug)]
struct Candidate {
    node: Node,
    channel_uri: Arc<str>,
    /// Clients handed to it since the round.
    handed: u64,
}

/// The oldest heartbeat (unix milliseconds) of a node that may be handed out at `now`:
/// one and a half heartbeat intervals ago.
pub(crate) fn fresh_before(now: i64, heartbeat_ms: i64) -> i64 {
    now - heartbeat_ms.saturating_mul(3) / 2
}

impl Lookup {
    pub(crate) fn new(own_channel_uri: &str, config: &PoolConfig) -> Lookup {
        Lookup {
            own: own_channel_uri.into(),
            heartbeat_ms: i64::try_from(config.heartbeat_ms).unwrap_or(i64::MAX),
            candidates: Mutex::new(Vec::new()),
        }
    }

    /// A heartbeat round read `nodes` at `now`: the fresh ones are the candidates until
    /// the next round, each with no client handed to it yet.
    pub(crate) fn update(&self, nodes: &[Node], now: i64) {
        let fresh_before = fresh_before(now, self.heartbeat_ms);
        let candidates = nodes
            .iter()
            .filter(|n| n.is_live(fresh_before))
            .map(|n| Candidate {
                node: n.clone(),
                channel_uri: n.channel_uri.as_str().into(),
                handed: 0,
            })
            .collect();
        *self.candidates.lock().expect("lookup lock") = candidates;
    }

    /// The channel URI for one more client: the least loaded candidate, counting the
    /// clients handed to each since the round, and the client is counted to it.
    pub(crate) fn hand_out(&self) -> Arc<str> {
        let mut candidates = self.candidates.lock().expect("lookup lock");
        let key = |c: &Candidate| {
            let (joined, connections, cpu) = load_key(&c.node.load);
            (joined.saturating_add(c.handed), connections, cpu)
        };
        let Some(least) = candidates.iter().map(key).min() else {
            return self.own.clone();
        };
        let tied: Vec<usize> = (0..candidates.len())
            .filter(|&i| key(&candidates[i]) == least)
            .collect();
        let chosen = &mut candidates[tied[rand::rng().random_range(0..tied.len())]];
        chosen.handed += 1;
        chosen.channel_uri.clone()
    }
}

impl parlance_chat::Lookup for Lookup {
    fn hand_out(&self) -> Arc<str> {
        Lookup::hand_out(self)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use parlance_store::nodes::Load;

    use super::*;

    fn node(id: &str, heartbeat_at: i64, joined: u64, connections: u64, cpu: u64) -> Node {
        Node {
            id: id.into(),
            channel_uri: format!("sip:{id}@example.com"),
            sip_address: String::new(),
            https_address: String::new(),
            started_at: 0,
            heartbeat_at,
            load: Load {
                connections,
                joined,
                cpu_permille: cpu,
                queued_bytes: 0,
            },
        }
    }

    fn lookup() -> Lookup {
        Lookup::new(
            "sip:own@example.com",
            &PoolConfig {
                heartbeat_ms: 1000,
                ..PoolConfig::default()
            },
        )
    }

    /// How many of `n` clients each channel URI is handed.
    fn spread(lookup: &Lookup, n: usize) -> BTreeMap<String, usize> {
        let mut handed = BTreeMap::new();
        for _ in 0..n {
            *handed.entry(lookup.hand_out().to_string()).or_default() += 1;
        }
        handed
    }

    #[test]
    fn joined_endpoints_then_connections_then_cpu_choose() {
        let pick = |nodes: &[Node]| {
            let l = lookup();
            l.update(nodes, 10_000);
            l.hand_out().to_string()
        };
        assert_eq!(pick(&[]), "sip:own@example.com", "none known: itself");
        let fewer_joined = [node("a", 10_000, 10, 5, 100), node("b", 10_000, 9, 50, 900)];
        assert_eq!(pick(&fewer_joined), "sip:b@example.com");
        let fewer_connections = [node("a", 10_000, 10, 5, 900), node("b", 10_000, 10, 6, 100)];
        assert_eq!(pick(&fewer_connections), "sip:a@example.com");
        let less_cpu = [node("a", 10_000, 10, 5, 300), node("b", 10_000, 10, 5, 200)];
        assert_eq!(pick(&less_cpu), "sip:b@example.com");
    }

    #[test]
    fn a_node_that_missed_a_beat_is_not_handed_out() {
        let l = lookup();
        // b is the less loaded, but its heartbeat is 1.6 intervals old.
        l.update(
            &[node("a", 10_000, 5, 5, 5), node("b", 8_400, 0, 0, 0)],
            10_000,
        );
        assert_eq!(
            spread(&l, 3),
            BTreeMap::from([("sip:a@example.com".into(), 3)])
        );
        // At 1.5 intervals it still is.
        l.update(
            &[node("a", 10_000, 5, 5, 5), node("b", 8_500, 0, 0, 0)],
            10_000,
        );
        assert_eq!(l.hand_out().as_ref(), "sip:b@example.com");
        // Nobody fresh: this node itself.
        l.update(&[node("a", 1_000, 0, 0, 0)], 10_000);
        assert_eq!(l.hand_out().as_ref(), "sip:own@example.com");
    }

    #[test]
    fn a_burst_between_two_rounds_spreads_by_load() {
        let l = lookup();
        // a is 4 joined endpoints ahead: the first 4 clients go to b, then one each.
        l.update(
            &[node("a", 10_000, 4, 0, 0), node("b", 10_000, 0, 0, 0)],
            10_000,
        );
        let first: Vec<String> = (0..4).map(|_| l.hand_out().to_string()).collect();
        assert_eq!(first, ["sip:b@example.com"; 4]);
        assert_eq!(
            spread(&l, 10),
            BTreeMap::from([
                ("sip:a@example.com".into(), 5),
                ("sip:b@example.com".into(), 5)
            ])
        );
        // The next round starts the counts again.
        l.update(
            &[node("a", 11_000, 9, 0, 0), node("b", 11_000, 0, 0, 0)],
            11_000,
        );
        assert_eq!(l.hand_out().as_ref(), "sip:b@example.com");
    }

    #[test]
    fn equal_nodes_are_chosen_at_random() {
        // Many lookups, as the front ends of a pool, each choosing once between equals:
        // not every one chooses the same node.
        let nodes = [node("a", 10_000, 1, 1, 1), node("b", 10_000, 1, 1, 1)];
        let mut chosen = BTreeMap::new();
        for _ in 0..64 {
            let l = lookup();
            l.update(&nodes, 10_000);
            *chosen.entry(l.hand_out().to_string()).or_insert(0) += 1;
        }
        assert_eq!(chosen.len(), 2, "{chosen:?}");
    }
}
