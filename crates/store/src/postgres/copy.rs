//! `parlance migrate-store`: an installation's SQLite database copied into an empty
//! PostgreSQL one, table by table, in one transaction on the target. Each table's rows are
//! counted and checksummed as they are read from SQLite and again as PostgreSQL holds them
//! before the commit; a difference rolls everything back.
//!
//! The checksum of a table is the sum (modulo 2¹²⁸) of a SHA-256 of each row's values,
//! so it does not depend on the order either engine returns rows in; flags count as the
//! integers 0 and 1 that SQLite stores.

use ring::digest::{SHA256, digest};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Postgres, Row, Transaction};

use super::PgStore;
use super::history::placeholders;
use super::search::search_lexemes;
use crate::SqliteStore;
use crate::error::{Result, StoreError};

/// How a column is stored: the same on both engines, except flags (SQLite integers,
/// PostgreSQL booleans).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
    Flag,
    Blob,
}

use Kind::{Blob, Flag, Int, Text};

/// A table to copy: its columns, and the identity column whose sequence must continue past
/// the copied ids.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    identity: Option<&'static str>,
}

/// Every table of the schema, parents before children (foreign keys are checked as rows
/// arrive). A table added by a migration is added here too, or the copy refuses to start.
const TABLES: &[Table] = &[
    Table {
        name: "installation",
        columns: &[
            ("id", Int),
            ("domain", Text),
            ("key_check", Blob),
            ("created_at", Int),
        ],
        identity: None,
    },
    Table {
        name: "principals",
        columns: &[
            ("id", Int),
            ("kind", Text),
            ("uri", Text),
            ("display_name", Text),
            ("created_at", Int),
            ("mechanisms", Text),
            ("disabled", Flag),
            ("removed_at", Int),
            ("admin", Flag),
            ("last_sign_in_at", Int),
            ("persistent_chat", Flag),
        ],
        identity: Some("id"),
    },
    Table {
        name: "password_hashes",
        columns: &[("principal_id", Int), ("phc", Text), ("updated_at", Int)],
        identity: None,
    },
    Table {
        name: "digest_secrets",
        columns: &[
            ("principal_id", Int),
            ("algorithm", Text),
            ("username", Text),
            ("realm", Text),
            ("sealed_ha1", Blob),
        ],
        identity: None,
    },
    Table {
        name: "ntlm_secrets",
        columns: &[("principal_id", Int), ("sealed_nt_hash", Blob)],
        identity: None,
    },
    Table {
        name: "categories",
        columns: &[
            ("id", Int),
            ("guid", Text),
            ("parent_id", Int),
            ("name", Text),
            ("description", Text),
            ("file_post", Flag),
            ("invitations", Flag),
            ("logged", Flag),
            ("created_at", Int),
            ("retention_days", Int),
        ],
        identity: Some("id"),
    },
    Table {
        name: "category_creators",
        columns: &[("category_id", Int), ("principal_id", Int)],
        identity: None,
    },
    Table {
        name: "category_scope",
        columns: &[("category_id", Int), ("principal_id", Int), ("allow", Flag)],
        identity: None,
    },
    Table {
        name: "rooms",
        columns: &[
            ("id", Int),
            ("guid", Text),
            ("category_id", Int),
            ("name", Text),
            ("description", Text),
            ("topic", Text),
            ("privacy", Text),
            ("behavior", Text),
            ("invitations", Flag),
            ("disabled", Flag),
            ("next_seq", Int),
            ("created_at", Int),
            ("updated_at", Int),
            ("file_post", Flag),
        ],
        identity: Some("id"),
    },
    Table {
        name: "room_roles",
        columns: &[("room_id", Int), ("principal_id", Int), ("role", Text)],
        identity: None,
    },
    Table {
        name: "messages",
        columns: &[
            ("id", Int),
            ("room_id", Int),
            ("seq", Int),
            ("author_id", Int),
            ("posted_at", Int),
            ("content", Text),
            ("alert", Flag),
            ("rtf", Text),
        ],
        identity: Some("id"),
    },
    Table {
        name: "compliance_outbox",
        columns: &[
            ("id", Int),
            ("kind", Text),
            ("room_id", Int),
            ("principal_id", Int),
            ("message_seq", Int),
            ("content", Text),
            ("at", Int),
            ("node", Text),
        ],
        identity: Some("id"),
    },
    Table {
        name: "compliance_export",
        columns: &[("id", Int), ("exported_id", Int), ("updated_at", Int)],
        identity: None,
    },
    Table {
        name: "invitations",
        columns: &[
            ("principal_id", Int),
            ("invite_id", Int),
            ("room_id", Int),
            ("created_at", Int),
        ],
        identity: None,
    },
    Table {
        name: "preferences",
        columns: &[
            ("principal_id", Int),
            ("label", Text),
            ("seq", Int),
            ("content", Text),
        ],
        identity: None,
    },
    Table {
        name: "access_changes",
        columns: &[
            ("seq", Int),
            ("kind", Text),
            ("principal_id", Int),
            ("room_id", Int),
            ("category_id", Int),
            ("account", Text),
            ("reason", Text),
            ("at", Int),
        ],
        identity: Some("seq"),
    },
    Table {
        name: "files",
        columns: &[
            ("id", Int),
            ("room_id", Int),
            ("name", Text),
            ("original_name", Text),
            ("uploader_id", Int),
            ("size", Int),
            ("state", Text),
            ("created_at", Int),
            ("completed_at", Int),
        ],
        identity: Some("id"),
    },
    Table {
        name: "file_tokens",
        columns: &[
            ("token", Text),
            ("principal_id", Int),
            ("room_id", Int),
            ("direction", Text),
            ("file_url", Text),
            ("file_id", Int),
            ("issued_at", Int),
            ("expires_at", Int),
            ("spent", Flag),
            ("download_recorded", Flag),
        ],
        identity: None,
    },
    Table {
        name: "message_files",
        columns: &[("room_id", Int), ("seq", Int), ("file_id", Int)],
        identity: None,
    },
    Table {
        name: "audit_log",
        columns: &[
            ("id", Int),
            ("at", Int),
            ("actor_id", Int),
            ("room_id", Int),
            ("category_id", Int),
            ("action", Text),
            ("detail", Text),
        ],
        identity: Some("id"),
    },
    Table {
        name: "signed_in",
        columns: &[
            ("node", Text),
            ("connection", Int),
            ("account", Text),
            ("transport", Text),
            ("remote", Text),
            ("since", Int),
        ],
        identity: None,
    },
    Table {
        name: "legal_holds",
        columns: &[
            ("id", Int),
            ("room_id", Int),
            ("principal_id", Int),
            ("reason", Text),
            ("placed_by", Text),
            ("placed_at", Int),
            ("released_by", Text),
            ("released_at", Int),
        ],
        identity: Some("id"),
    },
    Table {
        name: "nodes",
        columns: &[
            ("id", Text),
            ("channel_uri", Text),
            ("sip_address", Text),
            ("https_address", Text),
            ("started_at", Int),
            ("heartbeat_at", Int),
            ("connections", Int),
            ("joined", Int),
            ("cpu_permille", Int),
            ("queued_bytes", Int),
        ],
        identity: None,
    },
    Table {
        name: "leases",
        columns: &[("name", Text), ("holder", Text), ("expires_at", Int)],
        identity: None,
    },
];

