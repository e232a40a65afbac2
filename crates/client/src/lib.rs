//! A Rust client for Parlance and other Lync / OCS Group Chat servers.
//!
//! It connects over TLS (or TCP when asked), registers with Digest, and follows the path a
//! real client takes (docs/protocol.md, "The client"): the provisioning SUBSCRIBE, an INVITE to the chat pool
//! URI, `cmd:requri`, BYE, and an INVITE to the channel server it names. Then [`Client`]
//! offers rooms, joins, history, posting, invitations and file tokens, and [`Events`]
//! brings messages, roster changes and the state of the connection. The session refreshes
//! itself (UPDATE every Session-Expires − 10 s), keeps the registration alive, asks a
//! silent server whether it is still there, and after a lost connection signs in again with
//! back-off (to another server of the pool when it was given several), re-joins every room
//! and replays what was missed from history.
//!
//! Layers: the SIP protocol state (dialogs, CSeq, transactions matched by Call-ID and CSeq,
//! Digest) and the XCCOS bodies are plain values without I/O; one link per connection owns
//! the socket; one session task owns the protocol state and serves the handles through
//! channels.
//!
//! ```no_run
//! use parlance_client::{Client, ClientConfig, Event, Transport, Trust};
//!
//! # async fn demo() -> Result<(), parlance_client::ClientError> {
//! let trust = Trust::ca_file("parlance-data/tls-cert.pem".as_ref())?;
//! let config = ClientConfig::new("127.0.0.1:5061", "alice@example.com", "secret", Transport::Tls(trust));
//! let (client, mut events) = Client::connect(config).await?;
//! let lobby = client.find_room("Lobby").await?;
//! client.join(&lobby.uri).await?;
//! client.post(&lobby.uri, "hello").await?;
//! while let Some(event) = events.next().await {
//!     if let Event::Message(line) = event {
//!         println!("{}: {}", line.author, line.text);
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod client;
mod config;
mod dial;
mod envelopes;
mod error;
mod events;
mod files;
mod link;
mod servers;
mod session;
mod sip;
mod tls;
mod types;

pub use client::Client;
pub use config::{ClientConfig, Reconnect, Transport};
pub use error::ClientError;
pub use events::{Event, Events};
pub use files::{FILE_LINK_SCHEME, FileLink, PostedFile, posted_files, safe_file_name};
pub use tls::{CertificatePin, Trust};
pub use types::{
    BatchJoin, ChatLine, FileToken, HistoryQuery, Invitation, Joined, Member, RoomInfo, ServerInfo,
    Visibility,
};
