//! The location service: bindings of addresses-of-record to contacts, each tied to the
//! connection it was registered over (RFC 3261 §10.3, with RFC 5626-style flows: a client
//! behind its own TCP/TLS connection is reached over that connection).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sip_proto::{NameAddr, Request, name};

use crate::clock::Clock;
use crate::config::RegistrarConfig;
use crate::transport::{ConnHandle, ConnId};

#[derive(Debug, Clone)]
pub struct Binding {
    /// The Contact as registered (parameters such as `+sip.instance` kept).
    pub contact: NameAddr,
    /// `+sip.instance` when given: identifies the device across reconnects.
    pub instance: Option<String>,
    pub conn: ConnHandle,
    pub call_id: String,
    pub cseq: u32,
    pub expires_at: Instant,
}

impl Binding {
    /// The binding's identity: the device instance, else the contact URI.
    fn key(&self) -> String {
        self.instance
            .clone()
            .unwrap_or_else(|| self.contact.uri.to_string())
    }

    /// Whole seconds left, rounded up so a fresh binding reports exactly what was granted.
    pub fn remaining_secs(&self, now: Instant) -> u64 {
        self.expires_at
            .saturating_duration_since(now)
            .as_millis()
            .div_ceil(1000) as u64
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("Contact: * needs Expires: 0 and no other contact")]
    BadWildcard,
    #[error("expiry below the minimum of {min} s")]
    IntervalTooBrief { min: u32 },
    #[error("more than {max} bindings")]
    TooManyBindings { max: usize },
    #[error("CSeq not higher than the last REGISTER of this Call-ID")]
    OutOfOrder,
}

#[derive(Debug)]
pub struct Registrar {
    config: RegistrarConfig,
    clock: Clock,
    bindings: Mutex<HashMap<String, Vec<Binding>>>,
}

impl Registrar {
    pub fn new(config: RegistrarConfig, clock: Clock) -> Registrar {
        Registrar {
            config,
            clock,
            bindings: Mutex::new(HashMap::new()),
        }
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Applies a REGISTER for `aor` received on `conn`; returns the current bindings.
    pub fn register(
        &self,
        aor: &str,
        conn: &ConnHandle,
        req: &Request,
    ) -> Result<Vec<Binding>, RegisterError> {
        let now = self.clock.now();
        let header_expires = req.expires();
        let call_id = req.call_id().to_owned();
        let cseq = req.cseq().map_or(0, |c| c.seq);
        let wildcard = req.headers.get_all(name::CONTACT).any(|v| v.trim() == "*");
        let contacts = req.contacts();

        let mut all = self.bindings.lock().expect("registrar lock");
        let list = all.entry(aor.to_owned()).or_default();
        list.retain(|b| b.expires_at > now && !b.conn.is_closed());

        if wildcard {
            if header_expires != Some(0) || !contacts.is_empty() {
                return Err(RegisterError::BadWildcard);
            }
            list.clear();
            all.remove(aor);
            return Ok(Vec::new());
        }

        // Validate every contact before changing anything: a REGISTER applies whole or not.
        let mut updates = Vec::with_capacity(contacts.len());
        for contact in contacts {
            let requested = contact
                .params
                .value("expires")
                .and_then(|v| v.parse::<u32>().ok())
                .or(header_expires)
                .unwrap_or(self.config.default_expires_secs);
            if requested != 0 && requested < self.config.min_expires_secs {
                return Err(RegisterError::IntervalTooBrief {
                    min: self.config.min_expires_secs,
                });
            }
            let expires = requested.min(self.config.max_expires_secs);
            let instance = contact
                .params
                .value("+sip.instance")
                .map(|v| v.trim_matches('"').to_owned());
            let mut registered = contact.clone();
            registered.params.remove("expires");
            let binding = Binding {
                contact: registered,
                instance,
                conn: conn.clone(),
                call_id: call_id.clone(),
                cseq,
                expires_at: now + Duration::from_secs(u64::from(expires)),
            };
            if list
                .iter()
                .any(|b| b.key() == binding.key() && b.call_id == call_id && b.cseq >= cseq)
            {
                return Err(RegisterError::OutOfOrder);
            }
            updates.push((binding, expires == 0));
        }
        let mut next = list.clone();
        for (binding, remove) in updates {
            next.retain(|b| b.key() != binding.key());
            if !remove {
                next.push(binding);
            }
        }
        if next.len() > self.config.max_bindings_per_user {
            return Err(RegisterError::TooManyBindings {
                max: self.config.max_bindings_per_user,
            });
        }
        *list = next.clone();
        if next.is_empty() {
            all.remove(aor);
        }
        Ok(next)
    }

    /// The live bindings of `aor`.
    pub fn lookup(&self, aor: &str) -> Vec<Binding> {
        let now = self.clock.now();
        let all = self.bindings.lock().expect("registrar lock");
        all.get(aor)
            .map(|l| {
                l.iter()
                    .filter(|b| b.expires_at > now && !b.conn.is_closed())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The live binding whose contact URI is exactly `uri`.
    pub fn by_contact(&self, uri: &str) -> Option<Binding> {
        let now = self.clock.now();
        let all = self.bindings.lock().expect("registrar lock");
        all.values()
            .flatten()
            .find(|b| b.expires_at > now && !b.conn.is_closed() && b.contact.uri.to_string() == uri)
            .cloned()
    }

    /// Drops the bindings registered over a connection that has closed.
    pub fn remove_connection(&self, conn: ConnId) {
        let mut all = self.bindings.lock().expect("registrar lock");
        all.retain(|_, l| {
            l.retain(|b| b.conn.id() != conn);
            !l.is_empty()
        });
    }

    /// Drops expired bindings; returns how many were removed.
    pub fn sweep(&self) -> usize {
        let now = self.clock.now();
        let mut all = self.bindings.lock().expect("registrar lock");
        let mut removed = 0;
        all.retain(|aor, l| {
            let before = l.len();
            l.retain(|b| b.expires_at > now);
            removed += before - l.len();
            if before != l.len() {
                tracing::debug!(%aor, "registration expired");
            }
            !l.is_empty()
        });
        removed
    }
}
