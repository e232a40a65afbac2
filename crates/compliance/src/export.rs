//! One export run: batches from the cursor on, each made durable before the cursor moves
//! past it; then the exported rows the retention lets go are pruned.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parlance_clock::Clock;
use parlance_files::FileStore;
use parlance_store::history::{ComplianceEvent, CompliancePage, CompliancePages};
use parlance_store::{LockFile, Store};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::attach::{self, ATTACHMENT_DIR, Attachment};
use crate::durable::{self, Counting};
use crate::error::ExportError;
use crate::manifest::{self, Entry};
use crate::model::{self, Conversation, MessageType};
use crate::writer_thread::WriterThread;
use crate::{Adapter, ExportSettings, jsonl, xml};

/// Outbox rows read per query (at most) while a batch fills. Each query costs some wake-ups
/// of threads and a statement's setup besides its rows: pages of 2,500 exported ~9 % faster
/// than pages of 1,000, pages of 5,000 no faster.
const PAGE: u32 = 2_500;
/// Batches each writer may have written and be syncing before the publisher takes them: a
/// sync waits for the disk, and several of them under way at once share its waits. A
/// staged batch holds its files, not its events.
const SYNCS_AHEAD: usize = 4;
/// Events a batch reserves room for at once: beyond this, it grows as it fills.
const MAX_RESERVED: usize = 16_384;

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Events written.
    pub events: u64,
    /// Output files written (manifests and attachments not counted).
    pub files: u64,
    /// Attachments copied, and FILEUPLOADs whose file could not be.
    pub attachments: u64,
    pub missing_attachments: u64,
    /// Bytes written: output files, manifests and attachments.
    pub bytes: u64,
    /// Exported outbox rows deleted.
    pub pruned: u64,
    /// The cursor after the run: the last outbox row the archive holds.
    pub cursor: i64,
}

impl ExportReport {
    /// Counts a published batch's files and events in the run's.
    fn add(&mut self, batch: &ExportReport) {
        self.events += batch.events;
        self.files += batch.files;
        self.attachments += batch.attachments;
        self.missing_attachments += batch.missing_attachments;
        self.bytes += batch.bytes;
    }
}

