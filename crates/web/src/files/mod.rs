//! File transfer over HTTPS (docs/protocol.md, "File transfer over HTTPS"): the SOAP
//! service of Lync-family clients, `MGCWebService.asmx` ([`soap`]), and the plain API of
//! Parlance's own client ([`plain`]).
//!
//! Both take the same path through [`Files`]: every request is authorised by the chat
//! core's [`Transfers`] (the token, its room, the principal's rights now), bytes go to and
//! come from the [`FileStore`], and an upload in progress is held in one table
//! ([`uploads`]) whichever API it arrives through. An upload ends one of three ways: its
//! last byte arrives (the file is finished in the store, then completed in the database,
//! which spends the token and writes the compliance row), a request of it is refused (the
//! partial file and the file's row go, and the token may start over), or its token expires
//! first ([`Files::sweep`]).

mod ahead;
mod chat_first;
mod downloads;
mod plain;
mod range;
mod record_writes;
mod refusal;
mod soap;
mod uploads;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{post, put};
use bytes::Bytes;
use futures_util::Stream;
use parlance_chat::files::{CheckedGrant, FileSettings, Grant, Transfers};
use parlance_files::{Blob, FileError, FileStore};
use parlance_store::files::{Direction, StoredFile};
use tokio::runtime::Handle;
use tokio::sync::{OwnedMutexGuard, Semaphore};

pub use self::chat_first::ChatFirst;

use self::ahead::Next;
use self::downloads::OpenBlobs;
use self::record_writes::RecordWrites;
use self::refusal::Refusal;
use self::uploads::{InProgress, Uploads};

/// The file-transfer routes' state; cheap to clone.
#[derive(Debug, Clone)]
pub struct Files {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transfers: Transfers,
    /// The chat's runtime, where every call into the file records runs ([`Files::in_core`]).
    core: Handle,
    store: FileStore,
    uploads: Uploads,
    /// SOAP downloads' blobs between their chunks, with the grants they were sent under.
    open_blobs: OpenBlobs<(CheckedGrant, Next)>,
    /// What answers read ahead may hold, all downloads together ([`ahead::BUDGET`]).
    ahead_budget: Arc<Semaphore>,
    /// What a SOAP request may hold: one chunk, base64-encoded, and its envelope.
    soap_limits: mgc::Limits,
    /// Each step of a transfer waits its turn here.
    chat_first: Arc<ChatFirst>,
    /// Each write of the file records waits its turn here ([`Files::write_in_core`]).
    record_writes: RecordWrites,
}

impl Files {
    /// `core` is the chat's runtime: the file records' store work runs there. Transfers
    /// give way to the chat through `chat_first`.
    pub fn new(
        transfers: Transfers,
        core: Handle,
        store: FileStore,
        max_uploads_per_user: usize,
        chat_first: ChatFirst,
    ) -> Files {
        let soap_limits = mgc::Limits::for_chunk(transfers.settings().max_chunk_bytes);
        let chat_first = Arc::new(chat_first);
        Files {
            inner: Arc::new(Inner {
                transfers,
                core,
                store,
                uploads: Uploads::new(max_uploads_per_user),
                open_blobs: OpenBlobs::default(),
                ahead_budget: ahead::budget(),
                soap_limits,
                record_writes: RecordWrites::new(chat_first.clone()),
                chat_first,
            }),
        }
    }

    /// `MGCWebService.asmx` (and its WSDL) and the plain file API.
    pub fn routes(&self) -> Router {
        Router::new()
            .route(mgc::PATH, post(soap::call).get(soap::wsdl))
            .route(plain::PATH, put(plain::upload).get(plain::download))
            .with_state(self.clone())
    }

