//! What travels between pool nodes beside a SIP message. The SIP message is the NATS
//! payload, byte for byte as its client sent it (re-serialised); who sent it travels in
//! NATS headers, which no client can write: a client writes only SIP, and the node that
//! holds its connection states the identity that connection authenticated as.

use std::net::SocketAddr;

use async_nats::HeaderMap;

use crate::transport::{ConnHandle, ConnId, Transport};

const KIND: &str = "Parlance-Kind";
const NODE: &str = "Parlance-Node";
const CONN: &str = "Parlance-Conn";
const IDENTITY: &str = "Parlance-Identity";
const PEER: &str = "Parlance-Peer";
const LOCAL: &str = "Parlance-Local";
const TRANSPORT: &str = "Parlance-Transport";

/// The queue group every node subscribes to an address with: one node takes each request.
pub(super) const QUEUE_GROUP: &str = "parlance";

// Outside `parlance.<domain>.>`, which every node subscribes to whole for the room relay:
// what is forwarded here goes to one node, never to all.

/// A node's own subject: messages for its connections and its remote flows.
pub(super) fn node_subject(node: &str) -> String {
    format!("parlance-sip.node.{node}")
}

/// The subject of an address (an address-of-record, a GRUU, a service URI) that some node
/// reaches. A digest: SIP URIs hold characters that NATS subjects cannot.
pub(super) fn address_subject(address: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(address.as_bytes());
    format!("parlance-sip.address.{}", hex::encode(&digest[..16]))
}

/// Where a relayed message comes from: a client's connection on another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Origin {
    pub node: String,
    pub conn: ConnId,
    /// The address-of-record the connection authenticated as.
    pub identity: String,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub transport: Transport,
}

/// One message between nodes, without its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Envelope {
    /// A SIP message received on a client's connection, for the receiving node to handle.
    FromClient(Origin),
    /// A SIP message for the client on connection `conn` of the receiving node, from a
    /// remote flow on `node`.
    ToClient { node: String, conn: ConnId },
    /// Connection `conn` of `node` closed: its remote flows end.
    Closed { node: String, conn: ConnId },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(super) enum EnvelopeError {
    #[error("no {0} header")]
    Missing(&'static str),
    #[error("invalid {0} header")]
    Invalid(&'static str),
}

impl Origin {
    /// The origin of what `conn` of `node` received; `None` before it authenticated.
    pub fn of(node: &str, conn: &ConnHandle) -> Option<Origin> {
        Some(Origin {
            node: node.to_owned(),
            conn: conn.id(),
            identity: conn.identity()?,
            peer: conn.peer(),
            local: conn.local(),
            transport: conn.transport(),
        })
    }
}

impl Envelope {
    pub fn to_headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        match self {
            Envelope::FromClient(o) => {
                h.insert(KIND, "from-client");
                h.insert(NODE, o.node.as_str());
                h.insert(CONN, o.conn.to_string());
                h.insert(IDENTITY, o.identity.as_str());
                h.insert(PEER, o.peer.to_string());
                h.insert(LOCAL, o.local.to_string());
                h.insert(TRANSPORT, o.transport.via_token());
            }
            Envelope::ToClient { node, conn } => {
                h.insert(KIND, "to-client");
                h.insert(NODE, node.as_str());
                h.insert(CONN, conn.to_string());
            }
            Envelope::Closed { node, conn } => {
                h.insert(KIND, "closed");
                h.insert(NODE, node.as_str());
                h.insert(CONN, conn.to_string());
            }
        }
        h
    }

    pub fn from_headers(h: Option<&HeaderMap>) -> Result<Envelope, EnvelopeError> {
        let get = |name: &'static str| {
            h.and_then(|h| h.get(name))
                .map(|v| v.as_str())
                .ok_or(EnvelopeError::Missing(name))
        };
        let parse = |name: &'static str| -> Result<SocketAddr, EnvelopeError> {
            get(name)?.parse().map_err(|_| EnvelopeError::Invalid(name))
        };
        let node = get(NODE)?.to_owned();
        let conn = get(CONN)?
            .parse()
            .map_err(|_| EnvelopeError::Invalid(CONN))?;
        match get(KIND)? {
            "from-client" => Ok(Envelope::FromClient(Origin {
                node,
                conn,
                identity: get(IDENTITY)?.to_owned(),
                peer: parse(PEER)?,
                local: parse(LOCAL)?,
                transport: match get(TRANSPORT)? {
                    "TCP" => Transport::Tcp,
                    "TLS" => Transport::Tls,
                    _ => return Err(EnvelopeError::Invalid(TRANSPORT)),
                },
            })),
            "to-client" => Ok(Envelope::ToClient { node, conn }),
            "closed" => Ok(Envelope::Closed { node, conn }),
            _ => Err(EnvelopeError::Invalid(KIND)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_envelope_reads_back_as_written() {
        let origin = Origin {
            node: "6f1c".into(),
            conn: 42,
            identity: "sip:alice@example.test".into(),
            peer: "127.0.0.9:50000".parse().unwrap(),
            local: "127.0.0.1:5061".parse().unwrap(),
            transport: Transport::Tls,
        };
        for envelope in [
            Envelope::FromClient(origin),
            Envelope::ToClient {
                node: "ab".into(),
                conn: 7,
            },
            Envelope::Closed {
                node: "ab".into(),
                conn: 7,
            },
        ] {
            let headers = envelope.to_headers();
            assert_eq!(Envelope::from_headers(Some(&headers)), Ok(envelope));
        }
    }

    #[test]
    fn an_envelope_without_its_identity_is_refused() {
        let mut h = HeaderMap::new();
        h.insert(KIND, "from-client");
        h.insert(NODE, "ab");
        h.insert(CONN, "1");
        assert_eq!(
            Envelope::from_headers(Some(&h)),
            Err(EnvelopeError::Missing(IDENTITY))
        );
        assert_eq!(
            Envelope::from_headers(None),
            Err(EnvelopeError::Missing(NODE))
        );
    }

    #[test]
    fn address_subjects_are_valid_nats_tokens() {
        let s = address_subject("sip:bob@example.test;opaque=user:epid:ab;gruu");
        assert!(s.starts_with("parlance-sip.address."));
        assert!(!s.contains([' ', '*', '>', ';', '@', ':']));
        assert_ne!(s, address_subject("sip:bob@example.test"));
    }
}
