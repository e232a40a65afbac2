//! The terminal client's state, and what each key, server event and finished call does to
//! it. No I/O here: calls to the server leave as [`Action`]s and their results come back
//! as [`Outcome`]s, so the behaviour is testable without a terminal or a server.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use jiff::tz::TimeZone;
use parlance_client::{ChatLine, ClientError, Event, FileLink, Joined, RoomInfo};

use crate::command::{self, HELP, Input, Slash};
use crate::error::TuiError;
use crate::format;
use crate::input::LineEditor;
use crate::transfer;
use crate::view::View;

/// Messages fetched per page of scroll-back.
pub const OLDER_PAGE: u32 = 50;

/// A call for the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// List the rooms; `announce` also writes them into the window.
    Rooms {
        announce: bool,
    },
    /// Join the room with this name or URI.
    Join(String),
    Part(String),
    Post {
        room: String,
        text: String,
    },
    Older {
        room: String,
        before: u64,
    },
    Search {
        room: String,
        text: String,
    },
    /// Upload a file into a room; transfer `id` reports its progress.
    Upload {
        id: u64,
        room: String,
        path: PathBuf,
    },
    /// The room-management page of `room` (`None`: the page that creates a room), opened
    /// in the browser when there is a display.
    Manage {
        room: Option<String>,
    },
    /// Download a file: to `path`, into it when it is a directory, or here; under `name`
    /// unless `path` names the file.
    Download {
        id: u64,
        link: FileLink,
        path: Option<PathBuf>,
        name: String,
    },
}

/// How a call ended.
#[derive(Debug)]
pub enum Outcome {
    Rooms {
        announce: bool,
        result: Result<Vec<RoomInfo>, ClientError>,
    },
    Joined(Result<Joined, ClientError>),
    Parted {
        room: String,
        result: Result<(), ClientError>,
    },
    Posted(Result<(), ClientError>),
    Older {
        room: String,
        result: Result<Vec<ChatLine>, ClientError>,
    },
    Found {
        room: String,
        text: String,
        result: Result<Vec<ChatLine>, ClientError>,
    },
    /// Transfer `id` has moved `done` of `total` bytes.
    Progress {
        id: u64,
        done: u64,
        total: u64,
    },
    Uploaded {
        id: u64,
        result: Result<FileLink, ClientError>,
    },
    /// Where the file went, and its size.
    Downloaded {
        id: u64,
        result: Result<(PathBuf, u64), ClientError>,
    },
    /// The room-management page, and whether it went to the browser.
    Managed(Result<(String, bool), TuiError>),
}

/// A file on its way, for the progress bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: u64,
    pub upload: bool,
    /// The file's name, printable.
    pub name: String,
    pub done: u64,
    pub total: u64,
}

/// The state of the connection, for the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Online,
    Reconnecting(String),
    Closed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
}

#[derive(Debug)]
pub struct App {
    /// Our `sip:` URI.
    pub me: String,
    /// The home window first, then the joined rooms.
    pub views: Vec<View>,
    pub active: usize,
    /// Every room we may join, from the last room list.
    pub available: Vec<RoomInfo>,
    pub input: LineEditor,
    pub status: Status,
    pub link: Link,
    pub quit: bool,
    /// The message pane's width and height at the last draw: paging needs them.
    pub pane: (usize, usize),
    pub tz: TimeZone,
    /// Files on their way, oldest first.
    pub transfers: Vec<Transfer>,
    next_transfer: u64,
}

impl App {
    pub fn new(me: &str, tz: TimeZone) -> App {
        let mut home = View::home();
        home.note(format!("Welcome to Parlance, {}.", format::account(me)));
        home.note("/rooms lists the rooms, /join ROOM joins one, /help shows the rest.");
        App {
            me: me.to_owned(),
            views: vec![home],
            active: 0,
            available: Vec::new(),
            input: LineEditor::default(),
            status: Status {
                text: "signed in; /help lists the commands".into(),
                error: false,
            },
            link: Link::Online,
            quit: false,
            pane: (40, 10),
            tz,
            transfers: Vec::new(),
            next_transfer: 1,
        }
    }

    fn info(&mut self, text: impl Into<String>) {
        self.status = Status {
            text: text.into(),
            error: false,
        };
    }

