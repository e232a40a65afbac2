//! The input line: a cursor, editing keys, and the lines sent before (Up/Down).

use unicode_width::UnicodeWidthStr;

#[derive(Debug, Default)]
pub struct LineEditor {
    text: String,
    /// Byte offset of the cursor in `text`, always on a character boundary.
    cursor: usize,
    sent: Vec<String>,
    /// Position while walking back through `sent`; `None` when editing a new line.
    recalled: Option<usize>,
}

impl LineEditor {
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Display columns before the cursor.
    pub fn cursor_column(&self) -> usize {
        self.text[..self.cursor].width()
    }

    pub fn insert(&mut self, c: char) {
        self.text.insert(self.cursor, c);
        self.cursor += c.len_utf8();
    }

    pub fn backspace(&mut self) {
        if let Some(c) = self.text[..self.cursor].chars().next_back() {
            self.cursor -= c.len_utf8();
            self.text.remove(self.cursor);
        }
    }

    pub fn delete(&mut self) {
        if self.cursor < self.text.len() {
            self.text.remove(self.cursor);
        }
    }

    pub fn left(&mut self) {
        if let Some(c) = self.text[..self.cursor].chars().next_back() {
            self.cursor -= c.len_utf8();
        }
    }

    pub fn right(&mut self) {
        if let Some(c) = self.text[self.cursor..].chars().next() {
            self.cursor += c.len_utf8();
        }
    }

    pub fn home(&mut self) {
        self.cursor = 0;
    }

    pub fn end(&mut self) {
        self.cursor = self.text.len();
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
        self.recalled = None;
    }

    /// Takes the line for submitting and remembers it.
    pub fn take(&mut self) -> String {
        let line = std::mem::take(&mut self.text);
        self.cursor = 0;
        self.recalled = None;
        if !line.trim().is_empty() && self.sent.last() != Some(&line) {
            self.sent.push(line.clone());
        }
        line
    }

    /// Shows the line sent before the one shown.
    pub fn older(&mut self) {
        let next = match self.recalled {
            Some(0) => return,
            Some(i) => i - 1,
            None if self.sent.is_empty() => return,
            None => self.sent.len() - 1,
        };
        self.show(Some(next));
    }

    /// Shows the line sent after the one shown, or an empty line after the newest.
    pub fn newer(&mut self) {
        match self.recalled {
            Some(i) if i + 1 < self.sent.len() => self.show(Some(i + 1)),
            Some(_) => self.show(None),
            None => {}
        }
    }

    fn show(&mut self, index: Option<usize>) {
        self.recalled = index;
        self.text = index.map(|i| self.sent[i].clone()).unwrap_or_default();
        self.cursor = self.text.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_at_the_cursor() {
        let mut e = LineEditor::default();
        for c in "héllo".chars() {
            e.insert(c);
        }
        e.left();
        e.left();
        e.backspace();
        assert_eq!((e.text(), e.cursor_column()), ("hélo", 2));
        e.home();
        e.delete();
        e.end();
        e.insert('!');
        assert_eq!(e.text(), "élo!");
        assert_eq!(e.take(), "élo!");
        assert_eq!((e.text(), e.cursor_column()), ("", 0));
    }

    #[test]
    fn recalls_sent_lines() {
        let mut e = LineEditor::default();
        for line in ["one", "two"] {
            line.chars().for_each(|c| e.insert(c));
            e.take();
        }
        e.older();
        assert_eq!(e.text(), "two");
        e.older();
        e.older();
        assert_eq!(e.text(), "one");
        e.newer();
        assert_eq!(e.text(), "two");
        e.newer();
        assert_eq!(e.text(), "");
    }
}