/// Rows read from SQLite and inserted into PostgreSQL at a time: memory stays bounded
/// whatever the history's size, and a statement stays well under PostgreSQL's 65,535
/// parameters.
const BATCH: i64 = 1_000;

/// What one table's copy moved, as both engines counted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    pub table: &'static str,
    pub rows: u64,
    /// The order-independent checksum of the rows, in hex; the same on both engines.
    pub checksum: String,
}

/// One value of a row, as both engines give it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// A running count and checksum of one table's rows.
#[derive(Debug, Default)]
struct Tally {
    rows: u64,
    sum: u128,
}

impl Tally {
    fn add(&mut self, row: &[Value]) {
        let mut bytes = Vec::new();
        for value in row {
            let (tag, data): (u8, &[u8]) = match value {
                Value::Null => (0, &[]),
                Value::Int(i) => (1, &i.to_le_bytes()[..]),
                Value::Text(t) => (2, t.as_bytes()),
                Value::Blob(b) => (3, b),
            };
            bytes.push(tag);
            bytes.extend_from_slice(&(data.len() as u64).to_le_bytes());
            bytes.extend_from_slice(data);
        }
        let hash = digest(&SHA256, &bytes);
        let mut head = [0u8; 16];
        head.copy_from_slice(&hash.as_ref()[..16]);
        self.rows += 1;
        self.sum = self.sum.wrapping_add(u128::from_le_bytes(head));
    }
}

