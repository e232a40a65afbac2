//! Drawing the terminal client: rooms on the left, messages in the middle, people on the
//! right (when there is room for them), a progress bar while files are on their way, a
//! status line and the input line. Fits 80×24.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, LineGauge, Paragraph};
use unicode_width::UnicodeWidthStr;

use crate::app::{App, Link};
use crate::format;
use crate::transfer;
use crate::view;

/// Narrower than this, the people pane is left out.
const ROSTER_MIN_WIDTH: u16 = 70;

pub fn draw(frame: &mut Frame<'_>, app: &mut App) {
    let bar = u16::from(!app.transfers.is_empty());
    let status_text = status_lines(app, frame.area().width);
    // A long reason (why the connection ended, say) is read whole, in up to a third of the
    // screen; the messages keep the rest.
    let status_height = u16::try_from(status_text.len())
        .unwrap_or(u16::MAX)
        .min(frame.area().height / 3)
        .max(1);
    let [main, transfers, status, input] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(bar),
        Constraint::Length(status_height),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let wide = main.width >= ROSTER_MIN_WIDTH;
    let columns: &[Constraint] = if wide {
        &[
            Constraint::Length(18),
            Constraint::Min(20),
            Constraint::Length(16),
        ]
    } else {
        &[Constraint::Length(16), Constraint::Min(10)]
    };
    let panes = Layout::horizontal(columns).split(main);
    rooms(frame, app, panes[0]);
    messages(frame, app, panes[1]);
    if wide {
        roster(frame, app, panes[2]);
    }
    progress_bar(frame, app, transfers);
    frame.render_widget(Paragraph::new(status_text), status);
    input_line(frame, app, input);
}

/// The oldest transfer as a bar, with how many others are running.
fn progress_bar(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let Some(t) = app.transfers.first() else {
        return;
    };
    let others = match app.transfers.len() - 1 {
        0 => String::new(),
        n => format!(" (+{n} more)"),
    };
    let label = format!(
        "{} {} {} of {}{others} ",
        if t.upload { "↑" } else { "↓" },
        t.name,
        format::bytes(t.done),
        format::bytes(t.total)
    );
    frame.render_widget(
        LineGauge::default()
            .ratio(transfer::ratio(t.done, t.total))
            .label(label)
            .filled_style(Style::new().fg(Color::Green))
            .unfilled_style(Style::new().fg(Color::DarkGray)),
        area,
    );
}

fn rooms(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let mut lines = Vec::new();
    for (i, view) in app.views.iter().enumerate() {
        let mut style = if i == app.active {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        };
        if !view.joined {
            style = style.fg(Color::DarkGray);
        }
        let mut spans = vec![Span::styled(
            if view.room.is_some() {
                format!("#{}", view.title)
            } else {
                view.title.clone()
            },
            style,
        )];
        if view.unread > 0 {
            spans.push(Span::styled(
                format!(" {}", view.unread),
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ));
        }
        lines.push(Line::from(spans));
    }
    let others: Vec<_> = app
        .available
        .iter()
        .filter(|r| {
            !app.views
                .iter()
                .any(|v| v.room.as_deref() == Some(r.uri.as_str()))
        })
        .collect();
    if !others.is_empty() {
        lines.push(Line::styled("available:", Style::new().fg(Color::DarkGray)));
        lines.extend(
            others
                .iter()
                .map(|r| Line::styled(format!(" {}", r.name), Style::new().fg(Color::DarkGray))),
        );
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::new().borders(Borders::ALL).title("Rooms")),
        area,
    );
}

