//! The chat core's side of a pool ([`Bus::Nats`]): what it tells the other nodes, and what it
//! does with what they tell it. On a single server ([`Bus::Local`]) none of this runs: a post
//! goes straight to the room's sessions, as it always did.
//!
//! Posts reach a node's sessions in each room's sequence order, once. The node remembers,
//! per room its sessions are in, the last sequence number they were given: a post at or
//! below it was delivered already (the relay and a repair both brought it) and is dropped;
//! a post past the next one means the relay lost or has not yet brought those in between,
//! and they are re-read from the store — committed, since a room's numbers are taken in
//! commit order — and delivered first. The same check runs after NATS reconnects and every
//! few seconds, against the store's newest numbers, for the rooms where nothing arrives
//! that would show the gap.

use std::collections::HashMap;
use std::sync::Arc;

use parlance_bus::{Bus, Event, Inbound, Posted, Presence, RoomEvent, RoomEventKind, RosterPart};
use xccos::{ChanId, ChatMessage, GrpChat, Notice, format_timestamp};

use crate::manage::role_uib;
use crate::output::chat_message;
use crate::roster::{Present, RemoteJoin};
use crate::{ChatService, Principal};

/// Messages re-read per store query while repairing.
const REPAIR_BATCH: u32 = 200;

/// The most messages one repair delivers to a room: after a longer outage the sessions get
/// the newest ones live and the rest through history, as after a reconnection of their own.
const REPAIR_MAX: i64 = 1000;

/// Rooms per roster answer message: a few hundred presences, well inside NATS's default
/// message size.
const ROSTER_ROOMS_PER_PART: usize = 100;

/// Chooses the channel service URI `cmd:requri` hands out, one client at a time: a pool's
/// lookup, which knows the nodes' loads.
pub trait Lookup: Send + Sync + std::fmt::Debug {
    /// The channel URI for one more client; the lookup may count the client to it.
    fn hand_out(&self) -> Arc<str>;
}

/// What the relay keeps between events.
#[derive(Debug, Default)]
pub(crate) struct Relayed {
    /// Per room with local sessions, the last sequence number they were given.
    delivered: HashMap<i64, i64>,
    /// Roster answers still arriving, per node: the rooms of their parts so far.
    answers: HashMap<String, Vec<(i64, Vec<Present>)>>,
}

impl ChatService {
    /// Makes this service a node of a pool on `bus` (by default it is a single server).
    pub fn with_bus(mut self, bus: Bus) -> ChatService {
        self.bus = bus;
        self
    }

    /// Makes `lookup` choose the channel URI `cmd:requri` hands out.
    pub fn with_lookup(mut self, lookup: Arc<dyn Lookup>) -> ChatService {
        self.lookup = Some(lookup);
        self
    }

    /// This node's id in its pool; `None` for a single server.
    pub fn node_id(&self) -> Option<&str> {
        self.bus.node_id()
    }

