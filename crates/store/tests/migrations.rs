//! The schema's versions across builds: databases created before sqlx ran the migrations
//! upgrade, and a database written by a newer Parlance is refused. SQLite only: the old
//! version table never existed anywhere else.

mod common;

use std::path::Path;

use parlance_store::history::{ComplianceKind, HistoryQuery, Post};
use parlance_store::{Store, StoreError};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

const MIGRATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");

/// The migration files in order, with their versions.
fn migrations() -> Vec<(i64, String)> {
    let mut files: Vec<(i64, String)> = std::fs::read_dir(MIGRATIONS)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let version = name.split('_').next().unwrap().parse().unwrap();
            (version, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn newest() -> i64 {
    migrations().last().unwrap().0
}

async fn connect(path: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    SqlitePool::connect_with(options).await.unwrap()
}

/// A database as the runner before sqlx left it: migrations up to `version` applied, one
/// row per version in `schema_migrations`.
async fn old_runner_database(path: &Path, version: i64) -> SqlitePool {
    let pool = connect(path).await;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    for (v, sql) in migrations().into_iter().filter(|(v, _)| *v <= version) {
        let mut tx = pool.begin().await.unwrap();
        sqlx::raw_sql(&sql).execute(&mut *tx).await.unwrap();
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)")
            .bind(v)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    pool
}

async fn table_exists(pool: &SqlitePool, name: &str) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)",
    )
    .bind(name)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Opening refuses the database as written by a Parlance one schema version ahead.
