//! The compliance exporter: every event of the compliance outbox written exactly once to
//! an archive directory, as the original Group Chat's XmlAdapter wrote it (or as JSON
//! Lines), with a decrypted copy of every posted file.
//!
//! Chat writes an outbox row in the transaction of each action it records. The exporter
//! reads the rows after a durable cursor in batches (bounded in events and bytes, so memory
//! stays flat however many events wait), groups each batch into one conversation per room,
//! and hands it to the [`Adapter`]. A batch is durable — files written under temporary
//! names, synced, renamed, their directories synced — before the cursor moves past it, and
//! its files are named after the batch's first outbox row, so a run interrupted at any
//! point is redone by the next one, which begins by removing the files of every batch past
//! the cursor: no event lost, none in two files.
//! Only then are exported rows deleted from the outbox (after `keep_exported`).
//!
//! One exporter runs at a time: each run holds an exclusive lock on a file beside the
//! database, which the server's periodic export and `parlance compliance export` share.
//! The format is in docs/protocol.md ("Compliance export") and `schema/conversations.xsd`.

mod attach;
mod durable;
mod error;
mod escape;
mod export;
mod jsonl;
mod manifest;
mod model;
mod time;
mod writer_thread;
mod xml;

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

pub use attach::ATTACHMENT_DIR;
pub use error::ExportError;
pub use export::{ExportReport, Exporter, Progress, Step};

/// How events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Adapter {
    /// The original's `Conversations` XML document, one per output file (`.xml`).
    #[default]
    Xml,
    /// One JSON object per event and line (`.jsonl`).
    JsonLines,
}

impl Adapter {
    /// The output files' extension.
    pub fn extension(self) -> &'static str {
        match self {
            Adapter::Xml => "xml",
            Adapter::JsonLines => "jsonl",
        }
    }
}

/// What is written about rooms and users (the original's AddChatRoomDetails and
/// AddUserDetails).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Details {
    /// The room's name in `Channel@name` (else its URI, as the original writes then).
    pub rooms: bool,
    /// `UserName`, `email` and `internal` on `Sender` (else only `id` and `uri`).
    pub users: bool,
}

/// How an export runs.
#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// The output directory; it must exist. `Attachment/` is made in it.
    pub dir: PathBuf,
    /// The lock file one exporter at a time holds; beside the database, so that every
    /// exporter of that database finds the same one.
    pub lock: PathBuf,
    /// The SIP domain, for rooms' `ma-chan://<domain>/<GUID>` URIs.
    pub domain: String,
    pub adapter: Adapter,
    /// One output file per room and batch (the original's OneChatRoomPerOutputFile), or
    /// one per batch with a conversation per room.
    pub one_room_per_file: bool,
    pub details: Details,
    /// Events in one batch at most.
    pub batch_events: u32,
    /// Content bytes in one batch at most (a batch holds at least one event).
    pub batch_bytes: usize,
    /// How long exported rows stay in the outbox; zero deletes them once durable.
    pub keep_exported: Duration,
}

impl ExportSettings {
    /// The defaults, writing to `dir` with the lock at `lock`.
    pub fn new(dir: PathBuf, lock: PathBuf, domain: String) -> ExportSettings {
        ExportSettings {
            dir,
            lock,
            domain,
            adapter: Adapter::Xml,
            one_room_per_file: false,
            details: Details {
                rooms: true,
                users: true,
            },
            batch_events: 10_000,
            batch_bytes: 16 * 1024 * 1024,
            keep_exported: Duration::ZERO,
        }
    }
}
