//! The full-screen client: the terminal, the loop that feeds keys, server events and
//! finished calls to [`App`], and the calls it asks for, each run in a task of its own so
//! that the screen never waits for the server (nor for a file transfer).

use std::time::Duration;

use crossterm::event::Event as TermEvent;
use jiff::tz::TimeZone;
use parlance_client::{Client, Events, HistoryQuery};
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;

use crate::app::{Action, App, OLDER_PAGE, Outcome};
use crate::error::TuiError;
use crate::manage;
use crate::transfer::{self, Steps};
use crate::ui;

/// Redraw at least this often, so that a finished call shows without a key press.
const REDRAW: Duration = Duration::from_secs(30);
const SEARCH_RESULTS: u32 = 20;

pub async fn run(client: Client, events: Events, room: Option<String>) -> Result<(), TuiError> {
    let mut terminal = ratatui::try_init().map_err(TuiError::NoTerminal)?;
    let result = main_loop(&mut terminal, &client, events, room).await;
    ratatui::restore();
    client.close().await;
    result
}

async fn main_loop(
    terminal: &mut DefaultTerminal,
    client: &Client,
    mut events: Events,
    room: Option<String>,
) -> Result<(), TuiError> {
    let mut app = App::new(client.user(), TimeZone::system());
    let (keys_tx, mut keys) = mpsc::channel(64);
    // crossterm reads block; a thread of their own keeps them off the runtime.
    std::thread::spawn(move || read_terminal(&keys_tx));
    let (done, mut outcomes) = mpsc::unbounded_channel();
    perform(client, Action::Rooms { announce: false }, &done);
    if let Some(room) = room {
        perform(client, Action::Join(room), &done);
    }
    let mut redraw = tokio::time::interval(REDRAW);
    let mut events_open = true;
    loop {
        terminal.draw(|frame| ui::draw(frame, &mut app))?;
        if app.quit {
            return Ok(());
        }
        tokio::select! {
            key = keys.recv() => match key {
                Some(Ok(TermEvent::Key(key))) => {
                    for action in app.on_key(key) {
                        perform(client, action, &done);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(TuiError::ReadTerminal(e)),
                None => return Ok(()),
            },
            event = events.next(), if events_open => match event {
                Some(event) => app.on_event(event),
                None => events_open = false,
            },
            Some(outcome) = outcomes.recv() => app.on_outcome(outcome),
            _ = redraw.tick() => {}
        }
    }
}

fn read_terminal(keys: &mpsc::Sender<std::io::Result<TermEvent>>) {
    loop {
        let event = crossterm::event::read();
        let failed = event.is_err();
        if keys.blocking_send(event).is_err() || failed {
            return;
        }
    }
}

/// Runs one call in its own task; its outcome comes back through `done`.
fn perform(client: &Client, action: Action, done: &mpsc::UnboundedSender<Outcome>) {
    let client = client.clone();
    let done = done.clone();
    tokio::spawn(async move {
        let outcome = match action {
            Action::Rooms { announce } => Outcome::Rooms {
                announce,
                result: client.rooms().await,
            },
            Action::Join(name) => Outcome::Joined(match client.find_room(&name).await {
                Ok(room) => client.join(&room.uri).await,
                Err(e) => Err(e),
            }),
            Action::Part(room) => Outcome::Parted {
                result: client.part(&room).await,
                room,
            },
            Action::Post { room, text } => Outcome::Posted(client.post(&room, &text).await),
            Action::Older { room, before } => Outcome::Older {
                result: client
                    .history(
                        &room,
                        HistoryQuery::Before {
                            id: before,
                            count: OLDER_PAGE,
                        },
                    )
                    .await,
                room,
            },
            Action::Search { room, text } => Outcome::Found {
                result: client
                    .history(
                        &room,
                        HistoryQuery::Search {
                            text: text.clone(),
                            count: SEARCH_RESULTS,
                        },
                    )
                    .await,
                room,
                text,
            },
            Action::Upload { id, room, path } => Outcome::Uploaded {
                id,
                result: client.upload(&room, &path, progress_of(id, &done)).await,
            },
            Action::Manage { room } => {
                Outcome::Managed(manage::page(&client, room.as_deref()).await.map(|url| {
                    let opened = manage::open(&url);
                    (url, opened)
                }))
            }
            Action::Download {
                id,
                link,
                path,
                name,
            } => {
                let destination = transfer::destination(&name, path.as_deref());
                let result = client
                    .download(
                        &link.room_uri(),
                        &link.to_string(),
                        &destination,
                        progress_of(id, &done),
                    )
                    .await;
                Outcome::Downloaded {
                    id,
                    result: result.map(|size| (destination, size)),
                }
            }
        };
        let _ = done.send(outcome);
    });
}

/// Transfer `id`'s progress as outcomes, one per step worth redrawing for.
fn progress_of(id: u64, done: &mpsc::UnboundedSender<Outcome>) -> impl Fn(u64, u64) + use<> {
    let done = done.clone();
    let steps = Steps::default();
    move |bytes, total| {
        if steps.moved(bytes, total) {
            let _ = done.send(Outcome::Progress {
                id,
                done: bytes,
                total,
            });
        }
    }
}