async fn refused_as_one_version_ahead(path: &Path) {
    let refused = Store::open_sqlite(path).await.unwrap_err();
    assert!(
        matches!(refused, StoreError::SchemaTooNew { found, known } if found == newest() + 1 && known == newest()),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_database_of_the_old_runner_upgrades_and_keeps_its_data() {
    let dir = common::scratch_dir();
    let path = dir.join("old.db");
    // Version 3: the accounts exist, the room search and access changes came later.
    let old = old_runner_database(&path, 3).await;
    sqlx::query(
        "INSERT INTO principals (kind, uri, display_name, created_at) VALUES ('user', 'sip:old@example.test', 'Old', 7)",
    )
    .execute(&old)
    .await
    .unwrap();
    old.close().await;

    let store = Store::open_sqlite(&path).await.unwrap();
    let user = store.user("sip:old@example.test").await.unwrap().unwrap();
    assert_eq!((user.display_name.as_str(), user.created_at), ("Old", 7));
    assert!(!user.disabled, "a column of migration 5, applied by sqlx");
    store.close().await;

    let pool = connect(&path).await;
    let applied: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    let every: Vec<(i64, bool)> = migrations().iter().map(|(v, _)| (*v, true)).collect();
    assert_eq!(applied, every);
    assert!(!table_exists(&pool, "schema_migrations").await);
    pool.close().await;

    // Once adopted, it opens like any other.
    let store = Store::open_sqlite(&path).await.unwrap();
    assert!(store.user("sip:old@example.test").await.unwrap().is_some());
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_database_of_a_newer_parlance_is_refused() {
    let dir = common::scratch_dir();
    let path = dir.join("new.db");
    Store::open_sqlite(&path).await.unwrap().close().await;
    let pool = connect(&path).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (?, 'from the future', TRUE, x'00', 0)",
    )
    .bind(newest() + 1)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    refused_as_one_version_ahead(&path).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_old_version_table_newer_than_this_build_is_refused() {
    let dir = common::scratch_dir();
    let path = dir.join("old-new.db");
    let old = old_runner_database(&path, newest()).await;
    sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)")
        .bind(newest() + 1)
        .execute(&old)
        .await
        .unwrap();
    old.close().await;

    refused_as_one_version_ahead(&path).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A principal (1) and a room (1) in a category, for an old database's outbox rows.
const ONE_ROOM: &str = "INSERT INTO principals (id, kind, uri, display_name, created_at) \
         VALUES (1, 'user', 'sip:a@example.test', '', 0); \
     INSERT INTO categories (id, guid, parent_id, name, created_at) \
         VALUES (1, 'root', NULL, 'Root', 0), (2, 'c', 1, 'C', 0); \
     INSERT INTO rooms (id, guid, category_id, name, privacy, behavior, created_at, updated_at) \
         VALUES (1, 'r', 2, 'R', 'open', 'normal', 0, 0);";

#[tokio::test]
async fn the_outbox_rebuilt_for_purge_records_keeps_its_rows_and_never_reuses_an_id() {
    let dir = common::scratch_dir();
    let path = dir.join("outbox.db");
    // Version 8: the outbox with AUTOINCREMENT, before it admitted purge records. Three
    // rows were written and the newest pruned, so the next id is 4 and not 3.
    let old = old_runner_database(&path, 8).await;
    sqlx::raw_sql(&format!(
        "{ONE_ROOM} INSERT INTO compliance_outbox (kind, room_id, principal_id, content, at) \
                 VALUES ('join', 1, 1, '', 1), ('chat', 1, 1, 'hello', 2), ('part', 1, 1, '', 3); \
             DELETE FROM compliance_outbox WHERE id = 3;"
    ))
    .execute(&old)
    .await
    .unwrap();
    old.close().await;

    let store = Store::open_sqlite(&path).await.unwrap();
    store
        .record_event(ComplianceKind::Purge, 1, 1, "purged", 4)
        .await
        .unwrap();
    let rows: Vec<(i64, String, String)> = store
        .compliance_events(0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.id, e.kind.to_string(), e.content.to_string()))
        .collect();
    assert_eq!(
        rows,
        [
            (1, "join".into(), "".into()),
            (2, "chat".into(), "hello".into()),
            (4, "purge".into(), "purged".into()),
        ]
    );
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_outbox_rebuilt_with_packed_headers_reads_its_rows_as_they_were() {
    let dir = common::scratch_dir();
    let path = dir.join("outbox.db");
    // Version 17: the outbox before its rows had a packed header. The newest row written
    // was pruned, so the next id is 4 and not 3.
    let old = old_runner_database(&path, 17).await;
    sqlx::raw_sql(
        &format!(
            "{ONE_ROOM} INSERT INTO compliance_outbox (kind, room_id, principal_id, message_seq, content, at, node) \
             VALUES ('join', 1, 1, NULL, '', -5, 'n1'), ('chat', 1, 1, 7, 'héllo;, <b>', 2, NULL), \
                    ('part', 1, 1, NULL, '', 3, 'n1'); \
             DELETE FROM compliance_outbox WHERE id = 3;"
        ),
    )
    .execute(&old)
    .await
    .unwrap();
    old.close().await;

    let store = Store::open_sqlite(&path).await.unwrap();
    store
        .record_event(ComplianceKind::Backchat, 1, 1, "last 25", 4)
        .await
        .unwrap();
    let page = store.compliance_pages(0, 10).next().await.unwrap();
    let rows: Vec<_> = (page.events.into_iter())
        .map(|e| (e.id, e.kind, e.message_seq, e.content, e.at))
        .collect();
    assert_eq!(
        rows,
        [
            (1, "join".into(), None, "".into(), -5),
            (2, "chat".into(), Some(7), "héllo;, <b>".into(), 2),
            (4, "backchat".into(), None, "last 25".into(), 4),
        ]
    );
    assert_eq!(
        store.close_open_joins("n1", 5).await.unwrap(),
        1,
        "the node kept"
    );
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn categories_of_one_name_made_before_names_were_unique_are_told_apart() {
    let dir = common::scratch_dir();
    let path = dir.join("categories.db");
    let old = old_runner_database(&path, 9).await;
    sqlx::raw_sql(
        "INSERT INTO categories (id, guid, parent_id, name, created_at) VALUES \
             (1, 'root', NULL, 'Root', 0), (2, 'a', 1, 'Eng', 0), (3, 'b', 1, 'Ops', 0), \
             (4, 'c', 1, 'eng', 0), (5, 'd', 2, 'ENG', 0);",
    )
    .execute(&old)
    .await
    .unwrap();
    old.close().await;

    let store = Store::open_sqlite(&path).await.unwrap();
    let mut names: Vec<(i64, String)> = store
        .categories()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            (1, "Root".into()),
            (2, "Eng".into()),
            (3, "Ops".into()),
            (4, "eng (4)".into()),
            (5, "ENG (5)".into()),
        ],
        "the oldest keeps the name; each later one has its id appended"
    );
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_feed_rebuilt_for_invitations_keeps_its_rows_and_never_reuses_a_seq() {
    let dir = common::scratch_dir();
    let path = dir.join("changes.db");
    let old = old_runner_database(&path, 9).await;
    sqlx::raw_sql(
        "INSERT INTO access_changes (kind, account, reason, at) VALUES \
             ('sign_out', 'sip:a@example.test', 'account disabled', 1), \
             ('unlock', 'sip:a@example.test', '', 2), ('unlock', 'sip:b@example.test', '', 3); \
         DELETE FROM access_changes WHERE seq = 3;",
    )
    .execute(&old)
    .await
    .unwrap();
    old.close().await;

    let store = Store::open_sqlite(&path).await.unwrap();
    assert_eq!(store.access_changes_after(0, 10).await.unwrap().len(), 2);
    store.request_unlock("sip:c@example.test").await.unwrap();
    let seqs: Vec<i64> = store
        .access_changes_after(0, 10)
        .await
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(seqs, [1, 2, 4]);
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Migration 12: a presenter who was not a member becomes one too, so nobody's access changes
/// now that every path refuses a presenter who is not a member.
#[tokio::test]
async fn migration_12_makes_presenters_members() {
    let dir = common::scratch_dir();
    let path = dir.join("roles.db");
    let old = old_runner_database(&path, 11).await;
    sqlx::raw_sql(
        "INSERT INTO principals (id, kind, uri, display_name, created_at) VALUES \
             (1, 'user', 'sip:a@example.test', '', 0), (2, 'user', 'sip:b@example.test', '', 0); \
         INSERT INTO categories (id, guid, parent_id, name, created_at) VALUES (1, 'root', NULL, 'Root', 0), (2, 'c', 1, 'C', 0); \
         INSERT INTO rooms (id, guid, category_id, name, privacy, behavior, created_at, updated_at) \
             VALUES (1, 'r', 2, 'R', 'open', 'auditorium', 0, 0); \
         INSERT INTO room_roles (room_id, principal_id, role) VALUES \
             (1, 1, 'presenter'), (1, 2, 'member'), (1, 2, 'presenter');",
    )
    .execute(&old)
    .await
    .unwrap();
    old.close().await;

    let store = Store::open_sqlite(&path).await.unwrap();
    for principal in [1, 2] {
        assert_eq!(
            store.roles_of(1, principal).await.unwrap(),
            [
                parlance_store::rooms::Role::Member,
                parlance_store::rooms::Role::Presenter
            ],
            "principal {principal}"
        );
    }
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Migration 16: the full-text index moves to words scoped to their room, carried over from
/// the old index. Every message indexed before is found in its own room and only there, a
/// message deleted before is not, and posting and deleting keep the new index in step.
#[tokio::test]
async fn migration_16_finds_what_was_indexed_before_in_its_own_room_only() {
    let dir = common::scratch_dir();
    let path = dir.join("search.db");
    let old = old_runner_database(&path, 15).await;
    sqlx::raw_sql(
        "INSERT INTO principals (id, kind, uri, display_name, created_at) VALUES \
             (1, 'user', 'sip:a@example.test', '', 0); \
         INSERT INTO categories (id, guid, parent_id, name, created_at) VALUES (1, 'root', NULL, 'Root', 0), (2, 'c', 1, 'C', 0); \
         INSERT INTO rooms (id, guid, category_id, name, privacy, behavior, created_at, updated_at, next_seq) VALUES \
             (1, 'r1', 2, 'One', 'open', 'normal', 0, 0, 4), (2, 'r2', 2, 'Two', 'open', 'normal', 0, 0, 2); \
         INSERT INTO room_roles (room_id, principal_id, role) VALUES (1, 1, 'member'), (2, 1, 'member'); \
         INSERT INTO messages (room_id, seq, author_id, posted_at, content) VALUES \
             (1, 1, 1, 1, 'Deploy on Friday'), (1, 2, 1, 2, 'the Crème brûlée, re-run'), \
             (1, 3, 1, 3, 'deploy gone'), (2, 1, 1, 4, 'deploy elsewhere'); \
         DELETE FROM messages WHERE room_id = 1 AND seq = 3;",
    )
    .execute(&old)
    .await
    .unwrap();
    old.close().await;

    let store = Store::open_sqlite(&path).await.unwrap();
    let found = |room: i64, text: &'static str| {
        let store = &store;
        async move {
            let query = HistoryQuery::Search {
                text: text.into(),
                n: 10,
            };
            let messages = store.read_history(room, 1, &query, 9).await.unwrap();
            messages.iter().map(|m| m.seq).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        found(1, "deploy").await,
        [1],
        "the deleted message stays gone"
    );
    assert_eq!(found(2, "DEPLOY").await, [1], "room 2's own message");
    assert_eq!(found(1, "creme RUN").await, [2], "folded as before");
    assert_eq!(
        found(1, "elsewhere").await,
        Vec::<i64>::new(),
        "room 2's word"
    );

    let post = Post {
        content: "deploy again",
        linked_files: &[],
        alert: false,
        rtf: None,
    };
    store.post_message(1, 1, &post, 10).await.unwrap();
    assert_eq!(found(1, "deploy").await, [1, 4]);
    assert_eq!(found(2, "again").await, Vec::<i64>::new());
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
