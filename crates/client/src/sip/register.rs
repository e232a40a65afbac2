//! Registration (RFC 3261 §10.2): one Call-ID per connection, CSeq increasing, renewed
//! before it runs out. What the server grants also sets the keep-alive interval.

use std::time::Duration;

use sip_proto::{Method, Request, Response, SipUri, Uri, name};

use super::local::Local;

/// What we ask for; the server may grant less.
const REQUESTED_EXPIRES: u32 = 3600;

#[derive(Debug)]
pub(crate) struct Registration {
    call_id: String,
    tag: String,
    cseq: u32,
}

impl Registration {
    pub fn new() -> Registration {
        Registration {
            call_id: super::random_hex(12),
            tag: super::random_hex(5),
            cseq: 0,
        }
    }

    /// The Request-URI and the Digest `uri`: the domain.
    pub fn uri(local: &Local) -> String {
        format!("sip:{}", local.identity.domain)
    }

    pub fn request(&mut self, local: &Local, authorization: Option<&str>) -> Request {
        self.cseq += 1;
        let uri = Uri::Sip(SipUri::new(None, &local.identity.domain));
        let to = format!("<{}>", local.identity.aor);
        let mut req = local.request(
            Method::Register,
            uri,
            &self.tag,
            &to,
            &self.call_id,
            self.cseq,
        );
        req.headers.set(
            name::CONTACT,
            format!("{};+sip.instance=\"{}\"", local.contact(), local.instance),
        );
        req.headers
            .push(name::EXPIRES, REQUESTED_EXPIRES.to_string());
        if let Some(authorization) = authorization {
            req.headers.push(name::AUTHORIZATION, authorization);
        }
        req
    }
}

/// What a `200` to a REGISTER granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Granted {
    pub expires: Duration,
    /// `ms-keep-alive: … timeout=N`: write a CRLF after N idle seconds.
    pub keep_alive: Option<Duration>,
}

impl Granted {
    pub fn from_response(resp: &Response) -> Granted {
        let expires = resp
            .expires()
            .filter(|e| *e > 0)
            .unwrap_or(REQUESTED_EXPIRES);
        let keep_alive = resp.headers.get("ms-keep-alive").and_then(|v| {
            v.split(';').find_map(|p| {
                p.trim()
                    .strip_prefix("timeout=")
                    .and_then(|t| t.trim().parse::<u64>().ok())
            })
        });
        Granted {
            expires: Duration::from_secs(expires.into()),
            keep_alive: keep_alive.filter(|s| *s > 0).map(Duration::from_secs),
        }
    }

    /// When to register again: half a minute early, or halfway for short grants.
    pub fn renew_after(&self) -> Duration {
        if self.expires > Duration::from_secs(120) {
            self.expires - Duration::from_secs(30)
        } else {
            self.expires / 2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Identity;

    #[test]
    fn registers_with_an_instance_and_increasing_cseq() {
        let local = Local::new(
            Identity::parse("alice@example.test").unwrap(),
            "e".into(),
            "<urn:uuid:u1>".into(),
            "TCP",
            "127.0.0.1:9".parse().unwrap(),
        );
        let mut reg = Registration::new();
        let first = reg.request(&local, None);
        let second = reg.request(&local, Some("Digest x=1"));
        assert_eq!(first.uri.to_string(), "sip:example.test");
        assert_eq!(first.call_id(), second.call_id());
        assert_eq!(
            (first.cseq().unwrap().seq, second.cseq().unwrap().seq),
            (1, 2)
        );
        assert!(
            first
                .headers
                .get(name::CONTACT)
                .unwrap()
                .ends_with(";+sip.instance=\"<urn:uuid:u1>\"")
        );
        assert_eq!(second.headers.get(name::AUTHORIZATION), Some("Digest x=1"));
    }

    #[test]
    fn grants() {
        let mut ok = Response {
            status: 200,
            reason: "OK".into(),
            headers: Default::default(),
            body: Default::default(),
        };
        ok.headers.push(name::EXPIRES, "3600");
        ok.headers.push(
            "ms-keep-alive",
            "UAS; tcp=no; hop-hop=yes; end-end=no; timeout=300",
        );
        let g = Granted::from_response(&ok);
        assert_eq!(
            (g.expires.as_secs(), g.keep_alive.map(|d| d.as_secs())),
            (3600, Some(300))
        );
        assert_eq!(g.renew_after().as_secs(), 3570);
        assert_eq!(
            Granted {
                expires: Duration::from_secs(60),
                keep_alive: None
            }
            .renew_after()
            .as_secs(),
            30
        );
    }
}
