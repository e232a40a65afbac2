//! Form posts: an `application/x-www-form-urlencoded` body read under a limit, and the
//! fields by name.

use axum::body::Body;

use crate::{BodyError, Conn};

/// The largest form body. A room form with every field at its limit fits many times over,
/// and so does a name of 10,000 characters in any script (12 bytes each, percent-encoded),
/// which then gets its own "too long" rather than an unreadable form.
const MAX_FORM_BYTES: u64 = 256 * 1024;

/// Fields at most: the people form has one per person to remove, and pages list
/// people without bound only up to the room's size — past this a post is refused.
const MAX_FIELDS: usize = 2000;

#[derive(Debug, Default)]
pub struct Form {
    fields: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("more than {MAX_FIELDS} fields")]
    TooManyFields,
}

impl Form {
    pub async fn read(conn: &Conn, body: Body) -> Result<Form, FormError> {
        let bytes = conn.body(body, MAX_FORM_BYTES)?.to_bytes().await?;
        Form::parse(&bytes)
    }

    fn parse(bytes: &[u8]) -> Result<Form, FormError> {
        let mut fields = Vec::new();
        for (name, value) in form_urlencoded::parse(bytes) {
            if fields.len() == MAX_FIELDS {
                return Err(FormError::TooManyFields);
            }
            fields.push((name.into_owned(), value.into_owned()));
        }
        Ok(Form { fields })
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, or empty.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_owned()
    }

    /// Whether a checkbox was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.fields
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_by_name() {
        let f = Form::parse(b"a=1&b=x+y%26&remove=s1&remove=s2&a=3").unwrap();
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.text("b"), "x y&");
        assert_eq!(f.all("remove").collect::<Vec<_>>(), ["s1", "s2"]);
        assert!(!f.checked("c"));
        let many = "x=1&".repeat(MAX_FIELDS + 1);
        assert!(matches!(
            Form::parse(many.as_bytes()),
            Err(FormError::TooManyFields)
        ));
    }
}