fn messages(frame: &mut Frame<'_>, app: &mut App, area: Rect) {
    let inner = Block::new().borders(Borders::ALL).inner(area);
    let (width, height) = (usize::from(inner.width), usize::from(inner.height));
    app.pane = (width, height);
    let view = &app.views[app.active];
    let lines = view.lines(width, &app.me, &app.tz);
    let max = lines.len().saturating_sub(height);
    let scroll = view.scroll.min(max);
    let start = lines.len().saturating_sub(height + scroll);
    let shown: Vec<Line<'static>> = lines.into_iter().skip(start).take(height).collect();
    let mut title = match view.room {
        Some(_) if !view.topic.is_empty() => format!("#{} — {}", view.title, view.topic),
        Some(_) => format!("#{}", view.title),
        None => view.title.clone(),
    };
    if scroll > 0 {
        title.push_str(&format!(" [{scroll} more below]"));
    }
    app.views[app.active].scroll = scroll;
    frame.render_widget(
        Paragraph::new(shown).block(Block::new().borders(Borders::ALL).title(title)),
        area,
    );
}

fn roster(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let view = &app.views[app.active];
    let lines: Vec<Line<'_>> = view
        .roster
        .iter()
        .map(|(uri, manager)| {
            let name = format::short_name(uri, &app.me);
            if *manager {
                Line::styled(
                    format!("@{name}"),
                    Style::new().add_modifier(Modifier::BOLD),
                )
            } else {
                Line::raw(format!(" {name}"))
            }
        })
        .collect();
    let title = if view.room.is_some() {
        format!("People {}", view.roster.len())
    } else {
        "People".to_owned()
    };
    frame.render_widget(
        Paragraph::new(lines).block(Block::new().borders(Borders::ALL).title(title)),
        area,
    );
}

/// The connection mark, our account and the status text, word-wrapped to `width`.
fn status_lines(app: &App, width: u16) -> Vec<Line<'static>> {
    let (mark, color) = match app.link {
        Link::Online => ("●", Color::Green),
        Link::Reconnecting(_) => ("○", Color::Yellow),
        Link::Closed(_) => ("✕", Color::Red),
    };
    let text_style = if app.status.error {
        Style::new().fg(Color::Red)
    } else {
        Style::new()
    };
    let mark = format!("{mark} ");
    let account = format!("{} ", format::account(&app.me));
    let width = usize::from(width);
    let first = width.saturating_sub(mark.width() + account.width());
    let mut pieces = view::wrap(&app.status.text, first, width).into_iter();
    let mut first_line = vec![
        Span::styled(mark, Style::new().fg(color)),
        Span::styled(account, Style::new().fg(Color::DarkGray)),
    ];
    first_line.extend(pieces.next().map(|p| Span::styled(p, text_style)));
    std::iter::once(Line::from(first_line))
        .chain(pieces.map(|p| Line::from(Span::styled(p, text_style))))
        .collect()
}

/// `> ` and the input, scrolled sideways so that the cursor stays visible.
fn input_line(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let prompt = "> ";
    let room = usize::from(area.width)
        .saturating_sub(prompt.len() + 1)
        .max(1);
    let cursor = app.input.cursor_column();
    let skip = cursor.saturating_sub(room);
    let mut shown = String::new();
    let mut column = 0;
    for c in app.input.text().chars() {
        let w = c.to_string().width();
        if column >= skip && column + w <= skip + room {
            shown.push(c);
        }
        column += w;
    }
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(prompt, Style::new().fg(Color::Cyan)),
            Span::raw(shown),
        ])),
        area,
    );
    let x = area.x + u16::try_from(prompt.len() + cursor - skip).unwrap_or(area.width);
    frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
}

#[cfg(test)]
mod tests {
    use jiff::tz::TimeZone;
    use parlance_client::{ChatLine, Joined, Member, RoomInfo};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::app::Outcome;

    fn screen(app: &mut App) -> String {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal.draw(|f| draw(f, app)).unwrap();
        let buffer = terminal.backend().buffer().clone();
        (0..24)
            .map(|y| {
                (0..80)
                    .map(|x| buffer[(x, y)].symbol().to_owned())
                    .collect::<String>()
                    + "\n"
            })
            .collect()
    }

