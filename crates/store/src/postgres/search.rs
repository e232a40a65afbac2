//! The deadline of a search. PostgreSQL cancels a statement that runs past the connection's
//! `statement_timeout`; the search connections get the search time limit as theirs, counted
//! per statement, and the connection is fit for the next search afterwards.

use sqlx::Postgres;
use sqlx::pool::PoolConnection;

use super::PgStore;
use crate::error::{Result, StoreError};
use crate::history::search_terms;
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
/// ([`search_terms`]), folded as SQLite's FTS5 (`unicode61`) folds them. They are made
/// here, not by a PostgreSQL text-search configuration, whose parser splits text otherwise
/// (e-mail addresses, hyphenated words and numbers are tokens of their own).
pub(super) fn search_lexemes(content: &str) -> Vec<String> {
    search_terms(content)
        .map(fold)
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

/// A `tsquery` matching the messages that hold every word of `text`; `None` when nothing
/// can match (no word, or one too long to be indexed). The lexemes are alphanumeric, so
/// quoting each makes it literal: no operator or prefix syntax of the text survives.
pub(super) fn all_words_query(text: &str) -> Option<String> {
    let words: Vec<String> = search_terms(text).map(fold).collect();
    if words.is_empty() || words.iter().any(|w| w.len() > MAX_LEXEME) {
        return None;
    }
    Some(
        words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" & "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_split_and_folded_as_fts5_does() {
        assert_eq!(
            search_lexemes("Deploy: alice@example.com's re-run, v1.5!"),
            [
                "deploy", "alice", "example", "com", "s", "re", "run", "v1", "5"
            ]
        );
        assert_eq!(
            all_words_query("\" OR * NEAR( Friday").as_deref(),
            Some("'or' & 'near' & 'friday'")
        );
        assert_eq!(search_lexemes("Crème BRÛLÉE"), ["creme", "brulee"]);
        assert_eq!(all_words_query("  ...  "), None);
        assert_eq!(all_words_query(&"x".repeat(MAX_LEXEME + 1)), None);
    }
}
