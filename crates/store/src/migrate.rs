//! Schema migrations: each engine's numbered SQL files (`migrations/<engine>/NNNN_name.sql`),
//! embedded in the binary and applied in order by sqlx's migrator, one transaction each.
//! sqlx records what ran in the `_sqlx_migrations` table, with a checksum of each file.

use sqlx::migrate::{MigrateError, Migrator};

use crate::error::StoreError;

pub(crate) static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
pub(crate) static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// The newest version `migrator` knows.
pub(crate) fn latest(migrator: &Migrator) -> i64 {
    migrator.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Refuses applied versions other than exactly `migrator`'s: a version it lacks is from a
/// newer Parlance, a version missing is a migration still to run.
pub(crate) fn check_applied(migrator: &Migrator, applied: &[i64]) -> Result<(), StoreError> {
    let known = latest(migrator);
    let found = applied.iter().copied().max().unwrap_or(0);
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    if migrator.iter().any(|m| !applied.contains(&m.version)) {
        return Err(StoreError::SchemaTooOld { found, known });
    }
    Ok(())
}

/// What a failed run means for the store: a version applied that this build does not know
/// comes from a newer Parlance, which this one must not run against.
pub(crate) fn error(migrator: &Migrator, e: MigrateError) -> StoreError {
    match e {
        MigrateError::VersionMissing(found) => StoreError::SchemaTooNew {
            found,
            known: latest(migrator),
        },
        e => StoreError::Migration(e),
    }
}

#[cfg(test)]
mod tests {
    use super::{POSTGRES, SQLITE};

    /// Every SQLite migration has its PostgreSQL twin, with the same number and name: the
    /// schema checks compare versions across engines, and `migrate-store` copies between them.
    #[test]
    fn each_engine_has_the_same_migrations() {
        let names = |m: &sqlx::migrate::Migrator| -> Vec<(i64, String)> {
            m.iter()
                .map(|m| (m.version, m.description.to_string()))
                .collect()
        };
        assert_eq!(names(&SQLITE), names(&POSTGRES));
    }
}