    fn relayed(&self) -> std::sync::MutexGuard<'_, Relayed> {
        self.relayed.lock().expect("relay lock")
    }

    /// Tells the other nodes of something that happened here in `room`.
    pub(crate) fn publish(&self, room: i64, kind: RoomEventKind) {
        if let Some(origin) = self.bus.node_id() {
            self.bus.publish(Event::Room(RoomEvent {
                room,
                origin: origin.to_owned(),
                kind,
            }));
        }
    }

    /// Delivers a post committed here (at `posted_at`, Unix nanoseconds) to the room's
    /// sessions and, in a pool, relays it. The caller holds the room's lock.
    pub(crate) async fn deliver_post(&self, room: i64, delivery: GrpChat, posted_at: i64) {
        if self.bus.is_local() {
            let targets = self.rosters().targets(room);
            self.send(&targets, delivery);
            return;
        }
        let message = &delivery.message;
        let seq = message.message_id.unwrap_or_default() as i64;
        self.publish(
            room,
            RoomEventKind::Posted(Posted {
                seq,
                seqid: delivery.seqid,
                author: message.author.clone(),
                posted_at,
                text: message.text.clone(),
                alert: message.alert,
                rtf: message.rtf.clone(),
            }),
        );
        self.deliver_in_order(room, seq, delivery).await;
    }

    /// In a pool, notes where the room's sequence stands when a session of this node joins
    /// it and none was there: what was committed before is its history, what comes after
    /// is delivered. The caller holds the room's lock.
    pub(crate) async fn start_sequence(&self, room: i64) -> Result<(), crate::ChatError> {
        if self.bus.is_local() || self.relayed().delivered.contains_key(&room) {
            return Ok(());
        }
        if let Some((_, last)) = self.store.last_seqs(&[room]).await?.first() {
            self.relayed().delivered.entry(room).or_insert(*last);
        }
        Ok(())
    }

    /// Delivers a post of sequence number `seq`, after the ones before it that the sessions
    /// have not had, unless they have had it. The caller holds the room's lock.
    async fn deliver_in_order(&self, room: i64, seq: i64, delivery: GrpChat) {
        let targets = self.rosters().targets(room);
        if targets.is_empty() {
            self.relayed().delivered.remove(&room);
            return;
        }
        let last = self.relayed().delivered.get(&room).copied();
        match last {
            Some(last) if seq <= last => return,
            Some(last) if seq > last + 1 => self.repair(room, last, seq - 1).await,
            _ => {}
        }
        self.send(&targets, delivery);
        self.relayed().delivered.insert(room, seq);
    }

    /// Delivers the room's messages after `last` up to `upto` from the store, in order. The
    /// caller holds the room's lock.
    async fn repair(&self, room: i64, last: i64, upto: i64) {
        let Some(uri) = self.rosters().room_uri(room) else {
            return;
        };
        let mut after = last.max(upto - REPAIR_MAX);
        if after > last {
            tracing::warn!(
                room,
                skipped = after - last,
                "gap too long to replay live: the oldest messages are left to history"
            );
        }
        tracing::info!(
            room,
            from = after + 1,
            to = upto,
            "repairing a gap in the relay"
        );
        while after < upto {
            let n = (upto - after).min(i64::from(REPAIR_BATCH)) as u32;
            let messages = match self.store.messages_after(room, after, n).await {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(error = %e, room, "gap not repaired: messages not read");
                    return;
                }
            };
            let Some(newest) = messages.last().map(|m| m.seq) else {
                break;
            };
            let targets = self.rosters().targets(room);
            for m in messages.into_iter().filter(|m| m.seq <= upto) {
                let delivery = GrpChat {
                    // The author's seqid stayed on its node; the sessions here never sent it.
                    seqid: m.seq as u64,
                    message: chat_message(&uri, m),
                };
                self.send(&targets, delivery);
            }
            after = newest;
        }
        self.relayed().delivered.insert(room, upto);
    }

    /// Compares what this node's sessions were given with the store's newest messages, and
    /// delivers what they lack: after NATS reconnects, and every few seconds.
    pub async fn repair_gaps(&self) {
        if self.bus.is_local() {
            return;
        }
        let rooms: Vec<i64> = {
            let rosters = self.rosters();
            let mut relayed = self.relayed();
            relayed
                .delivered
                .retain(|room, _| rosters.room_uri(*room).is_some());
            relayed.delivered.keys().copied().collect()
        };
        let newest = match self.store.last_seqs(&rooms).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "gaps not checked: sequence numbers not read");
                return;
            }
        };
        for (room, newest) in newest {
            let behind = self
                .relayed()
                .delivered
                .get(&room)
                .is_some_and(|last| *last < newest);
            if behind {
                let _order = self.lock_room(room).await;
                // Read again under the lock: a post may have filled the gap meanwhile.
                let last = self.relayed().delivered.get(&room).copied();
                if let Some(last) = last
                    && last < newest
                {
                    self.repair(room, last, newest).await;
                }
            }
        }
    }

    /// Applies what the pool says.
    pub async fn on_bus(&self, inbound: Inbound) {
        match inbound {
            Inbound::Connected => {
                if let Some(origin) = self.bus.node_id() {
                    self.bus.publish(Event::RosterRequest {
                        origin: origin.to_owned(),
                    });
                }
                self.answer_roster_request();
                self.repair_gaps().await;
            }
            Inbound::Event(Event::Room(event)) => self.on_room_event(event).await,
            Inbound::Event(Event::RosterRequest { .. }) => self.answer_roster_request(),
            Inbound::Event(Event::Roster(part)) => self.on_roster_part(part),
        }
    }

    async fn on_room_event(&self, event: RoomEvent) {
        let RoomEvent { room, origin, kind } = event;
        match kind {
            RoomEventKind::Posted(posted) => {
                let _order = self.lock_room(room).await;
                let Some(uri) = self.rosters().room_uri(room) else {
                    self.relayed().delivered.remove(&room);
                    return;
                };
                let seq = posted.seq;
                let delivery = GrpChat {
                    seqid: posted.seqid,
                    message: ChatMessage {
                        channel_uri: uri,
                        author: posted.author,
                        ts: Some(format_timestamp(posted.posted_at)),
                        message_id: Some(seq as u64),
                        text: posted.text,
                        alert: posted.alert,
                        rtf: posted.rtf,
                    },
                };
                self.deliver_in_order(room, seq, delivery).await;
            }
            RoomEventKind::Joined(presence) => {
                let _order = self.lock_room(room).await;
                let present = present_of(presence);
                let manager = present.manager;
                let user = present.principal.uri.clone();
                let change = self.rosters().remote_join(room, &origin, present);
                if change != RemoteJoin::Known {
                    self.notify_join(room, &user, manager);
                }
            }
            RoomEventKind::Parted { principal } => {
                let _order = self.lock_room(room).await;
                let gone = self.rosters().remote_part(room, &origin, principal);
                if let Some(gone) = gone {
                    self.notify_remote_part(room, &gone);
                }
            }
            RoomEventKind::Changed => {
                if let Err(e) = self.announce_settings(room).await {
                    tracing::error!(error = %e, room, "another node's room change not announced");
                }
            }
        }
    }

    /// Tells this node's sessions in a room that a user of another node is there (or has
    /// the role `manager` now), unless the room is crowded.
    fn notify_join(&self, room: i64, user: &str, manager: bool) {
        let mut rosters = self.rosters();
        if rosters.user_count(room) > self.settings.participant_update_limit {
            return;
        }
        let Some(channel) = rosters
            .room_uri(room)
            .and_then(|uri| ChanId::from_uri(0, &uri))
        else {
            return;
        };
        let targets = rosters.targets(room);
        drop(rosters);
        self.send(
            &targets,
            Notice::Join(vec![role_uib(user, manager, &channel)]),
        );
    }

    fn notify_remote_part(&self, room: i64, principal: &Principal) {
        let uri = self.rosters().room_uri(room);
        if let Some(uri) = uri {
            self.notify_part(room, &uri, &principal.uri);
        }
    }

    /// Publishes this node's presences, every room, in parts that travel in order.
    ///
    /// The parts are queued while the rosters stay locked. A join or part here changes
    /// the rosters first and publishes its event after, so with the lock held every change
    /// the snapshot lacks is published after the snapshot's last part, and the other
    /// nodes, which replace this node's presences with the answer, apply it on top.
    /// Queued after the lock was let go, a join made in between would be published before
    /// the answer that lacks it, and the answer would erase it from every other node's
    /// rosters until the next request; a part would come back as a ghost.
    fn answer_roster_request(&self) {
        let Some(origin) = self.bus.node_id() else {
            return;
        };
        let rosters = self.rosters();
        let rooms = rosters.local_presences();
        let mut chunks: Vec<_> = rooms.chunks(ROSTER_ROOMS_PER_PART).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        let count = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            self.bus.publish(Event::Roster(RosterPart {
                origin: origin.to_owned(),
                first: i == 0,
                last: i + 1 == count,
                rooms: chunk
                    .iter()
                    .map(|(room, present)| (*room, present.iter().map(presence_of).collect()))
                    .collect(),
            }));
        }
        drop(rosters);
    }

    /// Collects a node's roster answer; the last part replaces what was known of that node.
    fn on_roster_part(&self, part: RosterPart) {
        let RosterPart {
            origin,
            first,
            last,
            rooms,
        } = part;
        let rooms = rooms
            .into_iter()
            .map(|(room, present)| (room, present.into_iter().map(present_of).collect()));
        let complete = {
            let mut relayed = self.relayed();
            if first {
                relayed.answers.insert(origin.clone(), Vec::new());
            }
            // A part without its first (this node connected in the middle of an answer)
            // is dropped with the rest of that answer.
            let Some(answer) = relayed.answers.get_mut(&origin) else {
                return;
            };
            answer.extend(rooms);
            if !last {
                return;
            }
            relayed.answers.remove(&origin).unwrap_or_default()
        };
        let change = self.rosters().replace_node(&origin, complete);
        for (room, present) in change.arrived {
            self.notify_join(room, &present.principal.uri, present.manager);
        }
        for (room, principal) in change.gone {
            self.notify_remote_part(room, &principal);
        }
    }

    /// Waits until what this node told the pool has left, its sessions' last parts
    /// included: the last step of a clean shutdown. Unbounded while NATS is away: the
    /// caller sets a deadline.
    pub async fn flush_relay(&self) {
        self.bus.flush().await;
    }

    /// Forgets a node that stopped (it no longer heartbeats): its users leave its rooms, and
    /// this node's sessions there hear of each one gone from the room everywhere.
    pub fn drop_node(&self, node_id: &str) {
        self.relayed().answers.remove(node_id);
        let gone = self.rosters().drop_node(node_id);
        tracing::info!(
            node = node_id,
            parts = gone.len(),
            "node dropped from the pool's rosters"
        );
        for (room, principal) in gone {
            self.notify_remote_part(room, &principal);
        }
    }
}

fn present_of(p: Presence) -> Present {
    Present {
        principal: Principal {
            id: p.principal,
            uri: p.uri,
        },
        manager: p.manager,
    }
}

fn presence_of(p: &Present) -> Presence {
    Presence {
        principal: p.principal.id,
        uri: p.principal.uri.clone(),
        manager: p.manager,
    }
}