    fn fail(&mut self, text: impl Into<String>) {
        self.status = Status {
            text: text.into(),
            error: true,
        };
    }

    fn view_of(&mut self, room: &str) -> Option<&mut View> {
        self.views
            .iter_mut()
            .find(|v| v.room.as_deref() == Some(room))
    }

    fn index_of(&self, room: &str) -> Option<usize> {
        self.views
            .iter()
            .position(|v| v.room.as_deref() == Some(room))
    }

    fn switch_to(&mut self, index: usize) {
        self.active = index.min(self.views.len() - 1);
        self.views[self.active].unread = 0;
    }

    /// Starts showing a transfer; its id.
    fn start_transfer(&mut self, upload: bool, name: &str) -> u64 {
        let id = self.next_transfer;
        self.next_transfer += 1;
        let name = format::printable(name).into_owned();
        self.info(format!(
            "{} {name}…",
            if upload { "uploading" } else { "downloading" }
        ));
        self.transfers.push(Transfer {
            id,
            upload,
            name,
            done: 0,
            total: 0,
        });
        id
    }

    /// Stops showing a transfer; its file's name.
    fn end_transfer(&mut self, id: u64) -> String {
        let index = self.transfers.iter().position(|t| t.id == id);
        index.map_or_else(String::new, |i| self.transfers.remove(i).name)
    }

    fn current_room(&self) -> Option<String> {
        self.views[self.active].room.clone()
    }

    fn wrapped_len(&self, index: usize) -> usize {
        self.views[index]
            .lines(self.pane.0, &self.me, &self.tz)
            .len()
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Action> {
        if key.kind != KeyEventKind::Press {
            return Vec::new();
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if ctrl => self.quit = true,
            KeyCode::Char('d') if ctrl && self.input.text().is_empty() => self.quit = true,
            KeyCode::Char('n') if ctrl => self.switch_to((self.active + 1) % self.views.len()),
            KeyCode::Char('p') if ctrl => {
                self.switch_to((self.active + self.views.len() - 1) % self.views.len())
            }
            KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) => {
                self.input.insert(c)
            }
            KeyCode::Enter => return self.submit(),
            KeyCode::Tab => self.switch_to((self.active + 1) % self.views.len()),
            KeyCode::BackTab => {
                self.switch_to((self.active + self.views.len() - 1) % self.views.len())
            }
            KeyCode::PageUp => return self.page_up(),
            KeyCode::PageDown => {
                let page = self.pane.1.saturating_sub(1).max(1);
                let view = &mut self.views[self.active];
                view.scroll = view.scroll.saturating_sub(page);
            }
            KeyCode::Backspace => self.input.backspace(),
            KeyCode::Delete => self.input.delete(),
            KeyCode::Left => self.input.left(),
            KeyCode::Right => self.input.right(),
            KeyCode::Home => self.input.home(),
            KeyCode::End => self.input.end(),
            KeyCode::Up => self.input.older(),
            KeyCode::Down => self.input.newer(),
            KeyCode::Esc => self.input.clear(),
            _ => {}
        }
        Vec::new()
    }

    /// Scrolls a page up; at the top of what is loaded, asks for older history.
    fn page_up(&mut self) -> Vec<Action> {
        let (_, height) = self.pane;
        let max = self.wrapped_len(self.active).saturating_sub(height);
        let view = &mut self.views[self.active];
        view.scroll = (view.scroll + height.saturating_sub(1).max(1)).min(max);
        let (Some(room), Some(before)) = (view.room.clone(), view.oldest_id()) else {
            return Vec::new();
        };
        if view.scroll < max || view.loading_older || view.history_exhausted {
            return Vec::new();
        }
        view.loading_older = true;
        self.info("fetching older messages…");
        vec![Action::Older { room, before }]
    }

    fn submit(&mut self) -> Vec<Action> {
        let line = self.input.take();
        match command::parse(&line) {
            Input::Nothing => Vec::new(),
            Input::Post(text) => match self.current_room() {
                Some(room) => {
                    self.views[self.active].scroll = 0;
                    vec![Action::Post { room, text }]
                }
                None => {
                    self.fail("this window is not a room: /join ROOM first");
                    Vec::new()
                }
            },
            Input::Command(slash) => self.command(slash),
        }
    }

