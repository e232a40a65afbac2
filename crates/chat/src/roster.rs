//! Who is in which room right now: sessions (one per client endpoint) and the rooms each
//! has joined. In memory only; a restart empties it and clients re-join.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::SessionId;

/// The principal behind a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: i64,
    pub uri: String,
}

#[derive(Debug, Clone)]
pub struct Present {
    pub principal: Principal,
    pub manager: bool,
}

#[derive(Debug, Default)]
pub struct Rosters {
    sessions: HashMap<SessionId, (Principal, BTreeSet<i64>)>,
    rooms: HashMap<i64, RoomRoster>,
    /// Sessions that get their rooms' history pushed after a `bjoin` (Lync 2013's flow).
    history_on_bjoin: HashSet<SessionId>,
    /// Sessions whose clients connect from outside.
    outside: HashSet<SessionId>,
}

#[derive(Debug, Default)]
struct RoomRoster {
    uri: String,
    present: BTreeMap<SessionId, Present>,
    /// Sessions per principal present: the distinct count without walking the roster.
    principals: HashMap<i64, usize>,
    /// Sessions to deliver to, rebuilt only when the roster changes: a message to a
    /// large room costs no allocation per member.
    targets: Arc<[SessionId]>,
}

impl RoomRoster {
    fn rebuild(&mut self) {
        self.targets = self.present.keys().copied().collect();
    }
}

impl Rosters {
    pub fn open(&mut self, session: SessionId, principal: Principal, outside: bool) {
        self.sessions
            .entry(session)
            .or_insert((principal, BTreeSet::new()));
        if outside {
            self.outside.insert(session);
        }
    }

    pub fn is_outside(&self, session: SessionId) -> bool {
        self.outside.contains(&session)
    }

    pub fn principal(&self, session: SessionId) -> Option<&Principal> {
        self.sessions.get(&session).map(|(p, _)| p)
    }

    /// From now on the session gets the history of the rooms of each `bjoin` pushed to it.
    pub fn push_history_on_bjoin(&mut self, session: SessionId) {
        if self.sessions.contains_key(&session) {
            self.history_on_bjoin.insert(session);
        }
    }

    pub fn pushes_history_on_bjoin(&self, session: SessionId) -> bool {
        self.history_on_bjoin.contains(&session)
    }

    /// The principal's open sessions, with the principal.
    pub fn sessions_of(&self, principal_id: i64) -> Option<(Principal, Vec<SessionId>)> {
        let mut found: Option<(Principal, Vec<SessionId>)> = None;
        for (session, (p, _)) in self
            .sessions
            .iter()
            .filter(|(_, (p, _))| p.id == principal_id)
        {
            found
                .get_or_insert_with(|| (p.clone(), Vec::new()))
                .1
                .push(*session);
        }
        found
    }

    /// Removes a session. Returns, for each room it was in, the room's URI and whether its
    /// principal is now gone from that room.
    pub fn close(&mut self, session: SessionId) -> Vec<(i64, String, bool)> {
        self.history_on_bjoin.remove(&session);
        self.outside.remove(&session);
        let Some((_, rooms)) = self.sessions.remove(&session) else {
            return Vec::new();
        };
        rooms
            .into_iter()
            .map(|room| {
                let uri = self
                    .rooms
                    .get(&room)
                    .map(|r| r.uri.clone())
                    .unwrap_or_default();
                (room, uri, self.remove_from(room, session))
            })
            .collect()
    }

    /// Adds the session to the room. Returns whether its principal was not present before
    /// (through another session), which is when the others hear of the join.
    pub fn join(&mut self, room: i64, uri: &str, session: SessionId, manager: bool) -> bool {
        let Some((principal, rooms)) = self.sessions.get_mut(&session) else {
            return false;
        };
        rooms.insert(room);
        let principal = principal.clone();
        let roster = self.rooms.entry(room).or_insert_with(|| RoomRoster {
            uri: uri.to_owned(),
            ..RoomRoster::default()
        });
        if roster.present.contains_key(&session) {
            return false;
        }
        let sessions = roster.principals.entry(principal.id).or_default();
        *sessions += 1;
        let first = *sessions == 1;
        roster
            .present
            .insert(session, Present { principal, manager });
        roster.rebuild();
        first
    }

    /// Removes the session from the room. Returns whether its principal is now gone from it.
    pub fn part(&mut self, room: i64, session: SessionId) -> bool {
        if let Some((_, rooms)) = self.sessions.get_mut(&session) {
            rooms.remove(&room);
        }
        self.remove_from(room, session)
    }

