//! A JSON text read a token at a time: whitespace, punctuation, literals,
//! strings and numbers, each accepted only as serde_json accepts it. The
//! steps the readers of JSON text share: the verbatim pass over an answer
//! (`proxy/verbatim/text.rs`) and the tree built without serde_json's
//! parser (`json/build.rs`). What needs more than a scan to match
//! serde_json exactly is refused (`None`), and the caller's parsed path
//! takes it.

use scim_core::json_text::{BLOCK, Block};
use std::borrow::Cow;

/// Longest number read here; longer ones go to the parsed path (serde_json
/// refuses numbers beyond `f64`'s range, which this does not work out).
const LONGEST_NUMBER: usize = 40;

/// A reader of JSON text: the bytes, where it is in them, how deep.
pub(crate) struct Text<'t> {
    pub(crate) bytes: &'t [u8],
    pub(crate) at: usize,
    /// How deep in arrays and objects the reader is.
    pub(crate) depth: usize,
}

impl<'t> Text<'t> {
    /// A reader at the start of `bytes`, outside any array or object.
    pub(crate) fn new(bytes: &'t [u8]) -> Self {
        Text { bytes, at: 0, depth: 0 }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    pub(crate) fn skip_space(&mut self) {
        self.at = scim_core::json_text::skip_space(self.bytes, self.at);
    }

    /// Steps over `b` after any whitespace.
    pub(crate) fn eat(&mut self, b: u8) -> Option<()> {
        self.skip_space();
        (self.peek() == Some(b)).then(|| self.at += 1)
    }

    pub(crate) fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end) == Some(word)).then(|| self.at = end)
    }

    /// A string at its opening quote: its text (unescaped, valid UTF-8:
    /// the whole text is) and where that starts when it has no escapes.
    /// Most strings have no escape before their closing quote, found by
    /// [`Text::skip_to_escape`] alone; the rest take [`Text::string_in_full`].
    #[inline]
    pub(crate) fn string(&mut self) -> Option<(Cow<'t, [u8]>, Option<usize>)> {
        let start = self.at + 1;
        self.at = start;
        self.skip_to_escape();
        if self.peek() != Some(b'"') {
            return self.string_in_full(start);
        }
        let inner = self.bytes.get(start..self.at)?;
        self.at += 1;
        Some((Cow::Borrowed(inner), Some(start)))
    }

    /// [`Text::string`] from its first byte that is not plain text (an
    /// escape or a control character), or from the end of the text.
    #[cold]
    #[inline(never)]
    fn string_in_full(&mut self, start: usize) -> Option<(Cow<'t, [u8]>, Option<usize>)> {
        let open = start - 1;
        let mut escaped = false;
        loop {
            self.skip_to_escape();
            match self.peek()? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.escape()?;
                }
                // A control character; nothing else stops `skip_to_escape`.
                _ => return None,
            }
        }
        let inner = self.bytes.get(start..self.at)?;
        self.at += 1;
        if escaped {
            // Rare: serde_json reads the escapes.
            let quoted = self.bytes.get(open..self.at)?;
            let s = serde_json::from_slice::<String>(quoted).ok()?;
            return Some((Cow::Owned(s.into_bytes()), None));
        }
        Some((Cow::Borrowed(inner), Some(start)))
    }

    /// Steps to the next byte of a string that needs an escape, or to
    /// the end of the text: sixteen bytes at a time ([`Block::escapes`]).
    /// The same search as `json_text::escape_at`, kept here on purpose:
    /// calling that (its `Option` turned into the end) counted about 550
    /// instructions more a request (measured).
    #[inline]
    fn skip_to_escape(&mut self) {
        while let Some(block) = Block::at(self.bytes, self.at) {
            let stops = block.escapes();
            if stops != 0 {
                self.at += stops.trailing_zeros() as usize;
                return;
            }
            self.at = (self.at + BLOCK).min(self.bytes.len());
        }
    }

    /// An escape at its backslash. What a `\u` escape stands for (a
    /// surrogate must be one of a pair) serde_json checks when it reads the
    /// string's escapes.
    fn escape(&mut self) -> Option<()> {
        self.at += 1;
        match self.peek()? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 1,
            b'u' => {
                let hex = self.bytes.get(self.at + 1..self.at + 5)?;
                hex.iter().all(u8::is_ascii_hexdigit).then_some(())?;
                self.at += 5;
            }
            _ => return None,
        }
        Some(())
    }

    /// A number: whether serde_json reads it as a `u64`.
    pub(crate) fn number(&mut self) -> Option<bool> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        self.at += usize::from(negative);
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let int_end = self.at;
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.peek().filter(u8::is_ascii_digit)?;
            self.digits();
        }
        // An exponent, or a digit after a leading zero: the parsed path.
        if matches!(self.peek(), Some(b'e' | b'E' | b'0'..=b'9')) || self.at - start > LONGEST_NUMBER {
            return None;
        }
        let integer = std::str::from_utf8(self.bytes.get(start..int_end)?).ok()?;
        Some(!negative && int_end == self.at && integer.parse::<u64>().is_ok())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }
}