    /// Ends the uploads whose token expired before their last byte arrived (the partial
    /// file and the file's row go), then forgets the expired tokens; closes the blobs of
    /// downloads that stopped asking for chunks.
    pub async fn sweep(&self) {
        self.inner.open_blobs.sweep(std::time::Instant::now());
        let expired = match self
            .in_core(|t| async move { t.expired_uploads().await })
            .await
        {
            Ok(expired) => expired,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list expired uploads");
                return;
            }
        };
        for file in expired {
            if let Some((token, slot)) = self.inner.uploads.writing(file.id) {
                // An upload busy storing a chunk is left to that request, which checks the
                // token itself; the next sweep sees it again if it is still there.
                let Ok(mut progress) = slot.try_lock() else {
                    continue;
                };
                if let Some(progress) = progress.take() {
                    progress.upload.abort().await;
                }
                self.inner.uploads.remove(&token);
            }
            tracing::info!(room = %file.room_id, file = %file.name, "upload abandoned: its token expired");
            self.abandon(&file).await;
        }
        if let Err(e) = self
            .write_in_core(|t| async move { t.prune_tokens().await })
            .await
        {
            tracing::warn!(error = %e, "cannot prune expired file tokens");
        }
    }

    fn settings(&self) -> &FileSettings {
        self.inner.transfers.settings()
    }

    /// Runs `work` with the file records on the chat's runtime. This runtime is busy with
    /// the bytes of transfers: a store transaction started here would wait for a turn
    /// between every two of its statements while holding the store's single writer, and
    /// every chat message would queue behind it (fifty uploads made a room's posts wait
    /// about 100 ms for the writer). On the chat's runtime the statements follow at once.
    async fn in_core<T, E, F>(&self, work: impl FnOnce(Transfers) -> F) -> Result<T, Refusal>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Into<Refusal> + Send + 'static,
    {
        match self
            .inner
            .core
            .spawn(work(self.inner.transfers.clone()))
            .await
        {
            Ok(result) => result.map_err(Into::into),
            Err(e) => {
                tracing::error!(error = %e, "a file request's work in the chat core failed");
                Err(Refusal::Failed)
            }
        }
    }

    /// [`Files::in_core`] for work that writes the file records: it starts in its turn
    /// ([`record_writes`]), after the chat's output and after any other transfer's write,
    /// and holds the turn until it ends.
    async fn write_in_core<T, E, F>(&self, work: impl FnOnce(Transfers) -> F) -> Result<T, Refusal>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Into<Refusal> + Send + 'static,
    {
        let turn = self.inner.record_writes.turn().await;
        self.in_core(move |t| {
            let write = work(t);
            async move {
                let written = write.await;
                drop(turn);
                written
            }
        })
        .await
    }

    /// `direction`: the token's, or `None` for a request either kind may make.
    async fn authorize(
        &self,
        token: &str,
        channel_id: Option<&str>,
        direction: Option<Direction>,
    ) -> Result<Grant, Refusal> {
        let (token, channel_id) = (token.to_owned(), channel_id.map(str::to_owned));
        self.in_core(move |t| async move {
            let channel_id = channel_id.as_deref();
            match direction {
                Some(direction) => t.authorize(&token, channel_id, direction).await,
                None => t.authorize_either(&token, channel_id).await,
            }
        })
        .await
    }

    /// The grant for a transfer, or for the next chunk of one (`AppendChunk`,
    /// `DownloadChunk`): `held`,
    /// the one its last chunk was served under, while it still holds
    /// ([`Transfers::still_holds`]); otherwise the token authorised anew. A 100 MB file is a
    /// hundred chunks, each waiting for the one before: two reads instead of six each, on a
    /// core runtime reached across threads, are time the client would otherwise wait.
    async fn transfer_grant(
        &self,
        token: &str,
        channel_id: Option<&str>,
        direction: Direction,
        held: Option<CheckedGrant>,
    ) -> Result<CheckedGrant, Refusal> {
        let (token, channel_id) = (token.to_owned(), channel_id.map(str::to_owned));
        self.in_core(move |t| async move {
            let channel_id = channel_id.as_deref();
            if let Some(held) = held
                && t.still_holds(&held, channel_id).await?
            {
                return Ok(held);
            }
            t.authorize_chunks(&token, channel_id, direction).await
        })
        .await
    }

    /// A repository name for the grant's upload, reserved.
    async fn reserve_name(&self, grant: &Grant, extension: &str) -> Result<StoredFile, Refusal> {
        let (grant, extension) = (grant.clone(), extension.to_owned());
        self.write_in_core(move |t| async move { t.reserve_name(&grant, &extension).await })
            .await
    }

    /// The largest file the grant may upload, in bytes.
    async fn max_file_bytes(&self, grant: &Grant) -> Result<u64, Refusal> {
        let grant = grant.clone();
        self.in_core(move |t| async move { t.max_file_bytes(&grant).await })
            .await
    }

    /// Starts the upload of `file` (the grant's), `file_length` bytes long, and returns its
    /// place in the table, locked, filled.
    async fn start_upload(
        &self,
        checked: &CheckedGrant,
        file: &StoredFile,
        file_length: u64,
    ) -> Result<OwnedMutexGuard<Option<InProgress>>, Refusal> {
        let grant = &checked.grant;
        let mut slot =
            self.inner
                .uploads
                .create(&grant.token.token, &grant.principal_uri, file.id)?;
        let (begun, begun_file) = (grant.clone(), file.clone());
        self.write_in_core(move |t| async move {
            t.begin_upload(&begun, &begun_file, file_length).await
        })
        .await?;
        let upload = self
            .inner
            .store
            .begin_upload(&grant.room_guid, &file.name)
            .await?;
        *slot = Some(InProgress {
            upload,
            checked: checked.clone(),
            file: file.clone(),
            file_length,
        });
        Ok(slot)
    }

    /// The last byte has arrived: the file is finished in the store (whole under its name),
    /// then completed in the database. Returns its size.
    async fn complete_upload(&self, grant: &Grant, progress: InProgress) -> Result<u64, Refusal> {
        self.inner.uploads.remove(&grant.token.token);
        let InProgress { upload, file, .. } = progress;
        let size = upload.finish().await?;
        let (completed, completed_file) = (grant.clone(), file.clone());
        let done = self
            .write_in_core(move |t| async move {
                t.complete_upload(&completed, &completed_file, size).await
            })
            .await;
        if let Err(refusal) = done {
            // In the store but not in the database: nothing may find it, so it goes.
            if let Err(e) = self.inner.store.remove(&grant.room_guid, &file.name).await {
                tracing::warn!(file = %file.name, error = %e, "cannot remove a file whose upload failed");
            }
            return Err(refusal);
        }
        Ok(size)
    }

    /// Ends `token`'s upload after a refusal: the partial file goes, and so does the row of
    /// its file (or of `reserved`, the file the token named), so the token can start over.
    async fn end_upload(&self, token: &str, reserved: Option<&StoredFile>) {
        let mut file = reserved.cloned();
        if let Some(slot) = self.inner.uploads.remove(token)
            && let Some(progress) = slot.lock().await.take()
        {
            progress.upload.abort().await;
            file = Some(progress.file);
        }
        if let Some(file) = file {
            self.abandon(&file).await;
        }
    }

    async fn abandon(&self, file: &StoredFile) {
        let abandoned = file.clone();
        let result = self
            .write_in_core(move |t| async move { t.abandon_upload(&abandoned).await })
            .await;
        if let Err(e) = result {
            tracing::warn!(file = %file.name, error = %e, "cannot abandon an upload");
        }
    }

    /// The download token's file, opened.
    async fn open_download<'g>(&self, grant: &'g Grant) -> Result<(&'g StoredFile, Blob), Refusal> {
        let file = Transfers::download_file(grant)?;
        let blob = self.inner.store.open(&grant.room_guid, &file.name).await?;
        Ok((file, blob))
    }

    /// The compliance row of a download, written once per token before its first byte
    /// leaves. The grant is marked, so that the chunks reusing it write none.
    async fn record_download(&self, grant: &mut Grant) -> Result<(), Refusal> {
        if !grant.token.download_recorded {
            let recorded = grant.clone();
            self.write_in_core(move |t| async move { t.record_download(&recorded).await })
                .await?;
            grant.token.download_recorded = true;
        }
        Ok(())
    }
}