    fn remove_from(&mut self, room: i64, session: SessionId) -> bool {
        let Some(roster) = self.rooms.get_mut(&room) else {
            return false;
        };
        let Some(left) = roster.present.remove(&session) else {
            return false;
        };
        roster.rebuild();
        let sessions = roster.principals.entry(left.principal.id).or_default();
        *sessions = sessions.saturating_sub(1);
        let gone = *sessions == 0;
        if gone {
            roster.principals.remove(&left.principal.id);
        }
        if roster.present.is_empty() {
            self.rooms.remove(&room);
        }
        gone
    }

    /// The sessions of `principal` (everyone's when `None`) in `room` (every room when
    /// `None`), each with the room and its principal.
    /// The `ma-chan:` URI of a room someone is in.
    pub fn room_uri(&self, room: i64) -> Option<String> {
        self.rooms.get(&room).map(|r| r.uri.clone())
    }

    pub fn joined(
        &self,
        principal: Option<i64>,
        room: Option<i64>,
    ) -> Vec<(i64, SessionId, Principal)> {
        self.sessions
            .iter()
            .filter(|(_, (p, _))| principal.is_none_or(|id| p.id == id))
            .flat_map(|(session, (p, rooms))| {
                rooms
                    .iter()
                    .filter(|r| room.is_none_or(|id| **r == id))
                    .map(|r| (*r, *session, p.clone()))
            })
            .collect()
    }

    pub fn is_joined(&self, room: i64, session: SessionId) -> bool {
        self.rooms
            .get(&room)
            .is_some_and(|r| r.present.contains_key(&session))
    }

    pub fn targets(&self, room: i64) -> Arc<[SessionId]> {
        self.rooms
            .get(&room)
            .map(|r| r.targets.clone())
            .unwrap_or_else(|| Arc::from([]))
    }

    /// The distinct principals present, managers flagged, in a stable order.
    pub fn present(&self, room: i64) -> Vec<Present> {
        let mut seen = BTreeMap::new();
        if let Some(r) = self.rooms.get(&room) {
            for p in r.present.values() {
                let entry = seen
                    .entry(p.principal.uri.clone())
                    .or_insert_with(|| p.clone());
                entry.manager |= p.manager;
            }
        }
        seen.into_values().collect()
    }

    /// Marks a principal's sessions in a room as a manager's or not (its role changed while
    /// it was there). Returns whether it is present.
    pub fn set_manager(&mut self, room: i64, principal_id: i64, manager: bool) -> bool {
        let Some(r) = self.rooms.get_mut(&room) else {
            return false;
        };
        let mut present = false;
        for p in r.present.values_mut() {
            if p.principal.id == principal_id {
                p.manager = manager;
                present = true;
            }
        }
        present
    }

    /// Sessions present in rooms, each counted once per room.
    pub fn joined_endpoints(&self) -> usize {
        self.rooms.values().map(|r| r.present.len()).sum()
    }

    pub fn user_count(&self, room: i64) -> usize {
        self.rooms.get(&room).map_or(0, |r| r.principals.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Principal {
        Principal {
            id: 1,
            uri: "sip:alice@example.test".into(),
        }
    }

    #[test]
    fn a_principal_on_two_endpoints_is_present_once() {
        let mut r = Rosters::default();
        r.open(10, alice(), false);
        r.open(11, alice(), true);
        assert!(!r.is_outside(10) && r.is_outside(11));
        assert!(r.join(7, "ma-chan://example.test/g", 10, false));
        assert!(
            !r.join(7, "ma-chan://example.test/g", 11, true),
            "already present through session 10"
        );
        assert_eq!(r.present(7).len(), 1);
        assert!(r.present(7)[0].manager);
        assert_eq!(&*r.targets(7), &[10, 11]);
        assert_eq!(r.joined(Some(1), Some(7)).len(), 2);
        assert!(r.joined(Some(2), None).is_empty());
        assert!(r.joined(None, Some(8)).is_empty());
        assert!(!r.part(7, 10), "still there through session 11");
        assert_eq!(
            r.close(11),
            vec![(7, "ma-chan://example.test/g".to_owned(), true)]
        );
        assert_eq!(r.user_count(7), 0);
        assert!(r.targets(7).is_empty());
        assert!(!r.is_outside(11), "closed sessions are forgotten");
    }

    #[test]
    fn the_history_push_belongs_to_a_live_session_and_ends_with_it() {
        let mut r = Rosters::default();
        r.push_history_on_bjoin(10);
        assert!(!r.pushes_history_on_bjoin(10), "no such session");
        r.open(10, alice(), true);
        r.push_history_on_bjoin(10);
        assert!(r.pushes_history_on_bjoin(10));
        r.close(10);
        assert!(!r.is_outside(10));
        r.open(10, alice(), false);
        assert!(
            !r.pushes_history_on_bjoin(10),
            "a new session starts without it"
        );
    }
}
