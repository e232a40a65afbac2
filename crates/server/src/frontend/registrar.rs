//! The location service: bindings of addresses-of-record to contacts, each tied to the
//! connection it was registered over (RFC 3261 §10.3, with RFC 5626-style flows: a client
//! behind its own TCP/TLS connection is reached over that connection).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sip_proto::{NameAddr, Request, name};

use super::gruu;
use crate::config::RegistrarConfig;
use crate::transport::{ConnHandle, ConnId};
use parlance_clock::Clock;

#[derive(Debug, Clone)]
pub struct Binding {
    /// The Contact as registered (parameters such as `+sip.instance` kept).
    pub contact: NameAddr,
    /// `+sip.instance` when given: identifies the device across reconnects.
    pub instance: Option<String>,
    /// The device id of its GRUU, derived from the instance (none without one).
    pub epid: Option<String>,
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
    #[error("contact {0} is registered by another user")]
    ContactInUse(String),
}

#[derive(Debug)]
pub struct Registrar {
    config: RegistrarConfig,
    clock: Clock,
    bindings: Mutex<Locations>,
}

/// Told which addresses this node starts and stops reaching: an address-of-record with a
/// binding here, and the GRUU of each device bound here. In a pool, other nodes forward
/// requests for these addresses to this one (`crate::forward`).
pub trait Announce: Send + Sync + std::fmt::Debug {
    fn reachable(&self, address: &str);
    fn unreachable(&self, address: &str);
}

/// Bindings by address-of-record, and which address-of-record holds each contact URI:
/// requests to a contact URI (in-dialog ones) find their binding without a scan, and one
/// user cannot take over another's contact.
#[derive(Debug, Default)]
struct Locations {
    by_aor: HashMap<String, Vec<Binding>>,
    holder: HashMap<String, String>,
    /// In a pool: told of every change in what is reachable here.
    announce: Option<Arc<dyn Announce>>,
}

/// The addresses `bindings` of `aor` make reachable.
fn addresses(aor: &str, bindings: &[Binding]) -> HashSet<String> {
    if bindings.is_empty() {
        return HashSet::new();
    }
    let gruus = bindings
        .iter()
        .filter_map(|b| b.epid.as_deref().map(|epid| gruu::uri(aor, epid)));
    std::iter::once(aor.to_owned()).chain(gruus).collect()
}

impl Locations {
    /// The live binding of `uri`, if any.
    fn binding_of(&self, uri: &str, now: Instant) -> Option<&Binding> {
        let aor = self.holder.get(uri)?;
        self.by_aor
            .get(aor)?
            .iter()
            .find(|b| b.expires_at > now && !b.conn.is_closed() && b.contact.uri.to_string() == uri)
    }

    /// Replaces `aor`'s bindings, keeping the contact index in step.
    fn replace(&mut self, aor: &str, next: Vec<Binding>) {
        if let Some(announce) = &self.announce {
            let before = addresses(aor, self.by_aor.get(aor).map_or(&[], Vec::as_slice));
            let after = addresses(aor, &next);
            for gone in before.difference(&after) {
                announce.unreachable(gone);
            }
            for new in after.difference(&before) {
                announce.reachable(new);
            }
        }
        let old = if next.is_empty() {
            self.by_aor.remove(aor).unwrap_or_default()
        } else {
            self.by_aor.insert(aor.to_owned(), next).unwrap_or_default()
        };
        for b in old {
            let uri = b.contact.uri.to_string();
            if self.holder.get(&uri).is_some_and(|h| h == aor) {
                self.holder.remove(&uri);
            }
        }
        for b in self.by_aor.get(aor).into_iter().flatten() {
            self.holder
                .insert(b.contact.uri.to_string(), aor.to_owned());
        }
    }

    /// Drops every binding for which `dead` holds; returns how many were dropped.
    fn remove_where(&mut self, dead: impl Fn(&Binding) -> bool) -> usize {
        let touched: Vec<String> = self
            .by_aor
            .iter()
            .filter(|(_, l)| l.iter().any(&dead))
            .map(|(aor, _)| aor.clone())
            .collect();
        let mut removed = 0;
        for aor in touched {
            let mut list = self.by_aor.get(&aor).cloned().unwrap_or_default();
            let before = list.len();
            list.retain(|b| !dead(b));
            removed += before - list.len();
            tracing::debug!(%aor, dropped = before - list.len(), "bindings dropped");
            self.replace(&aor, list);
        }
        removed
    }
}

impl Registrar {
    pub fn new(config: RegistrarConfig, clock: Clock) -> Registrar {
        Registrar {
            config,
            clock,
            bindings: Mutex::new(Locations::default()),
        }
    }

    /// Has `announce` told of every address this registrar starts or stops reaching.
    pub fn announce_to(self, announce: Arc<dyn Announce>) -> Registrar {
        self.bindings.lock().expect("registrar lock").announce = Some(announce);
        self
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Bindings held now (expired ones until the next sweep).
    pub fn bindings(&self) -> usize {
        self.bindings
            .lock()
            .expect("registrar lock")
            .by_aor
            .values()
            .map(Vec::len)
            .sum()
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
        if let Some(taken) = contacts.iter().map(|c| c.uri.to_string()).find(|uri| {
            all.binding_of(uri, now)
                .is_some_and(|_| all.holder[uri] != aor)
        }) {
            return Err(RegisterError::ContactInUse(taken));
        }
        let mut list = all.by_aor.get(aor).cloned().unwrap_or_default();
        list.retain(|b| b.expires_at > now && !b.conn.is_closed());

        if wildcard {
            if header_expires != Some(0) || !contacts.is_empty() {
                return Err(RegisterError::BadWildcard);
            }
            all.replace(aor, Vec::new());
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
            let epid = instance.as_deref().map(gruu::epid);
            let mut registered = contact.clone();
            registered.params.remove("expires");
            let binding = Binding {
                contact: registered,
                instance,
                epid,
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
        all.replace(aor, next.clone());
        Ok(next)
    }

    /// The live bindings of `aor`.
    pub fn lookup(&self, aor: &str) -> Vec<Binding> {
        let now = self.clock.now();
        let all = self.bindings.lock().expect("registrar lock");
        all.by_aor
            .get(aor)
            .map(|l| {
                l.iter()
                    .filter(|b| b.expires_at > now && !b.conn.is_closed())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The live binding of `aor`'s device `epid` (what its GRUU names).
    pub fn by_gruu(&self, aor: &str, epid: &str) -> Option<Binding> {
        self.lookup(aor)
            .into_iter()
            .find(|b| b.epid.as_deref() == Some(epid))
    }

    /// The live binding whose contact URI is exactly `uri`.
    pub fn by_contact(&self, uri: &str) -> Option<Binding> {
        let now = self.clock.now();
        let all = self.bindings.lock().expect("registrar lock");
        all.binding_of(uri, now).cloned()
    }

    /// Drops the bindings registered over a connection that has closed.
    pub fn remove_connection(&self, conn: ConnId) {
        let mut all = self.bindings.lock().expect("registrar lock");
        all.remove_where(|b| b.conn.id() == conn);
    }

    /// Drops expired bindings; returns how many were removed.
    pub fn sweep(&self) -> usize {
        let now = self.clock.now();
        let mut all = self.bindings.lock().expect("registrar lock");
        all.remove_where(|b| b.expires_at <= now)
    }
}
