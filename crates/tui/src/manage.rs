//! `/manage`: the room-management web application, opened as a Lync client opens it
//! (MS-PCWP). The base URL is the `roomManagementUrl` of a fresh `getserverinfo` reply (it
//! carries a short-lived ticket that signs the browser in as this user); `clientlang` and,
//! in a room, its `id` are appended to it as parameters. The page opens in the browser when
//! there is a display, and is printed either way.

use std::process::{Command, Stdio};

use parlance_client::Client;

use crate::error::TuiError;

/// The language when the environment names none usable.
const DEFAULT_LANG: &str = "en-US";

/// The room-management page for the room `room` (a `ma-chan:` URI; `None`: the page that
/// creates a room), with its ticket fresh from the server.
pub async fn page(client: &Client, room: Option<&str>) -> Result<String, TuiError> {
    let info = client.server_info().await.map_err(TuiError::Client)?;
    let base = info.room_management_url.ok_or(TuiError::NoRoomManagement)?;
    Ok(page_url(&base, &client_lang(&environment_locale()), room))
}

/// Opens the page in the desktop's browser (`xdg-open`) when a display exists; whether it
/// was handed over.
pub fn open(url: &str) -> bool {
    let display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()));
    if !display {
        return false;
    }
    let spawned = Command::new("xdg-open")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(mut child) => {
            // Reaped in the background: the browser may take its time to start.
            std::thread::spawn(move || child.wait());
            true
        }
        Err(_) => false,
    }
}

/// The locale the environment asks for messages in, by POSIX precedence.
fn environment_locale() -> String {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_default()
}

/// MS-PCWP's `clientlang` (`de-DE`) from a POSIX locale (`de_DE.UTF-8`, `de_DE@euro`);
/// en-US when the locale names no language and region.
fn client_lang(locale: &str) -> String {
    let name = locale.split(['.', '@']).next().unwrap_or("");
    let Some((language, region)) = name.split_once(['_', '-']) else {
        return DEFAULT_LANG.to_owned();
    };
    let language_ok =
        (2..=3).contains(&language.len()) && language.chars().all(|c| c.is_ascii_alphabetic());
    let region_ok = (region.len() == 2 && region.chars().all(|c| c.is_ascii_alphabetic()))
        || (region.len() == 3 && region.chars().all(|c| c.is_ascii_digit()));
    if !(language_ok && region_ok) {
        return DEFAULT_LANG.to_owned();
    }
    format!(
        "{}-{}",
        language.to_ascii_lowercase(),
        region.to_ascii_uppercase()
    )
}

/// The page's URL: the parameters appended after `?`, or after `&` when the base URL has
/// parameters of its own (MS-PCWP 3.1.5).
fn page_url(base: &str, clientlang: &str, room: Option<&str>) -> String {
    let separator = if base.contains('?') { '&' } else { '?' };
    let mut url = format!("{base}{separator}clientlang={clientlang}");
    if let Some(guid) = room.and_then(room_guid) {
        url.push_str("&id=");
        url.push_str(guid);
    }
    url
}

/// The GUID of a `ma-chan://<domain>/<GUID>` URI.
fn room_guid(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("ma-chan://")?;
    let (_, guid) = rest.split_once('/')?;
    (!guid.is_empty() && guid.chars().all(|c| c.is_ascii_hexdigit() || c == '-')).then_some(guid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of MS-PCWP section 4, and a base URL that carries a ticket.
    #[test]
    fn urls_are_built_as_the_protocol_shows() {
        assert_eq!(
            page_url("http://example.com/rm/", "en-US", None),
            "http://example.com/rm/?clientlang=en-US"
        );
        assert_eq!(
            page_url(
                "http://example.com/rm/",
                "de-DE",
                Some("ma-chan://example.com/61E092C7-89BB-4DC4-A3F5-8C23FA940FAB")
            ),
            "http://example.com/rm/?clientlang=de-DE&id=61E092C7-89BB-4DC4-A3F5-8C23FA940FAB"
        );
        assert_eq!(
            page_url("http://example.com/rm/?extensionparam=value", "en-US", None),
            "http://example.com/rm/?extensionparam=value&clientlang=en-US"
        );
        assert_eq!(
            page_url(
                "https://h/PersistentChat/RM/?ticket=T",
                "en-US",
                Some("ma-chan://h/abc-1")
            ),
            "https://h/PersistentChat/RM/?ticket=T&clientlang=en-US&id=abc-1"
        );
        assert_eq!(
            page_url("https://h/rm/", "en-US", Some("ma-chan://h/x&y=1")),
            "https://h/rm/?clientlang=en-US",
            "nothing but a GUID goes into the URL"
        );
    }

    #[test]
    fn the_client_language_comes_from_the_locale() {
        for (locale, lang) in [
            ("de_DE.UTF-8", "de-DE"),
            ("en_GB", "en-GB"),
            ("fr_FR@euro", "fr-FR"),
            ("es_419.UTF-8", "es-419"),
            ("C", "en-US"),
            ("POSIX", "en-US"),
            ("", "en-US"),
            ("de", "en-US"),
            ("de_DE&x=1", "en-US"),
        ] {
            assert_eq!(client_lang(locale), lang, "{locale}");
        }
    }
}
