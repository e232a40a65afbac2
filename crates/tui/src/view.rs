//! One window of the terminal client: the home window or a joined room, with its
//! messages (by id, so history and live lines merge without duplicates), the files they
//! post (numbered as they arrive, so a number stays with its file however history loads),
//! notes about what happened, the roster, unread count and scroll position.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use parlance_client::{ChatLine, Joined, PostedFile};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::format;

/// Columns of the time stamp in front of each message (`HH:MM `).
const TIME_WIDTH: usize = 6;

#[derive(Debug)]
pub struct View {
    /// The room's URI; `None` for the home window.
    pub room: Option<String>,
    pub title: String,
    pub topic: String,
    /// False once a re-join after a reconnect failed.
    pub joined: bool,
    messages: BTreeMap<u64, ChatLine>,
    /// Notes, each shown after the message with the id it is anchored to (0: first).
    notes: Vec<(u64, Note)>,
    /// Files posted in the messages, `[file 1]` first.
    files: Vec<PostedFile>,
    /// Who is here: `sip:` URI → manager.
    pub roster: BTreeMap<String, bool>,
    pub unread: usize,
    /// Lines scrolled up from the bottom.
    pub scroll: usize,
    pub loading_older: bool,
    /// The server has no older history.
    pub history_exhausted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub error: bool,
}

impl View {
    pub fn home() -> View {
        View::new(None, "Parlance".into(), String::new())
    }

    pub fn room(joined: &Joined) -> View {
        let mut view = View::new(
            Some(joined.room.uri.clone()),
            joined.room.name.clone(),
            joined.room.topic.clone(),
        );
        view.set_roster(joined);
        for line in &joined.history {
            view.add_message(line.clone());
        }
        view
    }

    fn new(room: Option<String>, title: String, topic: String) -> View {
        View {
            room,
            title: format::printable(&title).into_owned(),
            topic: format::printable(&topic).into_owned(),
            joined: true,
            messages: BTreeMap::new(),
            notes: Vec::new(),
            files: Vec::new(),
            roster: BTreeMap::new(),
            unread: 0,
            scroll: 0,
            loading_older: false,
            history_exhausted: false,
        }
    }

    pub fn set_roster(&mut self, joined: &Joined) {
        self.roster = joined
            .roster
            .iter()
            .map(|m| (m.uri.clone(), m.manager))
            .collect();
    }

    /// Adds a message; `false` when it was there already. Files it posts get the next
    /// numbers and are shown by them.
    pub fn add_message(&mut self, mut line: ChatLine) -> bool {
        let id = line.id.unwrap_or_else(|| self.last_id() + 1);
        match self.messages.entry(id) {
            std::collections::btree_map::Entry::Occupied(_) => false,
            std::collections::btree_map::Entry::Vacant(slot) => {
                let files = parlance_client::posted_files(&line.text);
                if !files.is_empty() {
                    line.text = format::with_file_numbers(&line.text, &files, self.files.len() + 1);
                    self.files.extend(files);
                }
                slot.insert(line);
                true
            }
        }
    }

    /// The file shown as `[file number]`.
    pub fn file(&self, number: usize) -> Option<&PostedFile> {
        self.files.get(number.checked_sub(1)?)
    }

    fn last_id(&self) -> u64 {
        self.messages.last_key_value().map_or(0, |(id, _)| *id)
    }

    pub fn oldest_id(&self) -> Option<u64> {
        self.messages.first_key_value().map(|(id, _)| *id)
    }

    /// A note after the newest message.
    pub fn note(&mut self, text: impl Into<String>) {
        let anchor = self.last_id();
        self.notes.push((
            anchor,
            Note {
                text: text.into(),
                error: false,
            },
        ));
    }

    pub fn error(&mut self, text: impl Into<String>) {
        let anchor = self.last_id();
        self.notes.push((
            anchor,
            Note {
                text: text.into(),
                error: true,
            },
        ));
    }

    /// Everything in the window, wrapped to `width` columns, oldest first.
    pub fn lines(&self, width: usize, me: &str, tz: &TimeZone) -> Vec<Line<'static>> {
        let mut out = Vec::new();
        let mut notes = self.notes.iter().peekable();
        for (id, message) in &self.messages {
            while let Some((_, note)) = notes.next_if(|(anchor, _)| anchor < id) {
                note_lines(note, width, &mut out);
            }
            message_lines(message, width, me, tz, &mut out);
        }
        for (_, note) in notes {
            note_lines(note, width, &mut out);
        }
        out
    }
}

fn message_lines(
    m: &ChatLine,
    width: usize,
    me: &str,
    tz: &TimeZone,
    out: &mut Vec<Line<'static>>,
) {
    // An alert is marked before its author, in red: the original shows alerts apart.
    let name = format!(
        "{}{}",
        if m.alert { format::ALERT_MARK } else { "" },
        format::short_name(&m.author, me)
    );
    let name_style = if m.alert {
        Style::new().fg(Color::Red)
    } else if m.author == me {
        Style::new().fg(Color::Green)
    } else {
        Style::new().fg(Color::Cyan)
    }
    .add_modifier(Modifier::BOLD);
    let head = name.width() + 2;
    let first = width.saturating_sub(TIME_WIDTH + head);
    let rest = width.saturating_sub(TIME_WIDTH);
    let mut pieces = wrap(&m.text, first, rest).into_iter();
    let time = format!("{:<w$}", format::clock(m.time, tz), w = TIME_WIDTH);
    let time_style = Style::new().fg(Color::DarkGray);
    out.push(Line::from(vec![
        Span::styled(time, time_style),
        Span::styled(name, name_style),
        Span::raw(": "),
        Span::raw(pieces.next().unwrap_or_default()),
    ]));
    for piece in pieces {
        out.push(Line::from(vec![
            Span::raw(" ".repeat(TIME_WIDTH)),
            Span::raw(piece),
        ]));
    }
}