/// Runs a request's work in a task of its own, to its end. When a client goes away, hyper
/// drops the future of its request; work that changes what is stored must not stop at an
/// arbitrary await (an upload half-cleaned, or finished in the store and never completed
/// in the database), so it goes on without the connection: an upload cut off is ended at
/// once rather than left for the sweeper.
async fn to_completion<T: Send + 'static>(
    work: impl Future<Output = Result<T, Refusal>> + Send + 'static,
) -> Result<T, Refusal> {
    tokio::spawn(work).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "a file request's task failed");
        Err(Refusal::Failed)
    })
}

/// How much of a file one step of a download reads and sends.
const STEP: usize = 64 * 1024;

/// `len` bytes of a stored file from `start`, read a step at a time as hyper sends them:
/// the body of a download, whichever API asked. Each step waits its turn after the chat
/// ([`ChatFirst`]). Once all are read, the blob goes to `done`, which may keep it for the
/// next part of the file.
fn read_steps(
    chat_first: Arc<ChatFirst>,
    blob: Blob,
    start: u64,
    len: u64,
    done: impl FnOnce(Blob) + Send + 'static,
) -> impl Stream<Item = Result<Bytes, FileError>> + Send + 'static {
    let end = start + len;
    let state = (blob, start, Some(done));
    futures_util::stream::try_unfold(state, move |(mut blob, at, mut done)| {
        let chat_first = chat_first.clone();
        async move {
            if at >= end {
                if let Some(done) = done.take() {
                    done(blob);
                }
                return Ok(None);
            }
            chat_first.turn().await;
            let want = usize::try_from(end - at).map_or(STEP, |left| left.min(STEP));
            let bytes = blob.read_at(at, want).await.inspect_err(|e| {
                tracing::warn!(error = %e, "download failed while reading the stored file");
            })?;
            if bytes.is_empty() {
                return Ok(None);
            }
            let next = at + bytes.len() as u64;
            Ok(Some((bytes, (blob, next, done))))
        }
    })
}

/// As much of a token as a log may show: tokens are secrets.
fn token_hint(token: &str) -> &str {
    let end = token.char_indices().nth(8).map_or(token.len(), |(i, _)| i);
    &token[..end]
}

/// One line per refused request: who, which token, why.
fn log_refusal(peer: SocketAddr, token: Option<&str>, request: &str, refusal: &Refusal) {
    let token = token.map(token_hint).unwrap_or_default();
    if refusal.is_failure() {
        tracing::warn!(%peer, token, request, error = %refusal, "file request failed");
    } else {
        tracing::info!(%peer, token, request, reason = %refusal, "file request refused");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_shows_no_more_than_eight_characters_of_a_token() {
        assert_eq!(
            token_hint("2baa3978-7511-4050-8be7-f1670d8fc220"),
            "2baa3978"
        );
        assert_eq!(token_hint("short"), "short");
        assert_eq!(token_hint("ééééééééé"), "éééééééé");
    }
}
