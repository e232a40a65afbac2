//! After a lost connection: sign in again with back-off (to another server of the pool
//! when there are several, [`crate::servers`]), join every room again, and fetch what was
//! missed with `after id` history queries from the newest message seen.

use std::time::Duration;

use rand::Rng;
use xccos::{Bcq, ChanId, CommandKind, ReplyData};

use super::ops::not_delivered;
use super::{Call, Connected, Op, Session, Which};
use crate::error::ClientError;
use crate::events::Event;
use crate::types::{ChatLine, joined_rooms};

/// Messages per catch-up page, and pages at most per room: a long absence is capped rather
/// than replayed without end (history still pages further back on request).
const CATCH_UP_PAGE: u32 = 100;
const CATCH_UP_PAGES: usize = 20;

impl Session {
    /// Reconnects with back-off, each attempt trying every server once; `None` when the
    /// client was closed or gave up.
    pub(super) async fn reconnect(&mut self) -> Option<Connected> {
        let policy = self.config.reconnect.clone();
        let mut delay = policy.first_delay;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.emit(Event::Reconnecting { attempt, delay });
            if !self.idle(jitter(delay, policy.max_delay)).await {
                return None;
            }
            let error = match self.establish().await {
                Ok(mut conn) => match self.restore(&mut conn).await {
                    Ok(()) => {
                        self.emit(Event::Reconnected {
                            server: self.server(),
                        });
                        return Some(conn);
                    }
                    Err(e) => e,
                },
                Err(e) => e,
            };
            tracing::info!(attempt, %error, "reconnect failed");
            if error.is_fatal() || policy.max_attempts.is_some_and(|max| attempt >= max) {
                self.emit(Event::Closed { error });
                return None;
            }
            delay = (delay * 2).min(policy.max_delay);
        }
    }

    /// Waits while disconnected, refusing calls at once; `false` when the client closed.
    async fn idle(&mut self, delay: Duration) -> bool {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return true,
                op = self.ops.recv() => match op {
                    Some(Op::Call(call)) => self.refuse(call),
                    Some(Op::Close(done)) => {
                        let _ = done.send(());
                        return false;
                    }
                    None => return false,
                },
            }
        }
    }

    /// Joins the rooms joined before and catches each up.
    async fn restore(&mut self, conn: &mut Connected) -> Result<(), ClientError> {
        let rooms = self.rooms.joined();
        if rooms.is_empty() {
            return Ok(());
        }
        for room in &rooms {
            self.rooms.begin_catch_up(room);
        }
        let chanids: Vec<ChanId> = rooms
            .iter()
            .enumerate()
            .filter_map(|(i, uri)| ChanId::from_uri(u32::try_from(i).ok()?, uri))
            .collect();
        let kind = CommandKind::BJoin(chanids);
        let reply = match self.command(conn, Which::Channel, kind.clone()).await {
            Ok(reply) if reply.resp.is_success() => reply,
            Ok(reply) => {
                let error = self.refusal(&kind, &reply.resp);
                self.give_up(&rooms, &error);
                return Ok(());
            }
            Err(e) if e.is_connection_lost() => return Err(e),
            Err(error) => {
                self.give_up(&rooms, &error);
                return Ok(());
            }
        };
        self.rooms.observe(&kind, &reply);
        let ReplyData::BJoin(data) = &reply.data else {
            return Err(ClientError::Protocol(
                "a batch join was answered with another reply".into(),
            ));
        };
        let joined = joined_rooms(data);
        for room in rooms
            .iter()
            .filter(|r| !joined.iter().any(|j| &j.room.uri == *r))
        {
            let error = ClientError::Forbidden {
                action: "join again",
                room: self.rooms.label(room),
            };
            self.give_up(std::slice::from_ref(room), &error);
        }
        for j in joined {
            let uri = j.room.uri.clone();
            self.emit(Event::Rejoined(j));
            self.catch_up(conn, &uri).await?;
        }
        Ok(())
    }

    fn give_up(&mut self, rooms: &[String], error: &ClientError) {
        for room in rooms {
            self.rooms.forget(room);
            self.emit(Event::RejoinFailed {
                room: room.clone(),
                error: error.clone(),
            });
        }
    }

    /// Replays what the room got since the newest message seen, then what arrived live
    /// meanwhile.
    async fn catch_up(&mut self, conn: &mut Connected, room: &str) -> Result<(), ClientError> {
        for _ in 0..CATCH_UP_PAGES {
            let after = self.rooms.seen(room).unwrap_or(0);
            let kind = CommandKind::BcContext {
                channel_uri: room.to_owned(),
                query: Bcq::After {
                    id: after,
                    cnt: CATCH_UP_PAGE,
                },
            };
            let reply = self.command(conn, Which::Channel, kind).await?;
            let ReplyData::BcContext(chanibs) = &reply.data else {
                break;
            };
            if !reply.resp.is_success() {
                break;
            }
            let page: Vec<ChatLine> = chanibs
                .iter()
                .flat_map(|c| &c.msgs)
                .map(|m| ChatLine::from_message(m, true))
                .collect();
            // Only an empty page says the room is caught up: a server sends fewer messages
            // than asked when more would not fit one body.
            let more = !page.is_empty();
            for line in page {
                if let Some(line) = self.rooms.replayed(line) {
                    self.emit(Event::Message(line));
                }
            }
            if !more {
                break;
            }
        }
        for line in self.rooms.end_catch_up(room) {
            self.emit(Event::Message(line));
        }
        Ok(())
    }
}

/// `delay` ± 20 % (never more than `max`), so that clients dropped together do not all
/// return together.
fn jitter(delay: Duration, max: Duration) -> Duration {
    delay.mul_f64(rand::rng().random_range(0.8..1.2)).min(max)
}

impl Session {
    /// Answers a call made while disconnected.
    fn refuse(&self, call: Call) {
        match call {
            Call::Command { respond, .. } => {
                let _ = respond.send(Err(ClientError::NotConnected));
            }
            Call::Post { room, respond, .. } => {
                let room = self.rooms.label(&room);
                let _ = respond.send(Err(not_delivered(room, &ClientError::NotConnected)));
            }
        }
    }
}
