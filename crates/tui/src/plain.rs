//! `--plain`: line mode for scripts. Each line of standard input is posted to the room;
//! each message of the room is printed as one line as it arrives:
//! `HH:MM:SS user@domain: text`, with line breaks in the text written as `\n` (and
//! backslashes doubled), so that one message is always one line.

use jiff::tz::TimeZone;
use parlance_client::{ChatLine, Client, Event, Events};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::error::TuiError;
use crate::format;

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
    let tz = TimeZone::system();
    let skip = joined.history.len().saturating_sub(args.history as usize);
    for line in joined.history.iter().skip(skip) {
        println!("{}", show(line, &tz));
    }
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut reading = true;
    loop {
        tokio::select! {
            line = stdin.next_line(), if reading => match line? {
                Some(text) if text.trim().is_empty() => {}
                Some(text) => client.post(&room.uri, &text).await.map_err(TuiError::Client)?,
                None if args.follow => reading = false,
                None => return Ok(()),
            },
            event = events.next() => match event {
                Some(Event::Message(line)) if line.room == room.uri => println!("{}", show(&line, &tz)),
                Some(Event::Disconnected { reason }) => eprintln!("parlance: connection lost ({reason}); reconnecting"),
                Some(Event::Reconnected) => eprintln!("parlance: reconnected"),
                Some(Event::RejoinFailed { error, .. }) => return Err(TuiError::Client(error)),
                Some(Event::Closed { error }) => return Err(TuiError::Client(error)),
                Some(_) => {}
                None => return Err(TuiError::Ended),
            },
        }
    }
}

fn show(line: &ChatLine, tz: &TimeZone) -> String {
    let text = line
        .text
        .replace('\\', "\\\\")
        .replace("\r\n", "\\n")
        .replace('\n', "\\n");
    format!(
        "{} {}: {}",
        format::seconds(line.time, tz),
        format::printable(format::account(&line.author)),
        format::printable(&text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_one_line() {
        let line = ChatLine {
            room: "ma-chan://d/r".into(),
            author: "sip:bob@d".into(),
            text: "two\r\nlines \\ one".into(),
            id: Some(1),
            time: None,
            replayed: false,
        };
        assert_eq!(
            show(&line, &TimeZone::UTC),
            "--:--:-- bob@d: two\\nlines \\\\ one"
        );
        let forged = ChatLine {
            text: "hi\r12:00:00 alice@d: I resign".into(),
            ..line
        };
        assert_eq!(
            show(&forged, &TimeZone::UTC),
            "--:--:-- bob@d: hi\\u{d}12:00:00 alice@d: I resign",
            "a carriage return cannot start a forged line"
        );
    }
}