    fn command(&mut self, slash: Slash) -> Vec<Action> {
        match slash {
            Slash::Join(name) => {
                if let Some(i) = self
                    .views
                    .iter()
                    .position(|v| v.room.is_some() && v.title.eq_ignore_ascii_case(&name))
                {
                    self.switch_to(i);
                    return Vec::new();
                }
                self.info(format!("joining {name}…"));
                vec![Action::Join(name)]
            }
            Slash::Part(name) => {
                let index = match &name {
                    Some(n) => self
                        .views
                        .iter()
                        .position(|v| v.room.is_some() && v.title.eq_ignore_ascii_case(n)),
                    None => Some(self.active).filter(|i| self.views[*i].room.is_some()),
                };
                match index.and_then(|i| self.views[i].room.clone()) {
                    Some(room) => vec![Action::Part(room)],
                    None => {
                        self.fail(match name {
                            Some(n) => format!("you have not joined {n}"),
                            None => "this window is not a room".to_owned(),
                        });
                        Vec::new()
                    }
                }
            }
            Slash::Rooms => {
                self.info("fetching the room list…");
                vec![Action::Rooms { announce: true }]
            }
            Slash::Search(text) => match self.current_room() {
                Some(room) => vec![Action::Search { room, text }],
                None => {
                    self.fail("search works in a room: switch to one first");
                    Vec::new()
                }
            },
            Slash::Upload(path) => {
                let Some(room) = self.current_room() else {
                    self.fail("uploads go into a room: switch to one first");
                    return Vec::new();
                };
                let path = PathBuf::from(path);
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                let id = self.start_transfer(true, &name);
                vec![Action::Upload { id, room, path }]
            }
            Slash::Download { number, path } => {
                let Some(file) = self.views[self.active].file(number).cloned() else {
                    self.fail(TuiError::NoFile(number).to_string());
                    return Vec::new();
                };
                let name = transfer::default_name(&file);
                let id = self.start_transfer(false, &name);
                vec![Action::Download {
                    id,
                    link: file.link,
                    path: path.map(PathBuf::from),
                    name,
                }]
            }
            Slash::Manage => {
                self.info("asking the server for the room-management page…");
                vec![Action::Manage {
                    room: self.current_room(),
                }]
            }
            Slash::Who => {
                let view = &self.views[self.active];
                let names: Vec<String> = view
                    .roster
                    .iter()
                    .map(|(uri, manager)| {
                        format!(
                            "{}{}",
                            if *manager { "@" } else { "" },
                            format::short_name(uri, &self.me)
                        )
                    })
                    .collect();
                let text = match view.room {
                    Some(_) => format!("here ({}): {}", names.len(), names.join(", ")),
                    None => "this window is not a room".to_owned(),
                };
                self.views[self.active].note(text);
                Vec::new()
            }
            Slash::Help => {
                for line in HELP {
                    self.views[self.active].note(*line);
                }
                Vec::new()
            }
            Slash::Quit => {
                self.quit = true;
                Vec::new()
            }
            Slash::Usage(usage) => {
                self.fail(format!("usage: {usage}"));
                Vec::new()
            }
            Slash::Unknown(name) => {
                self.fail(format!("{name} is not a command: /help lists them"));
                Vec::new()
            }
        }
    }

