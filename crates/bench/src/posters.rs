//! Posters: what a phase drives to send one stamped message, whatever carries it (the
//! client library, a raw connection to the relay, or a lean member, module `lean`), so that
//! one posting loop serves every kind of member.

use bytes::Bytes;
use parlance_client::Client;
use tokio::sync::mpsc;

use crate::error::BenchError;
use crate::messages::relay_info;

/// Sends one message, stamped by the caller.
pub trait Poster: Send + Sync + 'static {
    fn post(&self, text: String) -> impl Future<Output = Result<(), BenchError>> + Send;
}

/// Posts through the client library, as a member signed in with it.
pub struct ClientPoster {
    pub client: Client,
    pub room: String,
}

impl Poster for ClientPoster {
    async fn post(&self, text: String) -> Result<(), BenchError> {
        Ok(self.client.post(&self.room, &text).await?)
    }
}

/// Posts to the relay: hands the relay's delivery of the text to a raw member's writer.
pub struct RawPoster {
    pub out: mpsc::UnboundedSender<Bytes>,
}

impl Poster for RawPoster {
    async fn post(&self, text: String) -> Result<(), BenchError> {
        self.out
            .send(relay_info(&text))
            .map_err(|_| BenchError::Failed("a relay connection closed".into()))
    }
}
