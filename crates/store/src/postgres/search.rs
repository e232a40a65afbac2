//! The deadline of a search. PostgreSQL cancels a statement that runs past the connection's
//! `statement_timeout`; the search connections get the search time limit as theirs, counted
//! per statement, and the connection is fit for the next search afterwards.

use sqlx::Postgres;
use sqlx::pool::PoolConnection;

use super::PgStore;
use crate::error::{Result, StoreError};
use crate::history::{scoped_word, search_terms};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// PostgreSQL's SQLSTATE for a statement cancelled, by its timeout among other causes.
const QUERY_CANCELED: &str = "57014";

impl PgStore {
    /// A search connection whose statements stop once they have run for the search time
    /// limit. The setting stays on the connection; only searches use these connections and
    /// each sets it again, so a changed limit applies from the next search on.
    pub(super) async fn search_connection(&self) -> Result<PoolConnection<Postgres>> {
        // A `statement_timeout` of 0 means none: a limit already over stops the search here.
        if self.search_time.is_zero() {
            return Err(self.time_limit());
        }
        let mut conn = self.searches.acquire().await?;
        let ms = self.search_time.as_millis().max(1).to_string();
        sqlx::query("SELECT set_config('statement_timeout', $1, false)")
            .bind(ms)
            .execute(&mut *conn)
            .await?;
        Ok(conn)
    }

    /// A search error as the caller should see it: a stop at the deadline is
    /// [`StoreError::SearchTimeLimit`].
    pub(super) fn search_error(&self, e: sqlx::Error) -> StoreError {
        match e {
            sqlx::Error::Database(d) if d.code().as_deref() == Some(QUERY_CANCELED) => {
                self.time_limit()
            }
            other => other.into(),
        }
    }

    fn time_limit(&self) -> StoreError {
        StoreError::SearchTimeLimit {
            limit_ms: u64::try_from(self.search_time.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// The longest lexeme a `tsvector` holds, in bytes. A longer word is not indexed, and a
/// search for one finds nothing: no one types a word of two kilobytes to find it again.
const MAX_LEXEME: usize = 2046;

/// The words of a message as the full-text index holds them: the words a search matches
/// ([`search_terms`]), folded as SQLite's FTS5 (`unicode61`) folds them and scoped to the
/// message's room ([`scoped_word`]), as SQLite's index holds them. They are made here, not
/// by a PostgreSQL text-search configuration, whose parser splits text otherwise (e-mail
/// addresses, hyphenated words and numbers are tokens of their own).
pub(super) fn search_lexemes(room_id: i64, content: &str) -> Vec<String> {
    search_terms(content)
        .map(|w| scoped_word(room_id, &fold(w)))
        .filter(|w| w.len() <= MAX_LEXEME)
        .collect()
}

/// Lower case without diacritics: `Crème` is `creme`, as FTS5's `remove_diacritics`.
fn fold(word: &str) -> String {
    word.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A `tsquery` matching the messages of these rooms that hold every word of `text`;
/// `None` when nothing can match (no room, no word, or a word too long to be indexed in
/// any of the rooms). The lexemes are alphanumeric, so quoting each makes it literal: no
/// operator or prefix syntax of the text survives.
pub(super) fn all_words_query(room_ids: &[i64], text: &str) -> Option<String> {
    let mut words = Vec::new();
    for word in search_terms(text).map(fold) {
        let rooms: Vec<String> = room_ids
            .iter()
            .map(|r| scoped_word(*r, &word))
            .filter(|w| w.len() <= MAX_LEXEME)
            .map(|w| format!("'{w}'"))
            .collect();
        words.push(match rooms.as_slice() {
            [] => return None,
            [one] => one.clone(),
            _ => format!("({})", rooms.join(" | ")),
        });
    }
    (!words.is_empty()).then(|| words.join(" & "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_split_folded_and_scoped_as_sqlite_indexes_them() {
        assert_eq!(
            search_lexemes(7, "Deploy: alice@example.com's re-run, v1.5!"),
            [
                "7zdeploy",
                "7zalice",
                "7zexample",
                "7zcom",
                "7zs",
                "7zre",
                "7zrun",
                "7zv1",
                "7z5"
            ]
        );
        assert_eq!(
            all_words_query(&[7], "\" OR * NEAR( Friday").as_deref(),
            Some("'7zor' & '7znear' & '7zfriday'")
        );
        assert_eq!(
            all_words_query(&[7, 12], "deploy now").as_deref(),
            Some("('7zdeploy' | '12zdeploy') & ('7znow' | '12znow')")
        );
        assert_eq!(search_lexemes(7, "Crème BRÛLÉE"), ["7zcreme", "7zbrulee"]);
        assert_eq!(all_words_query(&[7], "  ...  "), None);
        assert_eq!(all_words_query(&[], "deploy"), None);
        assert_eq!(all_words_query(&[7], &"x".repeat(MAX_LEXEME)), None);
        assert_eq!(
            search_lexemes(7, &"x".repeat(MAX_LEXEME)),
            Vec::<String>::new()
        );
    }
}
