//! `--plain`: line mode for scripts. Each line of standard input is posted to the room;
//! each message of the room is printed as one line as it arrives:
//! `HH:MM:SS user@domain: text`, with line breaks in the text written as `\n` (and
//! backslashes doubled), so that one message is always one line. Files posted in a message
//! are shown as `[file N] name`, numbered as they are printed.
//!
//! A line `/upload FILE` or `/download N [PATH]` transfers a file instead of being posted;
//! it runs to its end before the next line is read, with its progress on standard error.
//! A line `/manage` prints the room's room-management page on standard error (and opens it
//! when there is a display).
//!
//! A line that cannot be done (too long for the server, not UTF-8, a post or a transfer
//! refused, a file number not shown) is refused with one line on standard error, and the
//! next line is read: one bad line in a script's output does not end the session.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use parlance_client::{ChatLine, Client, ClientError, Event, Events, PostedFile, RoomInfo};
use tokio::io::BufReader;

use crate::command::{self, DOWNLOAD_USAGE, Input, Slash, UPLOAD_USAGE};
use crate::error::TuiError;
use crate::format;
use crate::lines::{Line, Lines, MAX_LINE};
use crate::manage;
use crate::transfer::{self, Steps};

#[derive(Debug)]
pub struct PlainArgs {
    pub room: String,
    /// Keep printing after standard input ends.
    pub follow: bool,
    /// Print the last this many messages first.
    pub history: u32,
}

pub async fn run(client: &Client, mut events: Events, args: PlainArgs) -> Result<(), TuiError> {
    let room = client
        .find_room(&args.room)
        .await
        .map_err(TuiError::Client)?;
    let joined = client.join(&room.uri).await.map_err(TuiError::Client)?;
    let mut printer = Printer {
        tz: TimeZone::system(),
        files: Vec::new(),
    };
    let skip = joined.history.len().saturating_sub(args.history as usize);
    for line in joined.history.iter().skip(skip) {
        println!("{}", printer.show(line));
    }
    let mut stdin = Lines::new(BufReader::new(tokio::io::stdin()), MAX_LINE);
    let mut reading = true;
    loop {
        tokio::select! {
            line = stdin.next(), if reading => match line? {
                Some(Line::Text(text)) if text.trim().is_empty() => {}
                Some(Line::Text(text)) => match perform(client, &room, &printer.files, &text).await {
                    Err(e) if about_the_line(&e) => eprintln!("parlance: refused: {e}"),
                    done => done?,
                },
                Some(Line::TooLong(bytes)) => eprintln!(
                    "parlance: refused: the line has {bytes} bytes, more than the {MAX_LINE} a line may have"
                ),
                Some(Line::NotText) => eprintln!("parlance: refused: the line is not UTF-8 text"),
                None if args.follow => reading = false,
                None => return Ok(()),
            },
            event = events.next() => match event {
                Some(Event::Message(line)) if line.room == room.uri => println!("{}", printer.show(&line)),
                Some(Event::Disconnected { reason }) => eprintln!("parlance: connection lost ({reason}); reconnecting"),
                Some(Event::Reconnected { server }) => eprintln!("parlance: reconnected to {server}"),
                Some(Event::RejoinFailed { error, .. }) => return Err(TuiError::Client(error)),
                Some(Event::Closed { error }) => return Err(TuiError::Client(error)),
                Some(_) => {}
                None => return Err(TuiError::Ended),
            },
        }
    }
}

/// Whether an error concerns only the line that caused it: the line is refused, and the
/// session goes on with the next one. The others (the connection lost for good, standard
/// input unreadable) end it.
fn about_the_line(error: &TuiError) -> bool {
    match error {
        TuiError::NoFile(_) | TuiError::Usage(_) | TuiError::NoRoomManagement => true,
        TuiError::Client(e) => matches!(
            e,
            ClientError::TooLarge { .. }
                | ClientError::NotDelivered { .. }
                | ClientError::Forbidden { .. }
                | ClientError::NoSuchFile { .. }
                | ClientError::FileRefused { .. }
        ),
        _ => false,
    }
}

