//! What the session remembers about rooms across connections: which are joined (to join
//! them again after a reconnect), their names (so errors name rooms as people do), and the
//! newest message seen in each (where catch-up starts and how duplicates are told). While
//! a room catches up, its live messages wait, so that everything comes out in order.

use std::collections::{BTreeSet, HashMap};

use xccos::{Bcq, Chanib, CommandKind, Reply, ReplyData};

use crate::types::ChatLine;

#[derive(Debug, Default)]
pub(crate) struct Rooms {
    joined: BTreeSet<String>,
    names: HashMap<String, String>,
    seen: HashMap<String, u64>,
    catching_up: HashMap<String, Vec<ChatLine>>,
}

impl Rooms {
    /// A room's name when it is known, else its URI.
    pub fn label(&self, uri: &str) -> String {
        self.names
            .get(uri)
            .cloned()
            .unwrap_or_else(|| uri.to_owned())
    }

    /// Takes note of what a successful reply says about rooms.
    pub fn observe(&mut self, kind: &CommandKind, reply: &Reply) {
        match &reply.data {
            ReplyData::ChanSrch(chanibs) => self.learn(chanibs),
            ReplyData::Join(data) | ReplyData::BJoin(data) => {
                self.learn(&data.chanibs);
                self.joined
                    .extend(data.chanibs.iter().map(|c| c.uri.clone()));
            }
            ReplyData::Part(chanibs) => {
                for c in chanibs {
                    self.forget(&c.uri);
                }
            }
            // Only these two end at the newest message; a search or an older page does not.
            ReplyData::BcContext(chanibs)
                if matches!(
                    kind,
                    CommandKind::BcContext {
                        query: Bcq::Last { .. } | Bcq::After { .. },
                        ..
                    }
                ) =>
            {
                for m in chanibs.iter().flat_map(|c| &c.msgs) {
                    if let Some(id) = m.message_id {
                        self.see(&m.channel_uri, id);
                    }
                }
            }
            _ => {}
        }
    }

    fn learn(&mut self, chanibs: &[Chanib]) {
        for c in chanibs {
            if let Some(name) = c.name.as_ref().filter(|n| !n.is_empty()) {
                self.names.insert(c.uri.clone(), name.clone());
            }
        }
    }

    fn see(&mut self, room: &str, id: u64) {
        let seen = self.seen.entry(room.to_owned()).or_default();
        *seen = (*seen).max(id);
    }

    /// The rooms to join again after a reconnect.
    pub fn joined(&self) -> Vec<String> {
        self.joined.iter().cloned().collect()
    }

    /// A room is no longer joined (parted, or not re-joined after a reconnect).
    pub fn forget(&mut self, uri: &str) {
        self.joined.remove(uri);
        self.catching_up.remove(uri);
    }

    /// The newest message id seen in a room.
    pub fn seen(&self, uri: &str) -> Option<u64> {
        self.seen.get(uri).copied()
    }

    /// A message delivered live: `None` when it was seen already, or when its room is
    /// catching up (it comes out of [`Rooms::end_catch_up`] then).
    pub fn live(&mut self, line: ChatLine) -> Option<ChatLine> {
        match self.catching_up.get_mut(&line.room) {
            Some(waiting) => {
                waiting.push(line);
                None
            }
            None => self.fresh(line),
        }
    }

    /// A message fetched by catch-up: `None` when it was seen already.
    pub fn replayed(&mut self, line: ChatLine) -> Option<ChatLine> {
        self.fresh(line)
    }

    fn fresh(&mut self, line: ChatLine) -> Option<ChatLine> {
        if let Some(id) = line.id {
            if self.seen(&line.room).is_some_and(|seen| id <= seen) {
                return None;
            }
            self.see(&line.room, id);
        }
        Some(line)
    }

    /// Live messages of `uri` wait from now until [`Rooms::end_catch_up`].
    pub fn begin_catch_up(&mut self, uri: &str) {
        self.catching_up.insert(uri.to_owned(), Vec::new());
    }

