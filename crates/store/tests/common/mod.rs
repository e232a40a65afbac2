//! What the shared test files have in common: the engines every test runs against, and the
//! fixtures they build on. An engine joins the suite by being added to `engines()`.

// Each test file is its own crate and uses only some of these helpers.
#![allow(dead_code)]

pub mod uploads;

pub use parlance_testkit::postgres;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use parlance_store::rooms::{Behavior, Category, NewCategory, NewRoom, Privacy, Room};
use parlance_store::{ServerKey, Store};

pub const REALM: &str = "example.test";

/// Where an engine's database lives.
#[derive(Debug, Clone)]
pub enum Location {
    /// A scratch directory holding `test.db`.
    Sqlite(PathBuf),
    /// A database of its own on the test binary's PostgreSQL server.
    Postgres(String),
}

impl Location {
    /// The store URL of the database.
    pub fn url(&self) -> String {
        match self {
            Location::Sqlite(dir) => format!("sqlite:{}", dir.join("test.db").display()),
            Location::Postgres(url) => url.clone(),
        }
    }
}

/// A store under test and where its database lives.
#[derive(Debug)]
pub struct Engine {
    pub store: Store,
    pub location: Location,
}

impl Engine {
    /// Closes the store and opens the same database again, as a server restart would.
    pub async fn reopen(&mut self) {
        self.store.close().await;
        self.store = self.beside().await;
    }

    /// Another store on the same database, as an admin command running beside the server
    /// (or another server of a pool) opens it.
    pub async fn beside(&self) -> Store {
        Store::open(&self.location.url()).await.unwrap()
    }

    /// Makes every insert of a compliance row of `kind` fail with `message`, below the
    /// store, until [`Engine::accept_outbox`].
    pub async fn refuse_outbox(&self, kind: &str, message: &str) {
        match &self.location {
            Location::Sqlite(_) => {
                self.execute(&format!(
                    "CREATE TRIGGER refuse_outbox BEFORE INSERT ON compliance_outbox \
                     WHEN NEW.kind = '{kind}' BEGIN SELECT RAISE(ABORT, '{message}'); END"
                ))
                .await
            }
            Location::Postgres(_) => {
                self.execute(&format!(
                    "CREATE FUNCTION refuse_outbox() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN IF NEW.kind = '{kind}' THEN RAISE EXCEPTION '{message}'; END IF; RETURN NEW; END $$"
                ))
                .await;
                self.execute(
                    "CREATE TRIGGER refuse_outbox BEFORE INSERT ON compliance_outbox \
                     FOR EACH ROW EXECUTE FUNCTION refuse_outbox()",
                )
                .await
            }
        }
    }

    /// Undoes [`Engine::refuse_outbox`].
    pub async fn accept_outbox(&self) {
        match &self.location {
            Location::Sqlite(_) => self.execute("DROP TRIGGER refuse_outbox").await,
            Location::Postgres(_) => {
                self.execute("DROP TRIGGER refuse_outbox ON compliance_outbox")
                    .await;
                self.execute("DROP FUNCTION refuse_outbox").await
            }
        }
    }

    /// Runs one statement on a connection of its own, below the store.
    async fn execute(&self, sql: &str) {
        use sqlx::Connection;
        match &self.location {
            Location::Sqlite(dir) => {
                let path = dir.join("test.db");
                let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
                let mut conn = sqlx::SqliteConnection::connect_with(&options)
                    .await
                    .unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
            }
            Location::Postgres(url) => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
            }
        }
    }

    /// Closes the store and removes its database.
    pub async fn finish(self) {
        self.store.close().await;
        match &self.location {
            Location::Sqlite(dir) => std::fs::remove_dir_all(dir).unwrap(),
            Location::Postgres(url) => postgres::drop_database(url).await,
        }
    }
}

/// A fresh, empty database for every engine: SQLite, then PostgreSQL.
pub async fn engines() -> Vec<Engine> {
    let mut engines = Vec::new();
    for location in [
        Location::Sqlite(scratch_dir()),
        Location::Postgres(postgres::fresh_database().await),
    ] {
        let store = Store::open(&location.url()).await.unwrap();
        engines.push(Engine { store, location });
    }
    engines
}

/// A directory no other test (in this process or a concurrent one) uses.
pub fn scratch_dir() -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!(
        "parlance-store-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn key() -> ServerKey {
    ServerKey::from_bytes(&[42u8; 32]).unwrap()
}

/// Adds `name@example.test` and returns its principal id.
pub async fn user(store: &Store, name: &str) -> i64 {
    let uri = format!("{name}@example.test");
    store.add_user(&uri, "", "pw", REALM, &key()).await.unwrap();
    store.user(&uri).await.unwrap().unwrap().id
}

/// A category directly under the root, with every inherited setting on.
pub async fn category(store: &Store, name: &str) -> Category {
    let root = store.root_category().await.unwrap();
    store
        .add_category(&NewCategory {
            parent_id: root.id,
            name,
            description: "",
            file_post: true,
            invitations: true,
            logged: true,
        })
        .await
        .unwrap()
}

/// An open, normal room.
pub fn new_room<'a>(category_id: i64, name: &'a str) -> NewRoom<'a> {
    NewRoom {
        category_id,
        name,
        description: "",
        topic: "",
        privacy: Privacy::Open,
        behavior: Behavior::Normal,
        invitations: true,
    }
}

/// A category with one open room in it; returns the room.
pub async fn room(store: &Store, name: &str) -> Room {
    let category = category(store, &format!("{name} category")).await;
    store.add_room(&new_room(category.id, name)).await.unwrap()
}
