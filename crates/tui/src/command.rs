//! What a line typed into the input means: a message, or a slash command.

/// A line typed and submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Text to post to the room on screen.
    Post(String),
    Command(Slash),
    /// Only blanks: nothing to do.
    Nothing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slash {
    Join(String),
    Part(Option<String>),
    Rooms,
    Search(String),
    Who,
    /// Upload the file at this path into the room on screen.
    Upload(String),
    /// Save the room's file shown as `[file number]`, to `path` or under its own name here.
    Download {
        number: usize,
        path: Option<String>,
    },
    /// Open the room-management page of the room on screen (or the page that creates one).
    Manage,
    Help,
    Quit,
    /// A command that needs an argument came without one; holds its usage.
    Usage(&'static str),
    Unknown(String),
}

/// How `/upload` and `/download` are used, for [`Slash::Usage`].
pub const UPLOAD_USAGE: &str = "/upload FILE";
pub const DOWNLOAD_USAGE: &str = "/download N [PATH]";

/// The commands and keys, as `/help` shows them.
pub const HELP: &[&str] = &[
    "/join ROOM    join a room, show history",
    "/part [ROOM]  leave this room (or ROOM)",
    "/rooms        list the rooms",
    "/search TEXT  search this room's history",
    "/who          who is here",
    "/upload FILE  post a file in this room",
    "/download N [PATH]",
    "              save [file N] (as PATH)",
    "/manage       manage this room (or create",
    "              one) in the web browser",
    "/help         this list",
    "/quit         leave",
    "Tab, S-Tab    switch rooms",
    "PgUp, PgDn    scroll; PgUp at the top",
    "              fetches older history",
    "Up, Down      earlier input; Esc clears",
    "//text        posts \"/text\"",
];

pub fn parse(line: &str) -> Input {
    let line = line.trim_end();
    if line.trim().is_empty() {
        return Input::Nothing;
    }
    if let Some(escaped) = line.strip_prefix("//") {
        return Input::Post(format!("/{escaped}"));
    }
    let Some(command) = line.strip_prefix('/') else {
        return Input::Post(line.to_owned());
    };
    let (name, rest) = command
        .split_once(char::is_whitespace)
        .unwrap_or((command, ""));
    let rest = rest.trim();
    let arg = || (!rest.is_empty()).then(|| rest.to_owned());
    Input::Command(match name.to_ascii_lowercase().as_str() {
        "join" | "j" => arg().map_or(Slash::Usage("/join ROOM"), Slash::Join),
        "part" | "leave" => Slash::Part(arg()),
        "rooms" | "list" => Slash::Rooms,
        "search" => arg().map_or(Slash::Usage("/search TEXT"), Slash::Search),
        "who" | "names" => Slash::Who,
        "upload" => arg().map_or(Slash::Usage(UPLOAD_USAGE), Slash::Upload),
        "download" => download(rest).unwrap_or(Slash::Usage(DOWNLOAD_USAGE)),
        "manage" => Slash::Manage,
        "help" | "?" => Slash::Help,
        "quit" | "exit" | "q" => Slash::Quit,
        _ => Slash::Unknown(format!("/{name}")),
    })
}

/// `N [PATH]`; the path may hold blanks.
fn download(rest: &str) -> Option<Slash> {
    let (number, path) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let path = path.trim();
    Some(Slash::Download {
        number: number.parse().ok().filter(|n| *n > 0)?,
        path: (!path.is_empty()).then(|| path.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_commands() {
        assert_eq!(parse("hello there "), Input::Post("hello there".into()));
        assert_eq!(parse("   "), Input::Nothing);
        assert_eq!(parse("//etc/passwd"), Input::Post("/etc/passwd".into()));
        assert_eq!(
            parse("/join  Release Train "),
            Input::Command(Slash::Join("Release Train".into()))
        );
        assert_eq!(parse("/JOIN"), Input::Command(Slash::Usage("/join ROOM")));
        assert_eq!(parse("/part"), Input::Command(Slash::Part(None)));
        assert_eq!(
            parse("/part Lobby"),
            Input::Command(Slash::Part(Some("Lobby".into())))
        );
        assert_eq!(
            parse("/search deploy failed"),
            Input::Command(Slash::Search("deploy failed".into()))
        );
        assert_eq!(parse("/rooms"), Input::Command(Slash::Rooms));
        assert_eq!(parse("/manage"), Input::Command(Slash::Manage));
        assert_eq!(parse("/who"), Input::Command(Slash::Who));
        assert_eq!(
            parse("/upload  Q3 report.pdf"),
            Input::Command(Slash::Upload("Q3 report.pdf".into()))
        );
        assert_eq!(
            parse("/upload"),
            Input::Command(Slash::Usage("/upload FILE"))
        );
        assert_eq!(
            parse("/download 3"),
            Input::Command(Slash::Download {
                number: 3,
                path: None
            })
        );
        assert_eq!(
            parse("/download 3 docs/My Q3.pdf"),
            Input::Command(Slash::Download {
                number: 3,
                path: Some("docs/My Q3.pdf".into())
            })
        );
        for wrong in ["/download", "/download x", "/download 0", "/download -1 f"] {
            assert_eq!(
                parse(wrong),
                Input::Command(Slash::Usage("/download N [PATH]")),
                "{wrong}"
            );
        }
        assert_eq!(parse("/help"), Input::Command(Slash::Help));
        assert_eq!(parse("/quit"), Input::Command(Slash::Quit));
        assert_eq!(
            parse("/frob x"),
            Input::Command(Slash::Unknown("/frob".into()))
        );
    }
}