    /// The live messages that waited and were not caught up already.
    pub fn end_catch_up(&mut self, uri: &str) -> Vec<ChatLine> {
        let waiting = self.catching_up.remove(uri).unwrap_or_default();
        waiting.into_iter().filter_map(|l| self.fresh(l)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xccos::{ChatMessage, CommandRef, JoinData, Resp, ResponseCode};

    const ROOM: &str = "ma-chan://d/r";

    fn line(id: u64) -> ChatLine {
        ChatLine {
            room: ROOM.into(),
            author: "sip:a@d".into(),
            text: format!("m{id}"),
            id: Some(id),
            time: None,
            replayed: false,
            alert: false,
        }
    }

    fn reply(data: ReplyData) -> Reply {
        Reply {
            seqid: 1,
            command: Some(CommandRef { seqid: 1, envid: 1 }),
            resp: Resp::from(ResponseCode::Ok),
            data,
        }
    }

    fn history(ids: &[u64]) -> ReplyData {
        let msgs = ids
            .iter()
            .map(|id| ChatMessage {
                channel_uri: ROOM.into(),
                author: "sip:a@d".into(),
                ts: None,
                message_id: Some(*id),
                text: String::new(),
                alert: false,
                rtf: None,
            })
            .collect();
        ReplyData::BcContext(vec![Chanib {
            msgs,
            ..Chanib::new(ROOM)
        }])
    }

    fn query(query: Bcq) -> CommandKind {
        CommandKind::BcContext {
            channel_uri: ROOM.into(),
            query,
        }
    }

    #[test]
    fn joins_parts_and_names() {
        let mut rooms = Rooms::default();
        let chanib = Chanib {
            name: Some("Lobby".into()),
            ..Chanib::new(ROOM)
        };
        rooms.observe(
            &CommandKind::NodesPermCreateChild,
            &reply(ReplyData::Join(JoinData {
                chanibs: vec![chanib],
                ..JoinData::default()
            })),
        );
        assert_eq!(
            (rooms.joined(), rooms.label(ROOM)),
            (vec![ROOM.to_owned()], "Lobby".to_owned())
        );
        rooms.observe(
            &CommandKind::Part {
                channel_uri: ROOM.into(),
            },
            &reply(ReplyData::Part(vec![Chanib::new(ROOM)])),
        );
        assert!(rooms.joined().is_empty());
        assert_eq!(rooms.label("ma-chan://d/other"), "ma-chan://d/other");
    }

    #[test]
    fn only_history_that_ends_now_moves_the_mark() {
        let mut rooms = Rooms::default();
        rooms.observe(
            &query(Bcq::Search {
                text: "x".into(),
                cnt: 5,
            }),
            &reply(history(&[9])),
        );
        rooms.observe(&query(Bcq::Before { id: 9, cnt: 5 }), &reply(history(&[8])));
        assert_eq!(rooms.seen(ROOM), None);
        rooms.observe(&query(Bcq::Last { cnt: 5 }), &reply(history(&[3, 4])));
        assert_eq!(rooms.seen(ROOM), Some(4));
        assert!(rooms.live(line(4)).is_none(), "already in the history");
        assert_eq!(rooms.live(line(5)).unwrap().id, Some(5));
    }

    proptest::proptest! {
        /// A room of `n` messages; the first `a` came live before the connection was lost.
        /// After the re-join, live delivery starts at `k` and has reached `j` when catch-up
        /// ends, catch-up pages read up to `m` (at least to where live began, and possibly
        /// over it), the two interleave as `order` says, and live messages may come twice.
        /// Whatever the timing, the application sees 1..=n once each, in order.
        #[test]
        fn catch_up_and_live_delivery_join_without_gaps_or_duplicates(
            n in 0u64..40,
            cuts in proptest::collection::vec(0.0f64..=1.0, 4),
            order in proptest::collection::vec(proptest::bool::ANY, 80),
            twice in proptest::collection::vec(proptest::bool::ANY, 40),
        ) {
            let pick = |lo: u64, hi: u64, f: f64| lo + ((hi - lo) as f64 * f) as u64;
            let a = pick(0, n, cuts[0]);
            let k = pick(a + 1, n + 1, cuts[1]);
            let m = pick(k - 1, n, cuts[2]);
            let j = pick(k - 1, n, cuts[3]);
            let mut rooms = Rooms::default();
            let mut out = Vec::new();
            for id in 1..=a {
                out.extend(rooms.live(line(id)));
            }
            rooms.begin_catch_up(ROOM);
            let (mut replay, mut live) = ((a + 1)..=m, k..=j);
            for replay_next in order {
                let next = if replay_next { replay.next() } else { live.next() };
                match next {
                    Some(id) if replay_next => out.extend(rooms.replayed(line(id))),
                    Some(id) => out.extend(rooms.live(line(id))),
                    None => {}
                }
            }
            for id in replay {
                out.extend(rooms.replayed(line(id)));
            }
            for id in live {
                out.extend(rooms.live(line(id)));
            }
            out.extend(rooms.end_catch_up(ROOM));
            for id in (j + 1)..=n {
                out.extend(rooms.live(line(id)));
                if twice[usize::try_from(id).unwrap() % twice.len()] {
                    out.extend(rooms.live(line(id)));
                }
            }
            let ids: Vec<u64> = out.into_iter().filter_map(|l| l.id).collect();
            proptest::prop_assert_eq!(ids, (1..=n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn catch_up_comes_out_in_order_without_duplicates() {
        let mut rooms = Rooms::default();
        assert!(rooms.live(line(1)).is_some());
        rooms.begin_catch_up(ROOM);
        assert!(rooms.live(line(4)).is_none(), "waits");
        assert!(rooms.live(line(5)).is_none(), "waits");
        let replayed: Vec<_> = [2, 3, 4]
            .into_iter()
            .filter_map(|id| rooms.replayed(line(id)))
            .map(|l| l.id)
            .collect();
        assert_eq!(replayed, [Some(2), Some(3), Some(4)]);
        let after: Vec<_> = rooms.end_catch_up(ROOM).into_iter().map(|l| l.id).collect();
        assert_eq!(after, [Some(5)], "4 came by catch-up already");
        assert!(rooms.live(line(6)).is_some());
    }
}