impl PgStore {
    /// Copies every table of `from` into this database, which must hold nothing yet, and
    /// returns each table's count and checksum. The source should not change meanwhile:
    /// stop the server (and the admin commands) first.
    pub async fn copy_from_sqlite(&self, from: &SqliteStore) -> Result<Vec<TableCopy>> {
        check_schema(from).await?;
        let mut tx = self.begin_write().await?;
        refuse_non_empty(&mut tx).await?;
        let mut copied = Vec::new();
        for table in TABLES {
            let source = copy_table(from, &mut tx, table).await?;
            let target = tally_target(&mut tx, table).await?;
            if (source.rows, source.sum) != (target.rows, target.sum) {
                return Err(StoreError::Invalid {
                    what: "copy",
                    why: format!(
                        "{}: SQLite has {} rows (checksum {:032x}), PostgreSQL {} ({:032x})",
                        table.name, source.rows, source.sum, target.rows, target.sum
                    ),
                });
            }
            if let Some(column) = table.identity {
                continue_identity(from, &mut tx, table.name, column).await?;
            }
            copied.push(TableCopy {
                table: table.name,
                rows: source.rows,
                checksum: format!("{:032x}", source.sum),
            });
        }
        tx.commit().await?;
        Ok(copied)
    }
}

/// The source's tables and columns must be the ones [`TABLES`] lists: a table or a column
/// it does not know would be left behind.
async fn check_schema(from: &SqliteStore) -> Result<()> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         AND name NOT LIKE 'messages\\_fts%' ESCAPE '\\' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&from.reads)
    .await?;
    let mut known: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    known.sort_unstable();
    if tables != known {
        return Err(StoreError::Invalid {
            what: "source database",
            why: format!("its tables {tables:?} are not the ones this build copies {known:?}"),
        });
    }
    for table in TABLES {
        let mut columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
            .bind(table.name)
            .fetch_all(&from.reads)
            .await?;
        columns.sort_unstable();
        let mut listed: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
        listed.sort_unstable();
        if columns != listed {
            return Err(StoreError::Invalid {
                what: "source database",
                why: format!(
                    "table {} has columns {columns:?}, not {listed:?}",
                    table.name
                ),
            });
        }
    }
    Ok(())
}

/// A target with any row of its own (besides the export cursor its migration writes) is
/// refused: merging two installations is not a copy.
async fn refuse_non_empty(tx: &mut Transaction<'_, Postgres>) -> Result<()> {
    for table in TABLES.iter().filter(|t| t.name != "compliance_export") {
        let any: bool =
            sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM {})", table.name))
                .fetch_one(&mut **tx)
                .await?;
        if any {
            return Err(StoreError::Invalid {
                what: "target database",
                why: format!("table {} is not empty", table.name),
            });
        }
    }
    // The cursor's row is the source's to give.
    sqlx::query("DELETE FROM compliance_export")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Reads a table from SQLite in batches by rowid and inserts each batch; returns the tally
/// of what was read.
async fn copy_table(
    from: &SqliteStore,
    tx: &mut Transaction<'_, Postgres>,
    table: &Table,
) -> Result<Tally> {
    let names: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
    let select = format!(
        "SELECT rowid, {} FROM {} WHERE rowid > ? ORDER BY rowid LIMIT ?",
        names.join(", "),
        table.name
    );
    let mut tally = Tally::default();
    let mut after = i64::MIN;
    loop {
        let rows = sqlx::query(&select)
            .bind(after)
            .bind(BATCH)
            .fetch_all(&from.reads)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(tally);
        };
        after = last.get(0);
        let values: Vec<Vec<Value>> = rows
            .iter()
            .map(|row| read_sqlite(row, table.columns))
            .collect::<Result<_>>()?;
        for row in &values {
            tally.add(row);
        }
        insert_batch(tx, table, &values).await?;
    }
}