    pub fn on_event(&mut self, event: Event) {
        match event {
            Event::Message(line) => self.on_message(line),
            Event::MemberJoined { room, member } => {
                let name = format::short_name(&member.uri, &self.me).to_owned();
                if let Some(view) = self.view_of(&room)
                    && view.roster.insert(member.uri, member.manager).is_none()
                {
                    view.note(format!("{name} joined"));
                }
            }
            Event::MemberLeft { room, user } => {
                let name = format::short_name(&user, &self.me).to_owned();
                if let Some(view) = self.view_of(&room)
                    && view.roster.remove(&user).is_some()
                {
                    view.note(format!("{name} left"));
                }
            }
            Event::RoomChanged { room, name, topic } => {
                if let Some(view) = self.view_of(&room) {
                    if let Some(name) = name.map(|n| format::printable(&n).into_owned())
                        && name != view.title
                    {
                        view.note(format!("the room is now called {name}"));
                        view.title = name;
                    }
                    if let Some(topic) = topic.map(|t| format::printable(&t).into_owned())
                        && topic != view.topic
                    {
                        view.note(format!("topic: {topic}"));
                        view.topic = topic;
                    }
                }
            }
            Event::Invited(invitation) => {
                let name = invitation.room.name;
                self.views[0].note(format!("You are invited to {name}: /join {name}"));
                self.info(format!("invited to {name}"));
            }
            Event::Disconnected { reason } => {
                self.link = Link::Reconnecting(reason.clone());
                self.fail(format!("connection lost ({reason}); reconnecting…"));
            }
            Event::Reconnecting { attempt, .. } if attempt > 1 => {
                self.fail(format!("reconnecting (attempt {attempt})…"));
            }
            Event::Rejoined(joined) => {
                if let Some(view) = self.view_of(&joined.room.uri) {
                    view.set_roster(&joined);
                    view.joined = true;
                }
            }
            Event::RejoinFailed { room, error } => {
                if let Some(view) = self.view_of(&room) {
                    view.joined = false;
                    view.error(format!("not joined again: {error}"));
                }
            }
            Event::Reconnected { server } => {
                self.link = Link::Online;
                self.info(format!("reconnected to {server}"));
            }
            Event::Closed { error } => {
                self.link = Link::Closed(error.to_string());
                self.fail(format!("disconnected: {error}; /quit to leave"));
            }
            _ => {}
        }
    }

    fn on_message(&mut self, line: ChatLine) {
        let Some(index) = self.index_of(&line.room) else {
            return;
        };
        // Scrolled up, the lines on screen stay put while new ones arrive below.
        let before =
            (index == self.active && self.views[index].scroll > 0).then(|| self.wrapped_len(index));
        if !self.views[index].add_message(line) {
            return;
        }
        if let Some(before) = before {
            let grown = self.wrapped_len(index).saturating_sub(before);
            self.views[index].scroll += grown;
        }
        if index != self.active {
            self.views[index].unread += 1;
        }
    }

