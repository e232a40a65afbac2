//! Who is in which room right now: sessions (one per client endpoint) and the rooms each
//! has joined, and in a pool the principals present through the other nodes (learnt from
//! their events). In memory only; a restart empties it and clients re-join.

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
    /// Per room, the principals present through other nodes of the pool, per node.
    remote: HashMap<i64, HashMap<String, BTreeMap<i64, Present>>>,
}

/// Who a node's new roster brought into rooms (present nowhere before) and who it took out
/// of them (now present nowhere), each with the room.
#[derive(Debug, Default)]
pub struct NodeChange {
    pub arrived: Vec<(i64, Present)>,
    pub gone: Vec<(i64, Principal)>,
}

/// What a principal present through another node changed in a room's pool-wide roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteJoin {
    /// It was not present anywhere before: the room hears of the join.
    New,
    /// It was present through that node already, with the other role: the room hears of
    /// the role.
    Role,
    /// Nothing anyone sees.
    Known,
}

#[derive(Debug, Default)]
struct RoomRoster {
    uri: String,
    present: BTreeMap<SessionId, Present>,
    /// Sessions per principal present: the distinct count without walking the roster.
    principals: HashMap<i64, usize>,
    /// Sessions to deliver to, built when first asked for since the roster last changed:
    /// a message to a large room costs no allocation per member, and a crowd arriving
    /// (thousands of joins before anyone posts) does not copy the roster at every join.
    targets: Option<Arc<[SessionId]>>,
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
        roster.targets = None;
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
        roster.targets = None;
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

    pub fn targets(&mut self, room: i64) -> Arc<[SessionId]> {
        let Some(r) = self.rooms.get_mut(&room) else {
            return Arc::from([]);
        };
        r.targets
            .get_or_insert_with(|| r.present.keys().copied().collect())
            .clone()
    }

    /// The distinct principals present on every node, managers flagged, in a stable order.
    pub fn present(&self, room: i64) -> Vec<Present> {
        let mut seen = self.present_here(room);
        let remote = self.remote.get(&room).into_iter().flat_map(|r| r.values());
        for p in remote.flat_map(|node| node.values()) {
            let entry = seen
                .entry(p.principal.uri.clone())
                .or_insert_with(|| p.clone());
            entry.manager |= p.manager;
        }
        seen.into_values().collect()
    }

    /// The distinct principals present through this node's sessions, by URI.
    fn present_here(&self, room: i64) -> BTreeMap<String, Present> {
        let mut seen = BTreeMap::new();
        if let Some(r) = self.rooms.get(&room) {
            for p in r.present.values() {
                let entry = seen
                    .entry(p.principal.uri.clone())
                    .or_insert_with(|| p.clone());
                entry.manager |= p.manager;
            }
        }
        seen
    }

    /// Every room this node has sessions in, with the principals present through them: what
    /// the other nodes of a pool are told when they ask.
    pub fn local_presences(&self) -> Vec<(i64, Vec<Present>)> {
        self.rooms
            .keys()
            .map(|&room| (room, self.present_here(room).into_values().collect()))
            .collect()
    }

    /// Whether the principal is present in the room through a session of this node.
    pub fn present_here_as(&self, room: i64, principal_id: i64) -> bool {
        self.rooms
            .get(&room)
            .is_some_and(|r| r.principals.contains_key(&principal_id))
    }

    /// Whether the principal is present in the room through another node.
    pub fn present_elsewhere(&self, room: i64, principal_id: i64) -> bool {
        self.remote
            .get(&room)
            .is_some_and(|r| r.values().any(|node| node.contains_key(&principal_id)))
    }

    fn present_anywhere(&self, room: i64, principal_id: i64) -> bool {
        self.present_here_as(room, principal_id) || self.present_elsewhere(room, principal_id)
    }

    /// Records a principal present in a room through the node `node`.
    pub fn remote_join(&mut self, room: i64, node: &str, present: Present) -> RemoteJoin {
        let before = self.present_anywhere(room, present.principal.id);
        let on_node = self
            .remote
            .entry(room)
            .or_default()
            .entry(node.to_owned())
            .or_default();
        let manager = present.manager;
        match on_node.insert(present.principal.id, present) {
            None if !before => RemoteJoin::New,
            Some(old) if old.manager != manager => RemoteJoin::Role,
            _ => RemoteJoin::Known,
        }
    }

    /// Records a principal gone from a room on the node `node`. Returns it when it is now
    /// gone from the room everywhere.
    pub fn remote_part(&mut self, room: i64, node: &str, principal_id: i64) -> Option<Principal> {
        let nodes = self.remote.get_mut(&room)?;
        let on_node = nodes.get_mut(node)?;
        let left = on_node.remove(&principal_id)?;
        if on_node.is_empty() {
            nodes.remove(node);
        }
        if nodes.is_empty() {
            self.remote.remove(&room);
        }
        (!self.present_anywhere(room, principal_id)).then_some(left.principal)
    }

    /// Forgets everything present through the node `node` (it stopped). Returns the
    /// principals now gone from rooms everywhere, with their rooms.
    pub fn drop_node(&mut self, node: &str) -> Vec<(i64, Principal)> {
        self.replace_node(node, Vec::new()).gone
    }