async fn insert_batch(
    tx: &mut Transaction<'_, Postgres>,
    table: &Table,
    rows: &[Vec<Value>],
) -> Result<()> {
    let messages = table.name == "messages";
    let mut names: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
    if messages {
        names.push("search");
    }
    let values = placeholders(rows.len(), names.len(), messages.then_some(names.len()));
    let sql = format!(
        "INSERT INTO {} ({}) VALUES {values}",
        table.name,
        names.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for row in rows {
        for ((_, kind), value) in table.columns.iter().zip(row) {
            query = match (kind, value) {
                (Int, Value::Int(i)) => query.bind(*i),
                (Int, _) => query.bind(None::<i64>),
                (Flag, Value::Int(i)) => query.bind(*i != 0),
                (Flag, _) => query.bind(None::<bool>),
                (Text, Value::Text(t)) => query.bind(t.clone()),
                (Text, _) => query.bind(None::<String>),
                (Blob, Value::Blob(b)) => query.bind(b.clone()),
                (Blob, _) => query.bind(None::<Vec<u8>>),
            };
        }
        if messages {
            let room_id = match row.get(1) {
                Some(Value::Int(i)) => *i,
                _ => 0,
            };
            let content = match row.get(5) {
                Some(Value::Text(t)) => t.as_str(),
                _ => "",
            };
            query = query.bind(search_lexemes(room_id, content));
        }
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Counts and checksums a table as PostgreSQL holds it inside the copy's transaction,
/// through a cursor: a batch of rows in memory at a time.
async fn tally_target(tx: &mut Transaction<'_, Postgres>, table: &Table) -> Result<Tally> {
    let names: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
    sqlx::query(&format!(
        "DECLARE copy_check NO SCROLL CURSOR FOR SELECT {} FROM {}",
        names.join(", "),
        table.name
    ))
    .execute(&mut **tx)
    .await?;
    let mut tally = Tally::default();
    loop {
        // Not prepared once for all tables: each table's rows have columns of their own.
        let rows = sqlx::query(&format!("FETCH {BATCH} FROM copy_check"))
            .persistent(false)
            .fetch_all(&mut **tx)
            .await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            tally.add(&read_postgres(row, table.columns)?);
        }
    }
    sqlx::query("CLOSE copy_check").execute(&mut **tx).await?;
    Ok(tally)
}

/// The identity continues after the highest id given: the copied rows', or, for the
/// AUTOINCREMENT tables, SQLite's record of the highest id ever given (rows deleted since,
/// such as exported compliance rows, keep their ids from being handed out again).
async fn continue_identity(
    from: &SqliteStore,
    tx: &mut Transaction<'_, Postgres>,
    table: &str,
    column: &str,
) -> Result<()> {
    let max: Option<i64> = sqlx::query_scalar(&format!("SELECT MAX({column}) FROM {table}"))
        .fetch_one(&mut **tx)
        .await?;
    // The schema has AUTOINCREMENT tables from migration 5 on, so SQLite keeps this table.
    let given: Option<i64> = sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = ?")
        .bind(table)
        .fetch_optional(&from.reads)
        .await?;
    let Some(last) = max.max(given) else {
        return Ok(());
    };
    sqlx::query("SELECT setval(pg_get_serial_sequence($1, $2), $3)")
        .bind(table)
        .bind(column)
        .bind(last)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The columns after the rowid, by position: where a column is the rowid's alias (an
/// `INTEGER PRIMARY KEY`), SQLite names both alike.
fn read_sqlite(row: &SqliteRow, columns: &[(&str, Kind)]) -> Result<Vec<Value>> {
    columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            let at = i + 1;
            Ok(match kind {
                Int | Flag => row.try_get::<Option<i64>, _>(at)?.map(Value::Int),
                Text => row.try_get::<Option<String>, _>(at)?.map(Value::Text),
                Blob => row.try_get::<Option<Vec<u8>>, _>(at)?.map(Value::Blob),
            }
            .unwrap_or(Value::Null))
        })
        .collect()
}

fn read_postgres(row: &PgRow, columns: &[(&str, Kind)]) -> Result<Vec<Value>> {
    columns
        .iter()
        .enumerate()
        .map(|(at, (_, kind))| {
            Ok(match kind {
                Int => row.try_get::<Option<i64>, _>(at)?.map(Value::Int),
                Flag => row
                    .try_get::<Option<bool>, _>(at)?
                    .map(|b| Value::Int(i64::from(b))),
                Text => row.try_get::<Option<String>, _>(at)?.map(Value::Text),
                Blob => row.try_get::<Option<Vec<u8>>, _>(at)?.map(Value::Blob),
            }
            .unwrap_or(Value::Null))
        })
        .collect()
}