fn note_lines(note: &Note, width: usize, out: &mut Vec<Line<'static>>) {
    let style = if note.error {
        Style::new().fg(Color::Red)
    } else {
        Style::new().fg(Color::Yellow)
    };
    for (i, piece) in wrap(&note.text, width.saturating_sub(3), width.saturating_sub(3))
        .into_iter()
        .enumerate()
    {
        out.push(Line::from(vec![
            Span::styled(if i == 0 { "-- " } else { "   " }, style),
            Span::styled(piece, style),
        ]));
    }
}

/// Word-wraps `text`: the first line gets `first` columns, the others `rest`. Line breaks
/// in the text are kept; words wider than a line are cut; control characters are shown,
/// not obeyed ([`format::printable`]).
pub fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    let text = text.replace("\r\n", "\n");
    let text = format::printable(&text);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut used = 0;
    let limit = |lines: &Vec<String>| if lines.is_empty() { first } else { rest }.max(1);
    for (i, paragraph) in text.split('\n').enumerate() {
        if i > 0 {
            lines.push(std::mem::take(&mut current).trim_end().to_owned());
            used = 0;
        }
        for word in paragraph.split_inclusive(' ') {
            let bare = word.trim_end_matches(' ').width();
            if used > 0 && used + bare > limit(&lines) {
                lines.push(std::mem::take(&mut current).trim_end().to_owned());
                used = 0;
            }
            if used + bare <= limit(&lines) {
                current.push_str(word);
                used += word.width();
                continue;
            }
            for c in word.chars() {
                let w = c.width().unwrap_or(0);
                if used > 0 && used + w > limit(&lines) {
                    lines.push(std::mem::take(&mut current));
                    used = 0;
                }
                current.push(c);
                used += w;
            }
        }
    }
    lines.push(current.trim_end().to_owned());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: u64, text: &str) -> ChatLine {
        ChatLine {
            room: "ma-chan://d/r".into(),
            author: "sip:bob@d".into(),
            text: text.into(),
            id: Some(id),
            time: None,
            replayed: false,
            alert: false,
        }
    }

    fn texts(view: &View, width: usize) -> Vec<String> {
        view.lines(width, "sip:alice@d", &TimeZone::UTC)
            .iter()
            .map(|l| {
                l.spans
                    .iter()
                    .map(|s| s.content.as_ref())
                    .collect::<String>()
            })
            .collect()
    }

    #[test]
    fn wraps_words_and_cuts_long_ones() {
        assert_eq!(
            wrap("the quick brown fox", 9, 9),
            ["the quick", "brown fox"]
        );
        assert_eq!(wrap("a verylongword", 5, 6), ["a", "verylo", "ngword"]);
        assert_eq!(wrap("one\ntwo", 10, 10), ["one", "two"]);
        assert_eq!(wrap("", 10, 10), [""]);
        assert_eq!(wrap("日本語テキスト", 6, 6), ["日本語", "テキス", "ト"]);
    }

    #[test]
    fn history_and_live_lines_merge_once_and_notes_stay_in_place() {
        let mut v = View::home();
        v.note("welcome");
        assert!(v.add_message(line(5, "five")));
        v.note("bob joined");
        assert!(v.add_message(line(7, "seven")));
        assert!(!v.add_message(line(5, "five")), "a duplicate");
        assert!(v.add_message(line(3, "three")), "older history");
        assert_eq!(v.oldest_id(), Some(3));
        assert_eq!(
            texts(&v, 40),
            [
                "-- welcome",
                "--:-- bob: three",
                "--:-- bob: five",
                "-- bob joined",
                "--:-- bob: seven"
            ]
        );
        assert_eq!(texts(&View::home(), 40), Vec::<String>::new());
        let mut narrow = View::home();
        narrow.add_message(line(1, "a message that wraps"));
        assert_eq!(
            texts(&narrow, 20),
            ["--:-- bob: a message", "      that wraps"]
        );
    }

    #[test]
    fn files_keep_the_number_they_were_shown_with() {
        let link = |n: u32| {
            format!(
                "ma-filelink://d/0f8fad5b-d9cb-469f-a165-70867728950e/7c9e6679-7425-40de-944b-e07fc1f90a{n:02}.txt"
            )
        };
        let mut v = View::home();
        v.add_message(line(10, &format!("a.txt {}", link(1))));
        v.add_message(line(11, "no file"));
        v.add_message(line(5, &format!("older.txt {}", link(2))));
        assert!(
            !v.add_message(line(10, &format!("a.txt {}", link(1)))),
            "counted once"
        );
        assert_eq!(
            texts(&v, 40),
            [
                "--:-- bob: [file 2] older.txt",
                "--:-- bob: [file 1] a.txt",
                "--:-- bob: no file"
            ]
        );
        assert_eq!(v.file(1).map(|f| f.original_name.as_str()), Some("a.txt"));
        assert_eq!(v.file(2).map(|f| f.link.to_string()), Some(link(2)));
        assert!(v.file(0).is_none() && v.file(3).is_none());
    }
}