    /// Replaces what is present through the node `node` with `rooms` (its answer to a roster
    /// request).
    pub fn replace_node(&mut self, node: &str, rooms: Vec<(i64, Vec<Present>)>) -> NodeChange {
        let mut arrived = Vec::new();
        for (room, present) in &rooms {
            for p in present {
                if !self.present_anywhere(*room, p.principal.id) {
                    arrived.push((*room, p.clone()));
                }
            }
        }
        let mut old = Vec::new();
        self.remote.retain(|room, nodes| {
            if let Some(on_node) = nodes.remove(node) {
                old.extend(on_node.into_values().map(|p| (*room, p.principal)));
            }
            !nodes.is_empty()
        });
        for (room, present) in rooms {
            let on_node: BTreeMap<i64, Present> =
                present.into_iter().map(|p| (p.principal.id, p)).collect();
            if !on_node.is_empty() {
                self.remote
                    .entry(room)
                    .or_default()
                    .insert(node.to_owned(), on_node);
            }
        }
        let gone = old
            .into_iter()
            .filter(|(room, p)| !self.present_anywhere(*room, p.id))
            .collect();
        NodeChange { arrived, gone }
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

    /// The distinct principals present in the room, on every node.
    pub fn user_count(&self, room: i64) -> usize {
        let here = self.rooms.get(&room);
        let mut elsewhere: HashSet<i64> = HashSet::new();
        for node in self.remote.get(&room).into_iter().flat_map(|r| r.values()) {
            elsewhere.extend(
                node.keys()
                    .filter(|id| here.is_none_or(|r| !r.principals.contains_key(*id)))
                    .copied(),
            );
        }
        here.map_or(0, |r| r.principals.len()) + elsewhere.len()
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
    fn the_delivery_list_follows_every_join_and_part_once_asked_for() {
        let mut r = Rosters::default();
        let room = "ma-chan://example.test/g";
        r.open(10, alice(), false);
        r.open(11, present(2, false).principal, false);
        assert!(r.targets(7).is_empty());
        r.join(7, room, 10, false);
        assert_eq!(&*r.targets(7), &[10]);
        r.join(7, room, 11, false);
        assert_eq!(
            &*r.targets(7),
            &[10, 11],
            "a list asked for before is not kept"
        );
        r.part(7, 10);
        assert_eq!(&*r.targets(7), &[11]);
        r.join(7, room, 10, false);
        r.close(11);
        assert_eq!(&*r.targets(7), &[10]);
    }

    /// Principal `id` present through another node; 1 is alice.
    fn present(id: i64, manager: bool) -> Present {
        let principal = match id {
            1 => alice(),
            _ => Principal {
                id,
                uri: format!("sip:user{id}@example.test"),
            },
        };
        Present { principal, manager }
    }

    #[test]
    fn a_principal_on_two_nodes_is_present_once_and_gone_when_gone_from_both() {
        let mut r = Rosters::default();
        r.open(10, alice(), false);
        assert!(r.join(7, "ma-chan://example.test/g", 10, false));
        assert_eq!(r.remote_join(7, "b", present(1, true)), RemoteJoin::Known);
        assert_eq!(r.remote_join(7, "b", present(2, false)), RemoteJoin::New);
        assert_eq!(r.remote_join(7, "c", present(2, false)), RemoteJoin::Known);
        assert_eq!(r.remote_join(7, "c", present(2, true)), RemoteJoin::Role);
        assert_eq!(r.user_count(7), 2);
        let uris: Vec<_> = r
            .present(7)
            .into_iter()
            .map(|p| (p.principal.id, p.manager))
            .collect();
        assert_eq!(uris, [(1, true), (2, true)], "a manager through any node");
        assert_eq!(
            &*r.targets(7),
            &[10],
            "only local sessions are delivered to"
        );
        assert!(r.present_elsewhere(7, 1));
        assert_eq!(
            r.remote_part(7, "b", 1),
            None,
            "still here through session 10"
        );
        assert_eq!(r.remote_part(7, "b", 2), None, "still there through node c");
        assert_eq!(r.remote_part(7, "b", 2), None, "not there twice");
        assert_eq!(r.remote_part(7, "c", 2).map(|p| p.id), Some(2));
        assert_eq!(r.user_count(7), 1);
        assert!(!r.present_elsewhere(7, 1));
    }

    #[test]
    fn a_node_replaced_or_dropped_reports_who_came_and_went() {
        let mut r = Rosters::default();
        r.open(10, alice(), false);
        r.join(7, "ma-chan://example.test/g", 10, false);
        r.remote_join(7, "b", present(2, false));
        r.remote_join(8, "b", present(3, false));
        r.remote_join(8, "c", present(4, false));
        let NodeChange { arrived, gone } = r.replace_node(
            "b",
            vec![(
                7,
                vec![present(2, false), present(5, false), present(1, false)],
            )],
        );
        let arrived: Vec<_> = arrived
            .iter()
            .map(|(room, p)| (*room, p.principal.id))
            .collect();
        let gone: Vec<_> = gone.iter().map(|(room, p)| (*room, p.id)).collect();
        assert_eq!(arrived, [(7, 5)]);
        assert_eq!(gone, [(8, 3)]);
        assert_eq!(r.user_count(7), 3);
        let mut dropped: Vec<_> = r
            .drop_node("b")
            .iter()
            .map(|(room, p)| (*room, p.id))
            .collect();
        dropped.sort();
        assert_eq!(dropped, [(7, 2), (7, 5)], "principal 1 is still here");
        assert_eq!(r.user_count(8), 1);
        assert_eq!(
            r.local_presences()
                .into_iter()
                .map(|(room, p)| (room, p.len()))
                .collect::<Vec<_>>(),
            [(7, 1)]
        );
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
