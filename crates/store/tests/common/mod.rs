//! What the shared test files have in common: the engines every test runs against, and the
//! fixtures they build on. An engine joins the suite by being added to `engines()`.

// Each test file is its own crate and uses only some of these helpers.
#![allow(dead_code)]

pub mod uploads;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use parlance_store::rooms::{Behavior, Category, NewCategory, NewRoom, Privacy, Room};
use parlance_store::{ServerKey, Store};

pub const REALM: &str = "example.test";

/// A store under test and the scratch directory holding its files.
#[derive(Debug)]
pub struct Engine {
    pub store: Store,
    dir: PathBuf,
}

impl Engine {
    /// Closes the store and opens the same database again, as a server restart would.
    pub async fn reopen(&mut self) {
        self.store.close().await;
        self.store = match &self.store {
            Store::Sqlite(_) => Store::open_sqlite(&self.dir.join("test.db")).await.unwrap(),
        };
    }

    /// Another store on the same database, as an admin command running beside the server
    /// opens it.
    pub async fn beside(&self) -> Store {
        match &self.store {
            Store::Sqlite(_) => Store::open_sqlite(&self.dir.join("test.db")).await.unwrap(),
        }
    }

    /// A pool of its own on the SQLite database, for a test that must reach below the
    /// store (to make a statement fail, say).
    pub async fn sqlite_pool(&self) -> sqlx::SqlitePool {
        match &self.store {
            Store::Sqlite(_) => sqlx::SqlitePool::connect_with(
                sqlx::sqlite::SqliteConnectOptions::new().filename(self.dir.join("test.db")),
            )
            .await
            .unwrap(),
        }
    }

    /// Closes the store and removes its files.
    pub async fn finish(self) {
        self.store.close().await;
        std::fs::remove_dir_all(&self.dir).unwrap();
    }
}

/// A fresh, empty database for every engine.
pub async fn engines() -> Vec<Engine> {
    let dir = scratch_dir();
    let store = Store::open_sqlite(&dir.join("test.db")).await.unwrap();
    vec![Engine { store, dir }]
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
