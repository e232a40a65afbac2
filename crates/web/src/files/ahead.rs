//! A SOAP download's next chunk, read before it is asked for. A Lync-family client asks for
//! one chunk, waits for all of it, decodes it, and only then asks for the next: while it
//! decodes, the server would sit idle, and while the server reads, decrypts and encodes the
//! next chunk, the client would. So once a chunk's bytes are read, the chunk after it, of
//! the same length, is read in a task of its own and written as its whole answer, and the
//! blob is parked with that task ([`super::downloads`]). A request for exactly that chunk
//! is answered with it at once, once its grant has been checked; any other request waits
//! for the task and reads from its blob.
//!
//! An answer read ahead is memory that no client has asked for yet, so all of them
//! together hold at most [`BUDGET`] bytes; a chunk whose answer does not fit is not read
//! ahead, and its blob is parked as it is.

use std::sync::Arc;

use bytes::Bytes;
use mgc::StreamedChunk;
use parlance_files::Blob;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::STEP;
use super::chat_first::ChatFirst;
use super::refusal::Refusal;

/// Bytes of answers read ahead, all downloads together: eleven chunks of the default
/// 1 MiB, each 1.4 MB of base64.
pub(crate) const BUDGET: usize = 16 * 1024 * 1024;

/// The budget's permits, one per byte of answer.
pub(crate) fn budget() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(BUDGET))
}

/// A download's blob between two chunks.
#[derive(Debug)]
pub(crate) enum Next {
    /// Where the last chunk left it (boxed: a blob is most of a kilobyte, the task a word).
    Blob(Box<Blob>),
    /// Reading the chunk after the last one.
    Ahead(Ahead),
}

#[derive(Debug)]
pub(crate) struct Ahead {
    offset: u64,
    len: usize,
    file_len: u64,
    task: JoinHandle<Result<ReadAhead, Refusal>>,
}

/// What the task leaves: the blob, the answer, and the answer's share of the budget, given
/// back when the answer is taken (or dropped unasked).
#[derive(Debug)]
struct ReadAhead {
    blob: Blob,
    answer: Bytes,
    _permit: OwnedSemaphorePermit,
}

/// What a request for a chunk finds.
#[derive(Debug)]
pub(crate) enum Taken {
    /// The chunk's whole answer, and the blob after it.
    Answer(Blob, Bytes),
    /// The blob, to read the chunk from.
    Blob(Blob),
}

impl Next {
    /// Starts reading the `len` bytes (at least one) at `offset` ahead, if `budget` has room
    /// for their answer; otherwise keeps the blob as it is. Each step of the read waits its
    /// turn after the chat.
    pub(crate) fn read_ahead(
        blob: Blob,
        offset: u64,
        len: usize,
        budget: &Arc<Semaphore>,
        chat_first: &Arc<ChatFirst>,
    ) -> Next {
        let (writer, head) = StreamedChunk::new(len);
        let permit = u32::try_from(writer.answer_len())
            .ok()
            .and_then(|bytes| budget.clone().try_acquire_many_owned(bytes).ok());
        let Some(permit) = permit else {
            return Next::Blob(Box::new(blob));
        };
        let file_len = blob.len();
        let chat_first = chat_first.clone();
        let task = tokio::spawn(async move {
            let (blob, answer) = read(&chat_first, blob, offset, len, writer, head).await?;
            Ok(ReadAhead {
                blob,
                answer,
                _permit: permit,
            })
        });
        Next::Ahead(Ahead {
            offset,
            len,
            file_len,
            task,
        })
    }

    /// The file's size.
    pub(crate) fn file_len(&self) -> u64 {
        match self {
            Next::Blob(blob) => blob.len(),
            Next::Ahead(ahead) => ahead.file_len,
        }
    }

    /// For a chunk of `len` bytes at `offset`: its answer, if that is the chunk read ahead;
    /// otherwise the blob, once the read ahead is done with it.
    pub(crate) async fn take(self, offset: u64, len: usize) -> Result<Taken, Refusal> {
        let ahead = match self {
            Next::Blob(blob) => return Ok(Taken::Blob(*blob)),
            Next::Ahead(ahead) => ahead,
        };
        let wanted = ahead.offset == offset && ahead.len == len;
        let read = ahead.task.await.map_err(|e| {
            tracing::error!(error = %e, "reading a download's next chunk failed");
            Refusal::Failed
        })??;
        Ok(match wanted {
            true => Taken::Answer(read.blob, read.answer),
            false => Taken::Blob(read.blob),
        })
    }
}

