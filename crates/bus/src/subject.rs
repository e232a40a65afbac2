//! The NATS subjects of one installation (its domain): `parlance.<domain>.room.<room id>` for
//! a room's events and `parlance.<domain>.node.<node id>` for a node's roster traffic.
//!
//! Every node subscribes to the whole installation (`parlance.<domain>.>`), once, rather than
//! to the rooms it has sessions in. A node must learn every room's joins and parts anyway —
//! a session joining later is listed who is present on the other nodes — so interest per
//! room would save only posts, and at the original's design point (33,077 rooms, 24 posts/s,
//! four nodes) that is a hundred small messages a second per node, against tens of
//! thousands of subscriptions changing with every first join and last part. One
//! subscription also keeps everything one node sends in the order it was sent, which the
//! roster answers rely on. The per-room subjects still let an operator watch one room
//! (`nats sub 'parlance.<domain>.room.<id>'`).

/// The subjects for one domain.
#[derive(Debug, Clone)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    /// A domain's dots would be token separators: `a.b` would then be inside the wildcard
    /// of a domain `a` sharing the NATS server. So the domain is one token, with anything
    /// but letters, digits and `-` written `_`.
    pub fn new(domain: &str) -> Subjects {
        let token: String = domain
            .chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '-' => c.to_ascii_lowercase(),
                _ => '_',
            })
            .collect();
        Subjects {
            prefix: format!("parlance.{token}"),
        }
    }

    pub fn room(&self, room: i64) -> String {
        format!("{}.room.{room}", self.prefix)
    }

    pub fn node(&self, node: &str) -> String {
        let node: String = node
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{}.node.{node}", self.prefix)
    }

    /// What a node subscribes to: everything of the installation.
    pub fn everything(&self) -> String {
        format!("{}.>", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_is_one_token_and_wildcards_cannot_leak_in() {
        let s = Subjects::new("Example.COM");
        assert_eq!(s.room(42), "parlance.example_com.room.42");
        assert_eq!(s.everything(), "parlance.example_com.>");
        assert_eq!(
            s.node("5f0c6a8e-9a43-4b1e-8d7c-2f3e4a5b6c7d"),
            "parlance.example_com.node.5f0c6a8e-9a43-4b1e-8d7c-2f3e4a5b6c7d"
        );
        assert_eq!(Subjects::new("a.b >*").room(1), "parlance.a_b___.room.1");
        assert_eq!(s.node("x.*"), "parlance.example_com.node.x__");
    }
}