/// A point an export passes, for progress reports (the command line prints the files it
/// publishes; tests stop a child exporter at each point to crash it there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// An output file or manifest is written under its temporary name.
    Written(&'a Path),
    /// It is synced there.
    Synced(&'a Path),
    /// It is renamed into place (durable once its directory is synced).
    Published(&'a Path),
    /// An attachment is copied and renamed into place.
    AttachmentCopied(&'a Path),
    /// The files of the batches from `first` to `last` (one or more, published together)
    /// are durable; the cursor moves to `last` next.
    Durable { first: i64, last: i64 },
    /// The cursor moved.
    Committed { cursor: i64 },
}

/// Receives the [`Step`]s of a run, on whichever thread reaches them.
pub trait Progress: Send + Sync {
    fn step(&self, step: Step<'_>);
}

/// Exports the compliance outbox of a store; see the crate documentation.
#[derive(Clone)]
pub struct Exporter {
    store: Store,
    files: FileStore,
    settings: ExportSettings,
    clock: Clock,
    progress: Option<Arc<dyn Progress>>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Exporter {
    pub fn new(store: Store, files: FileStore, settings: ExportSettings) -> Exporter {
        Exporter {
            store,
            files,
            settings,
            clock: Clock::default(),
            progress: None,
        }
    }

    /// The clock that stamps the cursor and judges `keep_exported` (the server's).
    pub fn with_clock(mut self, clock: Clock) -> Exporter {
        self.clock = clock;
        self
    }

    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Exporter {
        self.progress = Some(progress);
        self
    }

    /// Exports every outbox row after the cursor recorded at or before `until` (all when
    /// `None`), stopping at the first one recorded later, then prunes exported rows.
    /// [`ExportError::Busy`] at once when another exporter runs.
    pub async fn export(
        &self,
        until: Option<jiff::Timestamp>,
    ) -> Result<ExportReport, ExportError> {
        let _lock = self.lock()?;
        let mut report = ExportReport {
            cursor: self.store.export_cursor().await?,
            ..ExportReport::default()
        };
        let (dir, cursor) = (self.settings.dir.clone(), report.cursor);
        blocking(dir.clone(), move || prepare(&dir, cursor))
            .await
            .map_err(|e| match e {
                ExportError::Write { path, source } => ExportError::Directory { path, source },
                e => e,
            })?;
        let until = until.map(|t| i64::try_from(t.as_nanosecond()).unwrap_or(i64::MAX));
        // Batches go through three stages, each a loop of its own, handing them on through
        // queues: the newest is read from the database; the ones before it are written —
        // grouped, their XML written under temporary names, their sync started — by two
        // writers taking turns, each on a thread of its own; and the ones before those are
        // published in the same turns — their syncs waited for, renamed, the directory
        // synced — and the cursor moved past them. Reading is the database's work, on its
        // connections' threads; writing is a core's, for longer than reading is; syncs wait
        // for the disk without using a core, several at once sharing its waits. Batches are
        // published in order, each only once the one before it is durable and behind the
        // cursor: a batch's files are never in place before every earlier event is archived.
        let outbox = Outbox {
            pages: self.store.compliance_pages(report.cursor, PAGE),
            rest: None,
            ended: false,
            until,
        };
        let [(to_write_a, writes_a), (to_write_b, writes_b)] = [(); 2].map(|()| mpsc::channel(1));
        let [(written_a, to_publish_a), (written_b, to_publish_b)] =
            [(); 2].map(|()| mpsc::channel(SYNCS_AHEAD));
        // The reader and the writers own their senders, so that a queue closes when the
        // stage before it ends; a stage's error ends the run, the others with it. The
        // reader owns the outbox's reader, which lets go of its snapshots and connections
        // as the reading ends, before the prune.
        let read = async move {
            let mut outbox = outbox;
            for turn in [&to_write_a, &to_write_b].into_iter().cycle() {
                let (batch, more) = self.next_batch(&mut outbox).await?;
                let span = (batch.events.first())
                    .zip(batch.events.last())
                    .map(|(first, last)| (first.id, last.id));
                let handed_on = match span {
                    Some(span) => turn.send((batch, span)).await.is_ok(),
                    None => true,
                };
                if !handed_on || !more {
                    break;
                }
            }
            Ok::<_, ExportError>(())
        };
        // Batches written while the last ones were published go together: one directory
        // sync and one cursor move for all of them, as a database commits a group.
        let publish = async {
            let mut written = [to_publish_a, to_publish_b];
            let mut turn = 0;
            while let Some(staged) = written[turn].recv().await {
                turn = (turn + 1) % written.len();
                let mut group = vec![staged];
                while let Ok(staged) = written[turn].try_recv() {
                    turn = (turn + 1) % written.len();
                    group.push(staged);
                }
                for staged in &mut group {
                    self.synced(staged).await?;
                }
                report.cursor = self.publish(&group, report.cursor).await?;
                for staged in &group {
                    report.add(&staged.tally);
                }
            }
            Ok::<_, ExportError>(())
        };
        tokio::try_join!(
            read,
            self.write(writes_a, written_a),
            self.write(writes_b, written_b),
            publish
        )?;
        let keep = i64::try_from(self.settings.keep_exported.as_nanos()).unwrap_or(i64::MAX);
        report.pruned = self
            .store
            .prune_exported(report.cursor, self.clock.unix_nanos().saturating_sub(keep))
            .await?;
        Ok(report)
    }

    /// Takes the exporters' lock, or says who holds it. The kernel releases it when the
    /// process ends, however it ends.
    fn lock(&self) -> Result<LockFile, ExportError> {
        let path = &self.settings.lock;
        match LockFile::try_take(path) {
            Ok(Some(lock)) => Ok(lock),
            Ok(None) => Err(ExportError::Busy(path.clone())),
            Err(source) => Err(ExportError::Write {
                path: path.clone(),
                source,
            }),
        }
    }

    /// The rows of the next batch with the principals and rooms they name, and whether more
    /// may follow (false once `until` or the end of the outbox is reached).
    async fn next_batch(&self, outbox: &mut Outbox) -> Result<(CompliancePage, bool), ExportError> {
        let max_events = self.settings.batch_events.max(1) as usize;
        let mut batch = CompliancePage {
            events: Vec::with_capacity(max_events.min(MAX_RESERVED)),
            ..CompliancePage::default()
        };
        let mut bytes = 0;
        let full = |bytes: usize, events: usize| {
            bytes >= self.settings.batch_bytes || events >= max_events
        };
        loop {
            let page = match outbox.rest.take() {
                Some(rest) => rest,
                None => {
                    let page = outbox.pages.next().await?;
                    outbox.ended = page.events.is_empty();
                    page
                }
            };
            let CompliancePage {
                events,
                principals,
                rooms,
            } = page;
            let mut events = events.into_iter();
            let mut more = true;
            for event in events.by_ref() {
                if outbox.until.is_some_and(|until| event.at > until) {
                    more = false;
                    break;
                }
                bytes += event.content.len();
                batch.events.push(event);
                if full(bytes, batch.events.len()) {
                    break;
                }
            }
            let rest: Vec<ComplianceEvent> = events.collect();
            if more && !rest.is_empty() {
                // The batch is full inside this page: the rest of it begins the next batch.
                outbox.rest = Some(CompliancePage {
                    events: rest,
                    principals: principals.clone(),
                    rooms: rooms.clone(),
                });
            }
            batch.principals.extend(principals);
            batch.rooms.extend(rooms);
            if !more || (outbox.ended && outbox.rest.is_none()) {
                return Ok((batch, false));
            }
            if full(bytes, batch.events.len()) {
                return Ok((batch, true));
            }
        }
    }

    /// One writer: stages the batches `writes` hands it, in turn, on a thread of its own,
    /// and hands them to `written` with their files' syncs under way on the blocking pool.
    async fn write(
        &self,
        mut writes: mpsc::Receiver<(CompliancePage, (i64, i64))>,
        written: mpsc::Sender<Staged>,
    ) -> Result<(), ExportError> {
        let thread = WriterThread::start().map_err(|source| ExportError::Write {
            path: self.settings.dir.clone(),
            source,
        })?;
        while let Some((batch, span)) = writes.recv().await {
            let staged = self.stage(&thread, batch, span).await?;
            if written.send(staged).await.is_err() {
                break;
            }
        }
        Ok(())
    }

    /// Writes a batch's files — attachments, then manifests and output files under their
    /// temporary names, their syncs started — for [`Exporter::publish`] to put in place. `span` is the batch's first and last outbox row; files are named
    /// after the first.
    async fn stage(
        &self,
        thread: &WriterThread,
        batch: CompliancePage,
        (first, last): (i64, i64),
    ) -> Result<Staged, ExportError> {
        let mut staged = Staged {
            first,
            last,
            files: Vec::new(),
            syncs: Vec::new(),
            attachments: false,
            tally: ExportReport {
                events: batch.events.len() as u64,
                ..ExportReport::default()
            },
        };
        // Grouping is CPU work: on the writer's thread beside the XML, not on the thread
        // that takes the next pages apart.
        let domain = self.settings.domain.clone();
        let conversations = thread
            .run(self.settings.dir.clone(), move || {
                warn_clock_steps(&batch.events);
                Ok(model::conversations(batch, &domain))
            })
            .await?;
        let prefix = batch_prefix(first);
        let units: Vec<(String, Vec<Conversation>)> = if self.settings.one_room_per_file {
            conversations
                .into_iter()
                .map(|c| (format!("{prefix}-room{}", c.channel.room_id), vec![c]))
                .collect()
        } else {
            vec![(prefix, conversations)]
        };
        for (base, conversations) in units {
            let output = format!("{base}.{}", self.settings.adapter.extension());
            let entries = self
                .copy_attachments(&conversations, &mut staged.tally)
                .await?;
            staged.attachments |= entries
                .iter()
                .any(|e| matches!(e.attachment, Attachment::Copied { .. }));
            if !entries.is_empty() {
                let output = output.clone();
                let written = self
                    .write_temporary(thread, &format!("{base}.ATTACH"), move |w| {
                        manifest::write_manifest(w, &output, &entries).map(drop)
                    })
                    .await?;
                staged.add(written);
            }
            let (adapter, details) = (self.settings.adapter, self.settings.details);
            let written = self
                .write_temporary(thread, &output, move |w| match adapter {
                    Adapter::Xml => xml::write_conversations(w, &conversations, details).map(drop),
                    Adapter::JsonLines => jsonl::write_lines(w, &conversations, details).map(drop),
                })
                .await?;
            staged.add(written);
            staged.tally.files += 1;
        }
        Ok(staged)
    }

    /// Waits for a staged batch's files to be synced under their temporary names.
    async fn synced(&self, staged: &mut Staged) -> Result<(), ExportError> {
        for (sync, path) in staged.syncs.drain(..).zip(&staged.files) {
            (sync.await)
                .unwrap_or_else(|e| Err(io::Error::other(e)))
                .map_err(|source| ExportError::Write {
                    path: durable::temporary_path(path),
                    source,
                })?;
        }
        for path in &staged.files {
            self.report(Step::Synced(&durable::temporary_path(path)));
        }
        Ok(())
    }

    /// Puts staged batches' files in place, in order, and makes them durable (renamed,
    /// their directories synced), then moves the cursor from `cursor` past the last batch;
    /// returns the new cursor.
    async fn publish(&self, batches: &[Staged], cursor: i64) -> Result<i64, ExportError> {
        let (Some(first), Some(last)) = (batches.first(), batches.last()) else {
            return Ok(cursor);
        };
        for path in batches.iter().flat_map(|b| &b.files) {
            let target = path.clone();
            blocking(path.clone(), move || durable::publish(&target)).await?;
            self.report(Step::Published(path));
        }
        let dir = self.settings.dir.clone();
        let attachments = batches.iter().any(|b| b.attachments);
        blocking(dir.clone(), move || {
            if attachments {
                durable::sync_dir(&dir.join(ATTACHMENT_DIR))?;
            }
            durable::sync_dir(&dir)
        })
        .await?;
        let (first, last) = (first.first, last.last);
        self.report(Step::Durable { first, last });
        self.store
            .move_export_cursor(cursor, last, self.clock.unix_nanos())
            .await?;
        self.report(Step::Committed { cursor: last });
        Ok(last)
    }

    /// Copies the file of every FILEUPLOAD in `conversations`; the manifest's entries.
    async fn copy_attachments(
        &self,
        conversations: &[Conversation],
        report: &mut ExportReport,
    ) -> Result<Vec<Entry>, ExportError> {
        let mut entries = Vec::new();
        for c in conversations {
            for m in c
                .messages
                .iter()
                .filter(|m| m.kind == MessageType::FileUpload)
            {
                let record = self.store.room_file(c.channel.room_id, &m.content).await?;
                let attachment = match &record {
                    Some(_) => {
                        attach::copy(
                            &self.files,
                            &self.settings.dir,
                            &c.channel.guid,
                            m.event_id,
                            &m.content,
                        )
                        .await?
                    }
                    None => Attachment::Missing {
                        reason: "removed from the room",
                    },
                };
                match &attachment {
                    Attachment::Copied { path, size, .. } => {
                        report.attachments += 1;
                        report.bytes += size;
                        self.report(Step::AttachmentCopied(&self.settings.dir.join(path)));
                    }
                    Attachment::Missing { reason } => {
                        report.missing_attachments += 1;
                        tracing::warn!(
                            event = m.event_id,
                            room = %c.channel.uri,
                            file = %m.content,
                            "compliance export: a posted file is {reason}; its FILEUPLOAD is archived, the manifest says it is missing"
                        );
                    }
                }
                entries.push(Entry {
                    event_id: m.event_id,
                    channel: c.channel.uri.clone(),
                    content: m.content.to_string(),
                    original_name: record.map(|f| f.original_name).unwrap_or_default(),
                    attachment,
                });
            }
        }
        Ok(entries)
    }

    /// Writes `name` in the output directory through `fill` under its temporary name, on
    /// the writer's `thread`, and starts its sync.
    async fn write_temporary(
        &self,
        thread: &WriterThread,
        name: &str,
        fill: impl FnOnce(&mut Counting<io::BufWriter<File>>) -> io::Result<()> + Send + 'static,
    ) -> Result<Written, ExportError> {
        let path = self.settings.dir.join(name);
        let target = path.clone();
        let (file, bytes) = thread
            .run(path.clone(), move || {
                durable::write_temporary(&target, fill)
            })
            .await?;
        self.report(Step::Written(&durable::temporary_path(&path)));
        // The disk's wait for it goes on beside the writer's next work.
        let sync = tokio::task::spawn_blocking(move || file.sync_all());
        Ok(Written { path, bytes, sync })
    }

    fn report(&self, step: Step<'_>) {
        if let Some(progress) = &self.progress {
            progress.step(step);
        }
    }
}

/// Where the batches come from: the outbox, page after page, and the rest of a page the
/// last batch ended inside of.
struct Outbox {
    pages: CompliancePages,
    rest: Option<CompliancePage>,
    /// Whether the last page read was empty: the end of the outbox as the export found it
    /// (what is recorded later is the next run's).
    ended: bool,
    /// The last instant exported (unix nanoseconds), if any.
    until: Option<i64>,
}

/// A batch written under temporary names, waiting to be synced, then published.
#[derive(Debug)]
struct Staged {
    first: i64,
    last: i64,
    /// Its output files and manifests, by their final paths.
    files: Vec<PathBuf>,
    /// Their syncs, under way on the blocking pool, in the same order.
    syncs: Vec<JoinHandle<io::Result<()>>>,
    /// Whether attachments were copied for it (their directory then needs a sync too).
    attachments: bool,
    /// What it adds to the run's report once it is published.
    tally: ExportReport,
}

impl Staged {
    fn add(&mut self, written: Written) {
        self.tally.bytes += written.bytes;
        self.files.push(written.path);
        self.syncs.push(written.sync);
    }
}

/// A file written under its temporary name: its final path, the bytes in it, and its sync,
/// under way.
struct Written {
    path: PathBuf,
    bytes: u64,
    sync: JoinHandle<io::Result<()>>,
}

/// What the names of a batch's files begin with: its first outbox row.
fn batch_prefix(first: i64) -> String {
    format!("{BATCH_PREFIX}{first:012}")
}

const BATCH_PREFIX: &str = "conversations-";

/// The first outbox row of the batch a file `name` belongs to, if it is one of a batch's.
fn batch_of(name: &str) -> Option<i64> {
    let rest = name.strip_prefix(BATCH_PREFIX)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (number, after) = rest.split_at(digits);
    after.starts_with(['.', '-']).then(|| number.parse().ok())?
}

/// Checks the output directory, makes its `Attachment` subdirectory, and removes what an
/// interrupted run left: temporary files in both, and the files of every batch past
/// `cursor` — published, perhaps, but never behind the cursor, so their events are
/// exported again now, in batches that need not fall as theirs did. Their removal is made
/// durable before any file of this run is published.
fn prepare(dir: &Path, cursor: i64) -> io::Result<()> {
    if !std::fs::metadata(dir)?.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        ));
    }
    let attachments = dir.join(ATTACHMENT_DIR);
    std::fs::create_dir_all(&attachments)?;
    durable::remove_temporaries(dir)?;
    durable::remove_temporaries(&attachments)?;
    let mut removed = false;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let past = batch_of(&name.to_string_lossy()).is_some_and(|first| first > cursor);
        // Anything else in the way of a file this run writes is the operator's to remove;
        // the run stops at it with an error naming it.
        if past && entry.file_type()?.is_file() {
            std::fs::remove_file(dir.join(&name))?;
            removed = true;
        }
    }
    if removed {
        durable::sync_dir(dir)?;
    }
    Ok(())
}

/// Events keep outbox order whatever their times say; a time that goes backwards means the
/// server's clock was stepped back, which the operator should know of.
fn warn_clock_steps(events: &[ComplianceEvent]) {
    let mut backwards = events.windows(2).filter(|w| w[1].at < w[0].at);
    if let Some(w) = backwards.next() {
        tracing::warn!(
            steps = 1 + backwards.count(),
            first_row = w[1].id,
            "compliance export: event times go backwards (the server clock was stepped back); events stay in outbox order"
        );
    }
}

/// Runs file work on the blocking pool; an error names `path`.
async fn blocking<T: Send + 'static>(
    path: PathBuf,
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, ExportError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e)))
        .map_err(|source| ExportError::Write { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_a_file_belongs_to() {
        let first = batch_prefix(42);
        assert_eq!(batch_of(&format!("{first}.xml")), Some(42));
        assert_eq!(batch_of(&format!("{first}.ATTACH")), Some(42));
        assert_eq!(batch_of(&format!("{first}-room7.jsonl")), Some(42));
        assert_eq!(
            batch_of("conversations-1234567890123.xml"),
            Some(1_234_567_890_123)
        );
        for other in [
            "conversations-.xml",
            "conversations-12",
            "conversations-12x.xml",
            ".conversations-000000000042.xml.tmp",
            "notes.txt",
            "Attachment",
        ] {
            assert_eq!(batch_of(other), None, "{other}");
        }
    }
}
