//! The installation's identity, the schema checks of a store opened beside a server, and
//! the snapshot a backup takes, as every storage engine must keep them. Engines are
//! listed in `common`.

mod common;

use common::uploads::{reserved, uploaded};
use common::{Location, engines, key, postgres, room, scratch_dir, user};
use parlance_store::{FileLocation, ServerKey, Store, StoreError};

#[tokio::test]
async fn the_identity_is_recorded_once_and_its_domain_changed_explicitly() {
    for engine in engines().await {
        let store = &engine.store;
        assert_eq!(store.installation().await.unwrap(), None);
        assert!(matches!(
            store.set_domain("other.test").await,
            Err(StoreError::NotFound(_))
        ));
        let check = key().check_value();
        let first = store
            .record_installation("example.test", &check)
            .await
            .unwrap();
        assert_eq!(
            (first.domain.as_str(), &first.key_check[..]),
            ("example.test", &check[..])
        );
        // A second start (or a racing one) gets the identity in force, not its own.
        let again = store
            .record_installation("other.test", &[0u8; 32])
            .await
            .unwrap();
        assert_eq!(again, first);

        store.set_domain("other.test").await.unwrap();
        let changed = store.installation().await.unwrap().unwrap();
        assert_eq!(changed.domain, "other.test");
        assert_eq!(changed.key_check, first.key_check);
        engine.finish().await;
    }
}

#[test]
fn the_key_check_value_tells_keys_apart_and_reveals_neither() {
    let a = ServerKey::from_bytes(&[1u8; 32]).unwrap();
    let b = ServerKey::from_bytes(&[2u8; 32]).unwrap();
    assert_eq!(a.check_value(), a.check_value());
    assert_ne!(a.check_value(), b.check_value());
    assert_ne!(a.check_value(), [1u8; 32]);
    assert_ne!(a.check_value(), a.derive_key("parlance files v1"));
}

#[tokio::test]
async fn sealed_data_is_seen_in_passwords_and_in_files() {
    for engine in engines().await {
        let store = &engine.store;
        assert!(!store.holds_sealed_data().await.unwrap());
        let bench = store
            .add_users_without_password(&["bench@example.test"])
            .await
            .unwrap()[0]
            .id;
        assert!(
            !store.holds_sealed_data().await.unwrap(),
            "no password, nothing sealed"
        );
        let lobby = room(store, "Lobby").await;
        reserved(
            store,
            bench,
            lobby.id,
            "7c9e6679-7425-40de-944b-e07fc1f90ae7.pdf",
        )
        .await;
        assert!(store.holds_sealed_data().await.unwrap(), "a file");
        engine.finish().await;
    }
    for engine in engines().await {
        let store = &engine.store;
        user(store, "alice").await;
        assert!(store.holds_sealed_data().await.unwrap(), "a password");
        engine.finish().await;
    }
}

/// A snapshot is SQLite's (`VACUUM INTO`); a PostgreSQL store refuses to take one, naming
/// the database server's own backups, and writes nothing.
#[tokio::test]
async fn a_snapshot_is_the_database_as_it_was_with_its_complete_files() {
    for engine in engines().await {
        let store = &engine.store;
        let alice = user(store, "alice").await;
        let lobby = room(store, "Lobby").await;
        let done = "7c9e6679-7425-40de-944b-e07fc1f90ae7.pdf";
        let half = "0f8fad5b-d9cb-469f-a165-70867728950e.txt";
        uploaded(store, alice, lobby.id, done, 10).await;
        reserved(store, alice, lobby.id, half).await;
        store
            .record_installation("example.test", &key().check_value())
            .await
            .unwrap();
        let complete = [FileLocation {
            room_guid: lobby.guid.clone(),
            name: done.into(),
        }];
        assert_eq!(store.complete_files().await.unwrap(), complete);

        let dir = scratch_dir();
        let path = dir.join("snapshot.db");
        if let Location::Postgres(_) = engine.location {
            let refused = store.snapshot_into(&path).await;
            assert!(
                matches!(refused, Err(StoreError::NoSnapshot)),
                "{refused:?}"
            );
            assert!(!path.exists(), "nothing written");
            std::fs::remove_dir_all(&dir).unwrap();
            engine.finish().await;
            continue;
        }
        store.snapshot_into(&path).await.unwrap();
        user(store, "bob").await;
        assert!(
            store.snapshot_into(&path).await.is_err(),
            "never over an existing file"
        );

        let copy = Store::open_sqlite_existing(&path).await.unwrap();
        assert!(copy.user("alice@example.test").await.unwrap().is_some());
        assert!(copy.user("bob@example.test").await.unwrap().is_none());
        assert_eq!(copy.complete_files().await.unwrap(), complete);
        assert_eq!(copy.schema_version().await.unwrap(), Store::known_schema());
        assert_eq!(
            copy.installation().await.unwrap().unwrap().domain,
            "example.test"
        );
        copy.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
        engine.finish().await;
    }
}

#[tokio::test]
async fn opening_beside_a_server_creates_and_migrates_nothing() {
    let dir = scratch_dir();
    let path = dir.join("parlance.db");
    assert!(matches!(
        Store::open_sqlite_existing(&path).await,
        Err(StoreError::NoDatabase(_))
    ));
    assert!(!path.exists(), "no file made");

    Store::open_sqlite(&path).await.unwrap().close().await;
    let newest = Store::known_schema();
    let pool =
        sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&path))
            .await
            .unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = ?")
        .bind(newest)
        .execute(&pool)
        .await
        .unwrap();
    let refused = Store::open_sqlite_existing(&path).await.unwrap_err();
    assert!(
        matches!(refused, StoreError::SchemaTooOld { found, known } if found == newest - 1 && known == newest),
        "{refused:?}"
    );
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(applied, newest - 1, "nothing migrated");

    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (?, 'now', TRUE, x'00', 0), (?, 'from the future', TRUE, x'00', 0)",
    )
    .bind(newest)
    .bind(newest + 1)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let refused = Store::open_sqlite_existing(&path).await.unwrap_err();
    assert!(
        matches!(refused, StoreError::SchemaTooNew { found, known } if found == newest + 1 && known == newest),
        "{refused:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The PostgreSQL twin of the test above: an empty database, one a migration short and one
/// with a migration from the future are refused, and nothing is migrated.
#[tokio::test]
async fn opening_a_postgresql_store_beside_a_server_migrates_nothing() {
    let url = postgres::fresh_database().await;
    let refused = Store::open_existing(&url).await.unwrap_err();
    assert!(
        matches!(refused, StoreError::SchemaTooOld { found: 0, .. }),
        "an empty database: {refused:?}"
    );

    Store::open(&url).await.unwrap().close().await;
    let newest = Store::known_schema();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(newest)
        .execute(&pool)
        .await
        .unwrap();
    let refused = Store::open_existing(&url).await.unwrap_err();
    assert!(
        matches!(refused, StoreError::SchemaTooOld { found, known } if found == newest - 1 && known == newest),
        "{refused:?}"
    );
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(applied, newest - 1, "nothing migrated");

    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, 'now', TRUE, '\\x00', 0), ($2, 'from the future', TRUE, '\\x00', 0)",
    )
    .bind(newest)
    .bind(newest + 1)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let refused = Store::open_existing(&url).await.unwrap_err();
    assert!(
        matches!(refused, StoreError::SchemaTooNew { found, known } if found == newest + 1 && known == newest),
        "{refused:?}"
    );
    postgres::drop_database(&url).await;
}