    pub fn on_outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Rooms {
                announce,
                result: Ok(mut rooms),
            } => {
                rooms.sort_by_key(|r| r.name.to_lowercase());
                if announce {
                    let view = &mut self.views[self.active];
                    view.note(format!("{} rooms:", rooms.len()));
                    for r in &rooms {
                        let people = r
                            .user_count
                            .map_or(String::new(), |n| format!(" ({n} here)"));
                        view.note(format!(
                            "  {}{people}{}",
                            r.name,
                            if r.description.is_empty() {
                                String::new()
                            } else {
                                format!(" — {}", r.description)
                            }
                        ));
                    }
                    self.info(format!("{} rooms", rooms.len()));
                }
                self.available = rooms;
            }
            Outcome::Joined(Ok(joined)) => {
                let name = joined.room.name.clone();
                let index = match self.index_of(&joined.room.uri) {
                    Some(i) => {
                        let view = &mut self.views[i];
                        view.set_roster(&joined);
                        view.joined = true;
                        for line in joined.history {
                            view.add_message(line);
                        }
                        i
                    }
                    None => {
                        let mut view = View::room(&joined);
                        view.note(match joined.room.topic.as_str() {
                            "" => format!("joined {name}"),
                            topic => format!("joined {name}: {topic}"),
                        });
                        self.views.push(view);
                        self.views.len() - 1
                    }
                };
                self.switch_to(index);
                self.info(format!("joined {name}"));
            }
            Outcome::Parted {
                room,
                result: Ok(()),
            } => {
                if let Some(index) = self.index_of(&room) {
                    let view = self.views.remove(index);
                    if self.active >= index {
                        self.switch_to(self.active.saturating_sub(1));
                    }
                    self.info(format!("left {}", view.title));
                }
            }
            Outcome::Older {
                room,
                result: Ok(lines),
            } => {
                if let Some(view) = self.view_of(&room) {
                    view.loading_older = false;
                    view.history_exhausted = lines.is_empty();
                    for line in lines {
                        view.add_message(line);
                    }
                }
                self.info("");
            }
            Outcome::Found {
                room,
                text,
                result: Ok(lines),
            } => {
                let me = self.me.clone();
                let tz = self.tz.clone();
                if let Some(view) = self.view_of(&room) {
                    view.note(format!("search \"{text}\": {} found", lines.len()));
                    for l in &lines {
                        view.note(format!(
                            "  {} {}: {}",
                            format::clock(l.time, &tz),
                            format::short_name(&l.author, &me),
                            l.text
                        ));
                    }
                }
            }
            Outcome::Progress { id, done, total } => {
                if let Some(t) = self.transfers.iter_mut().find(|t| t.id == id) {
                    t.done = done;
                    t.total = total;
                }
            }
            Outcome::Uploaded { id, result } => {
                let name = self.end_transfer(id);
                match result {
                    // The message with the link arrives like any other.
                    Ok(_) => self.info(format!("uploaded {name}")),
                    Err(e) => self.fail(format!("uploading {name} failed: {e}")),
                }
            }
            Outcome::Downloaded { id, result } => {
                let name = self.end_transfer(id);
                match result {
                    Ok((path, size)) => self.info(format!(
                        "saved {} ({})",
                        format::printable(&path.display().to_string()),
                        format::bytes(size)
                    )),
                    Err(e) => self.fail(format!("downloading {name} failed: {e}")),
                }
            }
            Outcome::Managed(Ok((url, opened))) => {
                let view = &mut self.views[self.active];
                view.note(format!("room management: {url}"));
                if opened {
                    view.note("(opened in your browser; the link signs you in for two minutes)");
                }
                self.info("");
            }
            Outcome::Managed(Err(e)) => self.fail(e.to_string()),
            Outcome::Posted(Ok(())) => {}
            Outcome::Older {
                room,
                result: Err(e),
            } => {
                if let Some(view) = self.view_of(&room) {
                    view.loading_older = false;
                }
                self.fail(e.to_string());
            }
            Outcome::Rooms { result: Err(e), .. }
            | Outcome::Joined(Err(e))
            | Outcome::Parted { result: Err(e), .. }
            | Outcome::Posted(Err(e))
            | Outcome::Found { result: Err(e), .. } => self.fail(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use parlance_client::{Member, RoomInfo};

    use super::*;

    const LOBBY: &str = "ma-chan://d/lobby";

    fn app() -> App {
        App::new("sip:alice@d", TimeZone::UTC)
    }

    /// A window's text as the screen shows it.
    fn shown(view: &View) -> String {
        let lines = view.lines(200, "sip:alice@d", &TimeZone::UTC);
        lines
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn typed(app: &mut App, text: &str) -> Vec<Action> {
        text.chars().for_each(|c| {
            app.on_key(KeyEvent::from(KeyCode::Char(c)));
        });
        app.on_key(KeyEvent::from(KeyCode::Enter))
    }

    fn room(uri: &str, name: &str) -> RoomInfo {
        RoomInfo {
            uri: uri.into(),
            name: name.into(),
            description: String::new(),
            topic: "Welcome".into(),
            user_count: Some(1),
            visibility: None,
            file_post: None,
            invitations: None,
            logged: None,
        }
    }

    fn line(id: u64, room: &str) -> ChatLine {
        ChatLine {
            room: room.into(),
            author: "sip:bob@d".into(),
            text: format!("line {id}"),
            id: Some(id),
            time: None,
            replayed: false,
            alert: false,
        }
    }

    fn joined(uri: &str, name: &str, history: Vec<ChatLine>) -> Joined {
        Joined {
            room: room(uri, name),
            roster: vec![Member {
                uri: "sip:bob@d".into(),
                manager: true,
            }],
            history,
        }
    }

    #[test]
    fn join_post_and_part() {
        let mut app = app();
        assert_eq!(typed(&mut app, "hello"), [], "no room on screen yet");
        assert!(app.status.error);
        assert_eq!(
            typed(&mut app, "/join Lobby"),
            [Action::Join("Lobby".into())]
        );
        app.on_outcome(Outcome::Joined(Ok(joined(
            LOBBY,
            "Lobby",
            vec![line(1, LOBBY)],
        ))));
        assert_eq!((app.active, app.views[1].title.as_str()), (1, "Lobby"));
        assert_eq!(
            typed(&mut app, "hello"),
            [Action::Post {
                room: LOBBY.into(),
                text: "hello".into()
            }]
        );
        assert_eq!(
            typed(&mut app, "/join lobby"),
            [],
            "already joined: just shown"
        );
        assert_eq!(typed(&mut app, "/part"), [Action::Part(LOBBY.into())]);
        app.on_outcome(Outcome::Parted {
            room: LOBBY.into(),
            result: Ok(()),
        });
        assert_eq!((app.views.len(), app.active), (1, 0));
    }

    #[test]
    fn manage_asks_for_the_page_of_the_room_on_screen() {
        let mut app = app();
        assert_eq!(typed(&mut app, "/manage"), [Action::Manage { room: None }]);
        app.on_outcome(Outcome::Joined(Ok(joined(LOBBY, "Lobby", vec![]))));
        assert_eq!(
            typed(&mut app, "/manage"),
            [Action::Manage {
                room: Some(LOBBY.into())
            }]
        );
        app.on_outcome(Outcome::Managed(Ok(("https://h/rm/?x".into(), false))));
        assert!(shown(&app.views[1]).contains("room management: https://h/rm/?x"));
        app.on_outcome(Outcome::Managed(Err(TuiError::NoRoomManagement)));
        assert!(app.status.error && app.status.text.contains("room-management"));
    }

    #[test]
    fn a_changed_room_shows_its_new_name_and_topic() {
        let mut app = app();
        app.on_outcome(Outcome::Joined(Ok(joined(LOBBY, "Lobby", vec![]))));
        app.on_event(Event::RoomChanged {
            room: LOBBY.into(),
            name: Some("Hall".into()),
            topic: Some("new\u{1b}[2J topic".into()),
        });
        let view = &app.views[1];
        assert_eq!(view.title, "Hall");
        assert!(!view.topic.contains('\u{1b}'), "printable: {}", view.topic);
        let text = shown(view);
        assert!(text.contains("the room is now called Hall") && text.contains("topic: new"));
    }

    #[test]
    fn refusals_show_in_the_status_line() {
        let mut app = app();
        app.on_outcome(Outcome::Joined(Err(ClientError::Forbidden {
            action: "join",
            room: "Closed".into(),
        })));
        assert_eq!(
            app.status,
            Status {
                text: "you may not join Closed".into(),
                error: true
            }
        );
        typed(&mut app, "/frob");
        assert!(app.status.text.contains("/help"));
    }

    #[test]
    fn unread_counts_and_rosters_follow_events() {
        let mut app = app();
        app.on_outcome(Outcome::Joined(Ok(joined(LOBBY, "Lobby", vec![]))));
        app.on_outcome(Outcome::Joined(Ok(joined(
            "ma-chan://d/ops",
            "Ops",
            vec![],
        ))));
        app.on_event(Event::Message(line(1, LOBBY)));
        app.on_event(Event::Message(line(1, LOBBY)));
        assert_eq!(app.views[1].unread, 1, "counted once");
        app.on_key(KeyEvent::from(KeyCode::BackTab));
        assert_eq!((app.active, app.views[1].unread), (1, 0));
        app.on_event(Event::MemberJoined {
            room: LOBBY.into(),
            member: Member {
                uri: "sip:carol@d".into(),
                manager: false,
            },
        });
        app.on_event(Event::MemberLeft {
            room: LOBBY.into(),
            user: "sip:bob@d".into(),
        });
        assert_eq!(
            app.views[1].roster.keys().collect::<Vec<_>>(),
            ["sip:carol@d"]
        );
        app.on_event(Event::Disconnected {
            reason: "gone".into(),
        });
        assert!(matches!(app.link, Link::Reconnecting(_)) && app.status.error);
        app.on_event(Event::Reconnecting {
            attempt: 2,
            delay: std::time::Duration::from_secs(2),
        });
        assert!(app.status.text.contains("attempt 2"), "{:?}", app.status);
        app.on_event(Event::Reconnected {
            server: "chat2.example.test:5061".into(),
        });
        assert_eq!(app.link, Link::Online);
        assert_eq!(app.status.text, "reconnected to chat2.example.test:5061");
    }

    #[test]
    fn files_go_up_from_this_room_and_come_down_by_number() {
        let mut app = app();
        assert_eq!(
            typed(&mut app, "/upload notes.txt"),
            [],
            "no room on screen"
        );
        assert!(app.status.error);
        let link = FileLink::parse(
            "ma-filelink://d/0f8fad5b-d9cb-469f-a165-70867728950e/7c9e6679-7425-40de-944b-e07fc1f90ae7.sh",
        )
        .unwrap();
        let mut posted = line(1, LOBBY);
        posted.text = format!("../../.bashrc\u{1b}[2J {link}");
        let mut nameless = line(2, LOBBY);
        nameless.text = format!(".. {link}");
        app.on_outcome(Outcome::Joined(Ok(joined(
            LOBBY,
            "Lobby",
            vec![posted, nameless],
        ))));
        assert_eq!(
            typed(&mut app, "/upload docs/notes.txt"),
            [Action::Upload {
                id: 1,
                room: LOBBY.into(),
                path: "docs/notes.txt".into()
            }]
        );
        assert_eq!(
            (app.transfers[0].upload, app.transfers[0].name.as_str()),
            (true, "notes.txt")
        );
        assert_eq!(
            typed(&mut app, "/download 1"),
            [Action::Download {
                id: 2,
                link: link.clone(),
                path: None,
                name: ".bashrc[2J".into()
            }],
            "a name from the server stays in the directory, without its escapes"
        );
        assert_eq!(
            typed(&mut app, "/download 2 /tmp"),
            [Action::Download {
                id: 3,
                link: link.clone(),
                path: Some("/tmp".into()),
                name: link.name.clone()
            }],
            "no usable name: the repository name"
        );
        assert_eq!(typed(&mut app, "/download 3"), []);
        assert_eq!(app.status.text, "there is no [file 3] in this room");
        app.on_outcome(Outcome::Progress {
            id: 2,
            done: 1,
            total: 4,
        });
        assert_eq!((app.transfers[1].done, app.transfers[1].total), (1, 4));
        app.on_outcome(Outcome::Downloaded {
            id: 2,
            result: Ok(("x/.bashrc[2J".into(), 2048)),
        });
        assert_eq!(app.status.text, "saved x/.bashrc[2J (2.0 KiB)");
        assert_eq!(
            app.transfers.iter().map(|t| t.id).collect::<Vec<_>>(),
            [1, 3]
        );
    }

    #[test]
    fn paging_up_past_the_top_fetches_older_history() {
        let mut app = app();
        app.pane = (40, 3);
        let history = (10..16).map(|id| line(id, LOBBY)).collect();
        app.on_outcome(Outcome::Joined(Ok(joined(LOBBY, "Lobby", history))));
        assert_eq!(app.on_key(KeyEvent::from(KeyCode::PageUp)), []);
        assert_eq!(
            app.on_key(KeyEvent::from(KeyCode::PageUp)),
            [Action::Older {
                room: LOBBY.into(),
                before: 10
            }]
        );
        assert_eq!(
            app.on_key(KeyEvent::from(KeyCode::PageUp)),
            [],
            "one fetch at a time"
        );
        app.on_outcome(Outcome::Older {
            room: LOBBY.into(),
            result: Ok(vec![line(9, LOBBY)]),
        });
        assert_eq!(app.views[1].oldest_id(), Some(9));
        assert_eq!(
            app.on_key(KeyEvent::from(KeyCode::PageUp)),
            [Action::Older {
                room: LOBBY.into(),
                before: 9
            }]
        );
        app.on_outcome(Outcome::Older {
            room: LOBBY.into(),
            result: Ok(vec![]),
        });
        assert_eq!(
            app.on_key(KeyEvent::from(KeyCode::PageUp)),
            [],
            "no older history"
        );
        app.on_key(KeyEvent::from(KeyCode::PageDown));
        app.on_key(KeyEvent::from(KeyCode::PageDown));
        app.on_key(KeyEvent::from(KeyCode::PageDown));
        assert_eq!(app.views[1].scroll, 0);
    }
}
