//! A minimal forward-only migration runner: each engine has its numbered SQL files embedded
//! in the binary, applied in order inside one transaction each.

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub sql: &'static str,
}

pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../migrations/sqlite/0001_principals.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../migrations/sqlite/0002_chat.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../migrations/sqlite/0003_ntlm.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../migrations/sqlite/0004_room_search.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("../migrations/sqlite/0005_access_changes.sql"),
    },
];
