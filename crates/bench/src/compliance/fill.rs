//! The store the export reads: speakers and rooms, then the outbox filled with events
//! written straight in ([`parlance_store::Store::import_compliance_events`]), dated in the
//! past so that the events the server adds later come after them; and the busy room's
//! members.

use std::path::Path;

use parlance_store::history::{ComplianceKind, NewComplianceEvent};

use crate::error::BenchError;
use crate::population;

/// Principals and rooms the events are spread over.
const SPEAKERS: usize = 100;
const ROOMS: usize = 10;
/// Events written per transaction.
const EVENTS_PER_CALL: u64 = 10_000;
/// Events per group: one principal in one room joins, reads history, chats, and parts.
const GROUP: u64 = 20;
/// The filled events start this long before now, one microsecond apart.
const AGO_NANOS: i64 = 2 * 86_400 * 1_000_000_000;

/// What the filled store holds for the scenario.
pub struct Cast {
    /// The busy room's members and its URI.
    pub members: Vec<String>,
    pub chat_uri: String,
    /// The time of the first filled event (unix nanoseconds); the others follow one
    /// microsecond apart.
    base: i64,
    pub events: u64,
}

impl Cast {
    /// The time of the `n`th filled event: an export up to it exports exactly the first
    /// `n` (at least one).
    pub fn until(&self, n: u64) -> i64 {
        self.base + n.clamp(1, self.events.max(1)).saturating_sub(1) as i64 * 1_000
    }
}

pub async fn fill(
    server_dir: &Path,
    events: u64,
    content_bytes: usize,
    members: usize,
) -> Result<Cast, BenchError> {
    let store = population::open_store(server_dir).await?;
    let mut speakers = Vec::with_capacity(SPEAKERS);
    for account in population::add_users(&store, "speaker", SPEAKERS).await? {
        let user = store
            .user(&account)
            .await?
            .ok_or_else(|| BenchError::Failed(format!("{account} was not created")))?;
        speakers.push(user.id);
    }
    let mut rooms = Vec::with_capacity(ROOMS);
    for i in 0..ROOMS {
        rooms.push(
            population::add_room(&store, &format!("Archive {i}"))
                .await?
                .0
                .id,
        );
    }
    let members = population::add_users(&store, "member", members).await?;
    let (_, chat_uri) = population::add_room(&store, "Chat").await?;
    let base = jiff::Timestamp::now().as_nanosecond() as i64 - AGO_NANOS;
    let mut start = 0;
    while start < events {
        let end = (start + EVENTS_PER_CALL).min(events);
        let texts: Vec<String> = (start..end).map(|i| text(i, content_bytes)).collect();
        let batch: Vec<NewComplianceEvent<'_>> = (start..end)
            .zip(&texts)
            .map(|(i, text)| {
                let group = i / GROUP;
                let (kind, content) = match i % GROUP {
                    0 => (ComplianceKind::Join, ""),
                    1 => (ComplianceKind::Backchat, "last 25"),
                    n if n == GROUP - 1 => (ComplianceKind::Part, ""),
                    _ => (ComplianceKind::Chat, text.as_str()),
                };
                NewComplianceEvent {
                    kind,
                    room_id: rooms[(group / SPEAKERS as u64) as usize % ROOMS],
                    principal_id: speakers[group as usize % SPEAKERS],
                    message_seq: (kind == ComplianceKind::Chat).then_some(i as i64 + 1),
                    content,
                    at: base + i as i64 * 1_000,
                }
            })
            .collect();
        store.import_compliance_events(&batch).await?;
        start = end;
    }
    store.close().await;
    Ok(Cast {
        members,
        chat_uri,
        base,
        events,
    })
}

/// A chat line of `size` bytes with markup to escape, as chat text has.
fn text(i: u64, size: usize) -> String {
    let mut t = format!("event {i}: <b>bold</b> & \"quoted\" ");
    if t.len() < size {
        t.extend(std::iter::repeat_n('x', size - t.len()));
    }
    t
}
