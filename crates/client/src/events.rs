//! What happens without being asked: messages, people coming and going, invitations, and
//! the connection's ups and downs.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::error::ClientError;
use crate::types::{ChatLine, Invitation, Joined, Member};

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A message in a joined room (the client's own included: the server echoes them).
    Message(ChatLine),
    /// Someone entered a room.
    MemberJoined { room: String, member: Member },
    /// Someone left a room (their last endpoint there left).
    MemberLeft { room: String, user: String },
    /// A room's properties changed (`ntc:chanupd`): its name and topic as they are now.
    RoomChanged {
        room: String,
        name: Option<String>,
        topic: Option<String>,
    },
    /// A new invitation (checked at every sign-in).
    Invited(Invitation),
    /// The connection was lost; reconnecting follows.
    Disconnected { reason: String },
    /// Attempt `attempt` to reconnect starts after `delay`; each attempt tries every server.
    Reconnecting { attempt: u32, delay: Duration },
    /// A room was joined again after a reconnect; this is its roster now. What was missed
    /// follows as replayed [`Event::Message`]s.
    Rejoined(Joined),
    /// A room could not be joined again after a reconnect and is left.
    RejoinFailed { room: String, error: ClientError },
    /// Signed in again to `server` (`HOST:PORT`, and the address dialled when the host is
    /// a name), every room re-joined and caught up.
    Reconnected { server: String },
    /// The client gave up (a fatal error, or too many attempts): no more events follow.
    Closed { error: ClientError },
}

/// The stream of [`Event`]s of one client. Unbounded: a consumer that stops reading only
/// costs memory, never the connection.
#[derive(Debug)]
pub struct Events {
    rx: mpsc::UnboundedReceiver<Event>,
}

impl Events {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<Event>) -> Events {
        Events { rx }
    }

    /// The next event; `None` once the client is gone.
    pub async fn next(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_next(&mut self) -> Option<Event> {
        self.rx.try_recv().ok()
    }
}
