//! Standard input as lines for `--plain`, holding at most [`MAX_LINE`] bytes of one line.
//! tokio's `lines()` keeps growing its buffer until a newline comes, so one endless line
//! would take all the memory there is, and a line that is not UTF-8 is an error that ends
//! the stream. Here both are one refused line, and the next line is read as usual.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// More than any server takes in one message (its SIP body limit is 256 KiB by default):
/// a longer line could never be posted, so it is not kept.
pub const MAX_LINE: usize = 256 * 1024;

/// One line of input, without its line ending.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Text(String),
    /// Longer than the limit: how many bytes it had (its line ending left out).
    TooLong(usize),
    /// Not UTF-8 text.
    NotText,
}

#[derive(Debug)]
pub struct Lines<R> {
    reader: R,
    limit: usize,
    /// The line read so far, without its `\n`: at most `limit` bytes and a `\r`.
    line: Vec<u8>,
    /// Its length, the bytes not kept included.
    seen: usize,
    /// Its last byte, kept or not: a `\r` there is part of the line ending.
    last: Option<u8>,
}

impl<R: AsyncBufRead + Unpin> Lines<R> {
    pub fn new(reader: R, limit: usize) -> Lines<R> {
        Lines {
            reader,
            limit,
            line: Vec::new(),
            seen: 0,
            last: None,
        }
    }

    /// The next line; `None` at the end of the input. Cancel-safe (it is awaited in a
    /// `select!`): the line read so far stays in `self` whenever it is dropped at the await,
    /// and bytes are consumed only once they are in it.
    pub async fn next(&mut self) -> std::io::Result<Option<Line>> {
        loop {
            let buffer = self.reader.fill_buf().await?;
            if buffer.is_empty() {
                return Ok((self.seen > 0).then(|| self.take()));
            }
            let newline = buffer.iter().position(|&b| b == b'\n');
            let text = &buffer[..newline.unwrap_or(buffer.len())];
            let keep = text
                .len()
                .min((self.limit + 1).saturating_sub(self.line.len()));
            self.line.extend_from_slice(&text[..keep]);
            self.seen += text.len();
            self.last = text.last().copied().or(self.last);
            let used = text.len() + usize::from(newline.is_some());
            self.reader.consume(used);
            if newline.is_some() {
                return Ok(Some(self.take()));
            }
        }
    }

    fn take(&mut self) -> Line {
        let mut line = std::mem::take(&mut self.line);
        let carriage_return = self.last.take() == Some(b'\r');
        let length = std::mem::take(&mut self.seen) - usize::from(carriage_return);
        if length > self.limit {
            return Line::TooLong(length);
        }
        // Within the limit, every byte was kept.
        line.truncate(length);
        match String::from_utf8(line) {
            Ok(text) => Line::Text(text),
            Err(_) => Line::NotText,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn all(input: &[u8], limit: usize) -> Vec<Line> {
        // A small buffer, so that lines arrive in pieces as from a pipe.
        let reader = tokio::io::BufReader::with_capacity(3, input);
        let mut lines = Lines::new(reader, limit);
        let mut out = Vec::new();
        while let Some(line) = lines.next().await.unwrap() {
            out.push(line);
        }
        out
    }

    fn text(s: &str) -> Line {
        Line::Text(s.to_owned())
    }

    #[tokio::test]
    async fn lines_end_at_newlines_with_or_without_carriage_returns() {
        assert_eq!(
            all(b"one\r\ntwo\n\nlast", 10).await,
            [text("one"), text("two"), text(""), text("last")]
        );
        assert_eq!(all(b"", 10).await, []);
    }

    #[tokio::test]
    async fn a_line_over_the_limit_is_refused_and_the_next_one_read() {
        assert_eq!(
            all(b"1234567890\n12345678901\r\nafter\n", 10).await,
            [text("1234567890"), Line::TooLong(11), text("after")]
        );
        assert_eq!(
            all(&[b'x'; 1000], 10).await,
            [Line::TooLong(1000)],
            "at the end of the input too"
        );
    }

    #[tokio::test]
    async fn a_line_that_is_not_utf8_is_refused_and_the_next_one_read() {
        assert_eq!(
            all(b"caf\xe9\nnext\n", 10).await,
            [Line::NotText, text("next")]
        );
    }
}