/// The whole answer of the `len` bytes at `offset`, put together in one buffer of its
/// exact length, after `head`.
async fn read(
    chat_first: &ChatFirst,
    mut blob: Blob,
    offset: u64,
    len: usize,
    mut writer: StreamedChunk,
    mut answer: Vec<u8>,
) -> Result<(Blob, Bytes), Refusal> {
    answer.reserve_exact(writer.answer_len() - answer.len());
    let end = offset + len as u64;
    let mut at = offset;
    while at < end {
        chat_first.turn().await;
        let want = usize::try_from(end - at).map_or(STEP, |left| left.min(STEP));
        let bytes = blob.read_at(at, want).await?;
        if bytes.is_empty() {
            break;
        }
        writer
            .push(&bytes, &mut answer)
            .map_err(|_| Refusal::Failed)?;
        at += bytes.len() as u64;
    }
    // Short only if the blob ended early, which its verified length rules out.
    writer.finish(&mut answer).map_err(|_| Refusal::Failed)?;
    Ok((blob, Bytes::from(answer)))
}

#[cfg(test)]
mod tests {
    use parlance_files::FileStore;

    use super::*;

    const ROOM: &str = "0b6f2a1e-3c4d-4e5f-8a9b-0c1d2e3f4a5b";

    const NAME: &str = "6d042d7b-50d1-4117-9bf0-5a8c0b11e842.bin";

    /// A store in a directory of its own holding one file of 300 KB (several segments),
    /// opened.
    async fn one_blob() -> (std::path::PathBuf, Blob, Vec<u8>) {
        let dir =
            std::env::temp_dir().join(format!("parlance-web-ahead-{}", rand::random::<u64>()));
        let store = FileStore::open_local(&dir, [7; 32]).await.unwrap();
        let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut upload = store.begin_upload(ROOM, NAME).await.unwrap();
        upload.write(&content).await.unwrap();
        upload.finish().await.unwrap();
        let blob = store.open(ROOM, NAME).await.unwrap();
        (dir, blob, content)
    }

    /// Steps that never wait for the chat.
    fn no_wait() -> Arc<ChatFirst> {
        Arc::new(ChatFirst::new(
            parlance_chat::backlog::OutputBacklog::new(),
            parlance_clock::Clock::default(),
            std::time::Duration::ZERO,
            parlance_metrics::Counter::default(),
            parlance_metrics::Counter::default(),
        ))
    }

    fn answer(bytes: &[u8]) -> Vec<u8> {
        mgc::write_response(&mgc::Response::DownloadChunk(bytes.to_vec()))
    }

    #[tokio::test]
    async fn the_chunk_read_ahead_is_its_whole_answer_and_gives_its_budget_back() {
        let (dir, blob, content) = one_blob().await;
        let budget = budget();
        let next = Next::read_ahead(blob, 1000, 200_000, &budget, &no_wait());
        assert!(matches!(next, Next::Ahead(_)));
        assert_eq!(next.file_len(), content.len() as u64);
        let Taken::Answer(mut blob, ready) = next.take(1000, 200_000).await.unwrap() else {
            panic!("the chunk read ahead");
        };
        assert_eq!(ready, answer(&content[1000..201_000]));
        assert_eq!(
            budget.available_permits(),
            BUDGET,
            "the budget is given back"
        );
        let rest = blob.read_at(201_000, 100_000).await.unwrap();
        assert_eq!(rest, content[201_000..]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn another_chunk_gets_the_blob_to_read_from() {
        let (dir, blob, content) = one_blob().await;
        for (offset, len) in [(1000, 149_999), (1001, 150_000), (0, 10)] {
            let next =
                Next::read_ahead(blob_again(&dir).await, 1000, 150_000, &budget(), &no_wait());
            let Taken::Blob(mut blob) = next.take(offset, len).await.unwrap() else {
                panic!("{len} bytes at {offset} were not read ahead");
            };
            let start = offset as usize;
            assert_eq!(
                blob.read_at(offset, len).await.unwrap(),
                content[start..start + len]
            );
        }
        drop(blob);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn nothing_is_read_ahead_beyond_the_budget() {
        let (dir, blob, _) = one_blob().await;
        let small = Arc::new(Semaphore::new(100_000));
        assert!(matches!(
            Next::read_ahead(blob, 0, 100_000, &small, &no_wait()),
            Next::Blob(_)
        ));
        assert_eq!(small.available_permits(), 100_000);
        std::fs::remove_dir_all(dir).unwrap();
    }

    async fn blob_again(dir: &std::path::Path) -> Blob {
        let store = FileStore::open_local(dir, [7; 32]).await.unwrap();
        store.open(ROOM, NAME).await.unwrap()
    }
}
