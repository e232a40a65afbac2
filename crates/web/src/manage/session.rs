//! Signed-in browsers. A session is a random identifier in a cookie the browser sends only
//! to the application's path and only over HTTPS (`Secure; HttpOnly; SameSite=Strict`), and
//! a record here: whose it is and the form token its forms must carry. Sessions live in
//! memory — a restart signs everyone out — and are bounded in number; each ends after a
//! while without use and, used or not, after a fixed lifetime, both judged on the server's
//! [`Clock`], and at once on sign-out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parlance_clock::Clock;
use rand::RngCore as _;
use subtle::ConstantTimeEq as _;

/// The cookie's name.
pub const COOKIE: &str = "parlance_rm";

/// How long sessions last, and how many there may be.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    pub idle: Duration,
    pub absolute: Duration,
    pub max_sessions: usize,
}

/// What a session knows: the account it was started for (by a password or a ticket) and
/// its form token.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub uri: String,
    pub csrf: String,
}

impl Session {
    /// Whether a form's token is this session's, compared in constant time so that its
    /// bytes cannot be found one by one.
    pub fn csrf_matches(&self, token: &str) -> bool {
        self.csrf.as_bytes().ct_eq(token.as_bytes()).into()
    }
}

#[derive(Debug)]
struct Entry {
    session: Session,
    started: Instant,
    last_used: Instant,
}

#[derive(Debug)]
pub struct Sessions {
    limits: SessionLimits,
    clock: Clock,
    entries: Mutex<HashMap<String, Entry>>,
}

/// No room for another session.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("too many sessions")]
pub struct Full;

impl Sessions {
    pub fn new(limits: SessionLimits, clock: Clock) -> Sessions {
        Sessions {
            limits,
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a session for `uri`. When the table is full, expired sessions go first; if it
    /// is still full, the sign-in is refused rather than anyone else's session ended.
    pub fn start(&self, uri: &str) -> Result<Session, Full> {
        let now = self.clock.now();
        let mut entries = self.lock();
        if entries.len() >= self.limits.max_sessions {
            entries.retain(|_, e| self.live(e, now));
            if entries.len() >= self.limits.max_sessions {
                return Err(Full);
            }
        }
        let session = Session {
            id: random_token(),
            uri: uri.to_owned(),
            csrf: random_token(),
        };
        entries.insert(
            session.id.clone(),
            Entry {
                session: session.clone(),
                started: now,
                last_used: now,
            },
        );
        Ok(session)
    }

    /// The live session `id` names, marked as used now; an expired one ends here.
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = self.clock.now();
        let mut entries = self.lock();
        let entry = entries.get_mut(id)?;
        if !self.live(entry, now) {
            entries.remove(id);
            return None;
        }
        entry.last_used = now;
        Some(entry.session.clone())
    }

    pub fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Ends every session of `uri`; returns how many there were.
    pub fn end_account(&self, uri: &str) -> usize {
        let mut entries = self.lock();
        let before = entries.len();
        entries.retain(|_, e| e.session.uri != uri);
        before - entries.len()
    }

    /// Ends the sessions that expired.
    pub fn sweep(&self) {
        let now = self.clock.now();
        self.lock().retain(|_, e| self.live(e, now));
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    fn live(&self, e: &Entry, now: Instant) -> bool {
        now.duration_since(e.last_used) < self.limits.idle
            && now.duration_since(e.started) < self.limits.absolute
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().expect("sessions lock")
    }
}

/// 256 random bits, URL-safe.
pub(super) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The session cookie's `Set-Cookie` value; `None` clears it.
pub fn set_cookie(path: &str, id: Option<&str>) -> String {
    match id {
        Some(id) => format!("{COOKIE}={id}; Path={path}; Secure; HttpOnly; SameSite=Strict"),
        None => format!("{COOKIE}=; Path={path}; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
    }
}

/// The session id a `Cookie` header carries, if any.
pub fn cookie_value(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(max: usize) -> Sessions {
        Sessions::new(
            SessionLimits {
                idle: Duration::from_secs(60),
                absolute: Duration::from_secs(300),
                max_sessions: max,
            },
            Clock::default(),
        )
    }

    #[test]
    fn idle_and_absolute_expiry_on_the_clock() {
        let s = sessions(10);
        let a = s.start("sip:a@example.com").unwrap();
        s.clock.advance(Duration::from_secs(59));
        assert!(s.get(&a.id).is_some(), "used within the idle time");
        for _ in 0..4 {
            s.clock.advance(Duration::from_secs(50));
            assert!(s.get(&a.id).is_some());
        }
        s.clock.advance(Duration::from_secs(50));
        assert!(s.get(&a.id).is_none(), "past the absolute lifetime");
        let b = s.start("sip:b@example.com").unwrap();
        s.clock.advance(Duration::from_secs(60));
        assert!(s.get(&b.id).is_none(), "idle too long");
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn bounded_and_ended() {
        let s = sessions(2);
        let a = s.start("sip:a@example.com").unwrap();
        let b = s.start("sip:a@example.com").unwrap();
        assert_ne!((&a.id, &a.csrf), (&b.id, &b.csrf));
        assert!(s.start("sip:c@example.com").is_err(), "full");
        s.end(&a.id);
        assert!(s.get(&a.id).is_none());
        let c = s.start("sip:c@example.com").unwrap();
        assert_eq!(s.end_account("sip:c@example.com"), 1);
        assert!(s.get(&c.id).is_none(), "signed out everywhere");
        let c = s.start("sip:c@example.com").unwrap();
        s.clock.advance(Duration::from_secs(61));
        assert!(
            s.start("sip:d@example.com").is_ok(),
            "expired ones make room"
        );
        assert!(s.get(&c.id).is_none() && s.get(&b.id).is_none());
    }

    #[test]
    fn csrf_and_cookies() {
        let s = sessions(1).start("sip:a@example.com").unwrap();
        assert!(s.csrf_matches(&s.csrf.clone()));
        assert!(!s.csrf_matches(""));
        assert!(!s.csrf_matches(&s.csrf[1..]));
        assert_eq!(cookie_value("x=1; parlance_rm=abc; y=2"), Some("abc"));
        assert_eq!(cookie_value("parlance_rmx=abc"), None);
        let set = set_cookie("/PersistentChat/RM/", Some("abc"));
        assert!(set.contains("Secure; HttpOnly; SameSite=Strict"), "{set}");
    }
}