    #[test]
    fn a_room_in_80_by_24() {
        let mut app = App::new("sip:alice@d", TimeZone::UTC);
        let room = RoomInfo {
            uri: "ma-chan://d/l".into(),
            name: "Lobby".into(),
            description: String::new(),
            topic: "Say hi".into(),
            user_count: None,
            visibility: None,
            file_post: None,
            invitations: None,
            logged: None,
        };
        let history = vec![ChatLine {
            room: room.uri.clone(),
            author: "sip:bob@d".into(),
            text: "hello alice".into(),
            id: Some(1),
            time: None,
            replayed: false,
            alert: false,
        }];
        let roster = vec![
            Member {
                uri: "sip:bob@d".into(),
                manager: true,
            },
            Member {
                uri: "sip:alice@d".into(),
                manager: false,
            },
        ];
        app.on_outcome(Outcome::Rooms {
            announce: false,
            result: Ok(vec![
                room.clone(),
                RoomInfo {
                    uri: "ma-chan://d/o".into(),
                    name: "Ops".into(),
                    ..room.clone()
                },
            ]),
        });
        app.on_outcome(Outcome::Joined(Ok(Joined {
            room,
            roster,
            history,
        })));
        let text = screen(&mut app);
        for expected in [
            "#Lobby",
            "available:",
            " Ops",
            "#Lobby — Say hi",
            "bob: hello alice",
            "@bob",
            " alice",
            "People 2",
            "joined Lobby",
            "> ",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from\n{text}");
        }
        assert_eq!(app.pane, (44, 20));
    }

    #[test]
    fn a_transfer_shows_a_bar_while_it_runs() {
        let mut app = App::new("sip:alice@d", TimeZone::UTC);
        app.on_outcome(Outcome::Joined(Ok(Joined {
            room: RoomInfo {
                uri: "ma-chan://d/l".into(),
                name: "Lobby".into(),
                description: String::new(),
                topic: String::new(),
                user_count: None,
                visibility: None,
                file_post: None,
                invitations: None,
                logged: None,
            },
            roster: vec![],
            history: vec![],
        })));
        for c in "/upload /tmp/big.iso".chars() {
            app.on_key(crossterm::event::KeyEvent::from(
                crossterm::event::KeyCode::Char(c),
            ));
        }
        app.on_key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Enter,
        ));
        app.on_outcome(Outcome::Progress {
            id: 1,
            done: 5 << 20,
            total: 10 << 20,
        });
        let text = screen(&mut app);
        let bar = text
            .lines()
            .find(|l| l.contains("big.iso"))
            .unwrap_or_else(|| panic!("no bar in\n{text}"));
        assert!(bar.starts_with("↑ big.iso 5.0 MiB of 10.0 MiB "), "{bar}");
        assert_eq!(app.pane, (44, 19), "the bar takes a line from the messages");
        app.on_outcome(Outcome::Uploaded {
            id: 1,
            result: Err(parlance_client::ClientError::Timeout),
        });
        let text = screen(&mut app);
        assert!(
            !text.contains("big.iso 5.0"),
            "the bar goes when the transfer ends"
        );
        assert!(text.contains("uploading big.iso failed: the server did not answer in time"));
        assert_eq!(app.pane, (44, 20));
    }

    #[test]
    fn a_long_fatal_reason_is_wrapped_not_cut() {
        let mut app = App::new("sip:alice@d", TimeZone::UTC);
        let error = parlance_client::ClientError::SignInRefused {
            user: "alice@d".into(),
            status: 403,
            reason: "the account was disabled by the administrator of this server; \
                     ask them to enable it again, then sign in"
                .into(),
        };
        app.on_event(parlance_client::Event::Closed { error });
        let text = screen(&mut app);
        let shown: Vec<&str> = text
            .lines()
            .map(str::trim_end)
            .skip_while(|l| !l.starts_with("✕ alice@d "))
            .take_while(|l| !l.starts_with('>'))
            .collect();
        assert!(
            shown.len() > 1,
            "the reason takes more than one line:\n{text}"
        );
        assert_eq!(
            shown.join(" "),
            format!("✕ alice@d {}", app.status.text),
            "every word of the reason is on the screen:\n{text}"
        );
        assert!(app.status.text.ends_with("then sign in; /quit to leave"));
        assert_eq!(
            app.pane.1,
            24 - 2 - 1 - shown.len(),
            "the messages give up the lines"
        );
    }
}
