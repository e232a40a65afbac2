//! The room-management web application as a browser without script sees it: a cookie jar
//! of one session, form posts, and the form tokens read back from the pages.

use hyper::{Method, StatusCode};

use crate::TestServer;
use crate::https::{Https, Reply};

pub const BASE: &str = "/PersistentChat/RM/";

/// One browser: a connection and the cookies the application set.
#[allow(missing_debug_implementations)]
pub struct WebClient {
    pub https: Https,
    /// `name=value` of each cookie held.
    cookies: Vec<(String, String)>,
    /// The form token of the last page that had one.
    pub csrf: String,
}

impl WebClient {
    pub async fn new(s: &TestServer) -> WebClient {
        WebClient {
            https: s.https().await,
            cookies: Vec::new(),
            csrf: String::new(),
        }
    }

    /// Signs `user` in with `password`; panics unless it worked.
    pub async fn signed_in(s: &TestServer, user: &str, password: &str) -> WebClient {
        let mut web = WebClient::new(s).await;
        let reply = web.sign_in(user, password, "en-US").await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
        let page = web.get(&format!("{BASE}?clientlang=en-US")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        web
    }

    /// The sign-in page, then its form posted.
    pub async fn sign_in(&mut self, account: &str, password: &str, lang: &str) -> Reply {
        let page = self.get(&format!("{BASE}?clientlang={lang}")).await;
        assert!(page.text().contains("name=\"password\""), "{}", page.text());
        self.post(
            &format!("{BASE}signin"),
            &[
                ("account", account),
                ("password", password),
                ("clientlang", lang),
            ],
        )
        .await
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.send(Method::GET, path, Vec::new(), &[]).await
    }

    /// Posts a form with the current form token added (unless the fields carry their own).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        let csrf = self.csrf.clone();
        if !fields.iter().any(|(n, _)| *n == "csrf") {
            all.push(("csrf", &csrf));
        }
        self.post_raw(path, &all).await
    }

    /// Posts exactly these fields.
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = form(fields);
        self.send(
            Method::POST,
            path,
            body.into_bytes(),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let cookie = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut all = headers.to_vec();
        if !cookie.is_empty() {
            all.push(("cookie", &cookie));
        }
        let reply = self.https.request(method, path, &all, body).await;
        for set in reply.headers.get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (pair, _) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        if let Some(token) = csrf_of(&reply.text()) {
            self.csrf = token;
        }
        reply
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.retain(|(n, _)| n != name);
        self.cookies.push((name.to_owned(), value.to_owned()));
    }
}

/// `application/x-www-form-urlencoded`.
pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of the first `name="csrf"` field of a page.
fn csrf_of(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = html[at..].find('"')?;
    Some(html[at..at + end].to_owned())
}

/// The room GUID in a redirect to a room page.
pub fn room_of(location: &str) -> String {
    let at = location.find("id=").expect("a room page") + 3;
    location[at..].split('&').next().unwrap().to_owned()
}

/// Makes `user` a creator in the category named `category`; returns the category's GUID.
pub async fn make_creator(s: &TestServer, user: &str, category: &str) -> String {
    let store = &s.server().store;
    let category = store.find_category(category).await.unwrap().unwrap();
    let user = store
        .user(&format!("{user}@{}", crate::DOMAIN))
        .await
        .unwrap()
        .expect("user exists");
    store
        .set_category_creator(category.id, user.id, true)
        .await
        .unwrap();
    category.guid
}

/// That a page came with `status` and says `text`.
#[track_caller]
pub fn assert_page(reply: &Reply, status: StatusCode, text: &str) {
    let html = reply.text();
    assert_eq!(reply.status, status, "{html}");
    assert!(html.contains(text), "{text:?} not in {html}");
}