/// Posts a line, or carries out the file command it is.
async fn perform(
    client: &Client,
    room: &RoomInfo,
    files: &[PostedFile],
    text: &str,
) -> Result<(), TuiError> {
    match command::parse(text) {
        Input::Command(Slash::Upload(path)) => {
            let path = PathBuf::from(path);
            let name = path.display().to_string();
            let link = client
                .upload(&room.uri, &path, progress_line(&name))
                .await
                .map_err(TuiError::Client)?;
            eprintln!("parlance: uploaded {name} as {}", link.name);
        }
        Input::Command(Slash::Download { number, path }) => {
            let file = number
                .checked_sub(1)
                .and_then(|i| files.get(i))
                .ok_or(TuiError::NoFile(number))?;
            let destination = transfer::destination(
                &transfer::default_name(file),
                path.as_deref().map(Path::new),
            );
            let name = destination.display().to_string();
            let size = client
                .download(
                    &file.link.room_uri(),
                    &file.link.to_string(),
                    &destination,
                    progress_line(&name),
                )
                .await
                .map_err(TuiError::Client)?;
            eprintln!("parlance: saved {name} ({})", format::bytes(size));
        }
        Input::Command(Slash::Manage) => {
            let url = manage::page(client, Some(&room.uri)).await?;
            manage::open(&url);
            eprintln!("parlance: room management: {url}");
        }
        Input::Command(Slash::Usage(usage)) if [UPLOAD_USAGE, DOWNLOAD_USAGE].contains(&usage) => {
            return Err(TuiError::Usage(usage));
        }
        _ => client
            .post(&room.uri, text)
            .await
            .map_err(TuiError::Client)?,
    }
    Ok(())
}

/// Progress on standard error, rewritten in place when it is a terminal; scripts reading it
/// get only the line that ends the transfer.
fn progress_line(name: &str) -> impl Fn(u64, u64) + use<> {
    let name = format::printable(name).into_owned();
    let steps = Steps::default();
    let terminal = std::io::stderr().is_terminal();
    move |done, total| {
        if terminal && steps.moved(done, total) {
            let mut err = std::io::stderr();
            let _ = write!(
                err,
                "\r\x1b[Kparlance: {name} {} of {}",
                format::bytes(done),
                format::bytes(total)
            );
            if done == total {
                let _ = writeln!(err);
            }
        }
    }
}

/// Prints messages, numbering the files they post.
struct Printer {
    tz: TimeZone,
    files: Vec<PostedFile>,
}

impl Printer {
    fn show(&mut self, line: &ChatLine) -> String {
        let files = parlance_client::posted_files(&line.text);
        let text = format::with_file_numbers(&line.text, &files, self.files.len() + 1);
        self.files.extend(files);
        show(&text, line, &self.tz)
    }
}

fn show(text: &str, line: &ChatLine, tz: &TimeZone) -> String {
    let text = text
        .replace('\\', "\\\\")
        .replace("\r\n", "\\n")
        .replace('\n', "\\n");
    format!(
        "{} {}{}: {}",
        format::seconds(line.time, tz),
        if line.alert { format::ALERT_MARK } else { "" },
        format::printable(format::account(&line.author)),
        format::printable(&text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> ChatLine {
        ChatLine {
            room: "ma-chan://d/r".into(),
            author: "sip:bob@d".into(),
            text: text.into(),
            id: Some(1),
            time: None,
            replayed: false,
            alert: false,
        }
    }

    #[test]
    fn one_message_one_line() {
        let line = line("two\r\nlines \\ one");
        assert_eq!(
            show(&line.text, &line, &TimeZone::UTC),
            "--:--:-- bob@d: two\\nlines \\\\ one"
        );
        let forged = ChatLine {
            text: "hi\r12:00:00 alice@d: I resign".into(),
            ..line
        };
        assert_eq!(
            show(&forged.text, &forged, &TimeZone::UTC),
            "--:--:-- bob@d: hi\\u{d}12:00:00 alice@d: I resign",
            "a carriage return cannot start a forged line"
        );
        let alert = ChatLine {
            alert: true,
            text: "fire drill".into(),
            ..forged
        };
        assert_eq!(
            show(&alert.text, &alert, &TimeZone::UTC),
            "--:--:-- ! bob@d: fire drill"
        );
    }

    #[test]
    fn files_are_numbered_as_they_are_printed() {
        let link = "ma-filelink://d/0f8fad5b-d9cb-469f-a165-70867728950e/7c9e6679-7425-40de-944b-e07fc1f90ae7.txt";
        let mut printer = Printer {
            tz: TimeZone::UTC,
            files: Vec::new(),
        };
        assert_eq!(
            printer.show(&line(&format!("a.txt {link}"))),
            "--:--:-- bob@d: [file 1] a.txt"
        );
        assert_eq!(
            printer.show(&line(&format!("../b.txt {link}"))),
            "--:--:-- bob@d: [file 2] ../b.txt"
        );
        assert_eq!(transfer::default_name(&printer.files[1]), "b.txt");
    }
}
