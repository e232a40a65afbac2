//! Receivers of full members: each takes in one member's deliveries in a task of its own
//! and records them in its [`Tally`] until told to stop: on the client library, or (for the
//! relay) on a raw connection that does a client's work per message (decode, parse, 200).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use parlance_client::{Event, Events};
use sip_proto::{Decoder, Item, Limits, Message, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use xccos::Envelope;

use crate::delivery::{Shared, Tally};
use crate::measure::Stamp;

/// Takes in a client-library member's deliveries until `stop` changes or the client closes;
/// `own` is the poster number the member posts as, if it posts.
pub async fn receive_client(
    mut events: Events,
    own: Option<u32>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> Tally {
    let mut tally = Tally::default();
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Event::Message(line)) => {
                    if let Some(stamp) = Stamp::parse(&line.text) {
                        tally.record(stamp, own, &shared);
                    }
                }
                Some(Event::Closed { error }) => {
                    tracing::warn!(%error, "a member's client closed");
                    break;
                }
                Some(_) => {}
                None => break,
            },
            _ = stop.changed() => break,
        }
    }
    tally
}

/// A member of the relay room: a writer task fed by the returned sender, and a reader that
/// decodes each message, parses its XCCOS body, records it and answers 200 as a client does.
pub fn raw_member(
    stream: Box<dyn crate::wire::Stream>,
    own: Option<u32>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> (mpsc::UnboundedSender<Bytes>, JoinHandle<Tally>) {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (out, mut out_rx) = mpsc::unbounded_channel::<Bytes>();
    tokio::spawn(async move {
        while let Some(b) = out_rx.recv().await {
            if wr.write_all(&b).await.is_err() || wr.flush().await.is_err() {
                return;
            }
        }
    });
    let answers = out.clone();
    let task = tokio::spawn(async move {
        let mut tally = Tally::default();
        let mut decoder = Decoder::new(Limits::default());
        let mut buf = BytesMut::with_capacity(16 * 1024);
        loop {
            while let Ok(Some(item)) = decoder.decode(&mut buf) {
                if let Item::Message(Message::Request(req)) = item {
                    if let Ok(envelope) = Envelope::parse(&req.body, &xccos::Limits::default()) {
                        for m in envelope.messages {
                            if let xccos::Message::GrpChat(chat) = m
                                && let Some(stamp) = Stamp::parse(&chat.message.text)
                            {
                                tally.record(stamp, own, &shared);
                            }
                        }
                    }
                    let _ = answers.send(Bytes::from(Response::for_request(&req, 200).to_bytes()));
                }
            }
            tokio::select! {
                read = rd.read_buf(&mut buf) => if !matches!(read, Ok(n) if n > 0) { break },
                _ = stop.changed() => break,
            }
        }
        tally
    });
    (out, task)
}
