//! A JSON text read a token at a time: whitespace, punctuation, literals,
//! strings and numbers, each accepted only as serde_json accepts it. The
//! steps the readers of JSON text share: the gateway's verbatim pass over
//! an answer and the tree built without serde_json's parser
//! ([`super::build_value`]). What needs more than a scan to match
//! serde_json exactly is refused (`None`), and the caller's parsed path
//! takes it: refusing is always safe, accepting what serde_json would not
//! never is.

use super::{BLOCK, Block};
use std::borrow::Cow;

/// The deepest nesting serde_json's parser takes: it refuses the 128th
/// level of arrays and objects, whatever the caller allows.
pub const PARSER_MAX_DEPTH: usize = 127;

/// Longest number read here; longer ones go to the parsed path (serde_json
/// refuses numbers beyond `f64`'s range, which this does not work out).
const LONGEST_NUMBER: usize = 40;

/// A reader of JSON text: the text, where it is in it, how deep in arrays
/// and objects.
#[derive(Debug)]
pub struct Text<'t> {
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
    depth: usize,
}

impl<'t> Text<'t> {
    /// A reader at the start of `text`, outside any array or object.
    pub fn new(text: &'t str) -> Self {
        Text { text, bytes: text.as_bytes(), at: 0, depth: 0 }
    }

    /// Where the reader is: the byte it looks at next.
    #[inline]
    pub fn at(&self) -> usize {
        self.at
    }

    /// How many arrays and objects the reader is in.
    #[inline]
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The text from `start` to where the reader is.
    #[inline]
    pub fn since(&self, start: usize) -> Option<&'t str> {
        self.text.get(start..self.at)
    }

    /// The byte the reader is at; `None` at the end.
    #[inline]
    pub fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Steps over whitespace.
    #[inline]
    pub fn skip_space(&mut self) {
        self.at = super::skip_space(self.bytes, self.at);
    }

    /// Steps over `b` after any whitespace.
    #[inline]
    pub fn eat(&mut self, b: u8) -> Option<()> {
        self.skip_space();
        (self.peek() == Some(b)).then(|| self.at += 1)
    }

    /// Steps over `word` (`true`, `false` or `null`) when it is here.
    #[inline]
    pub fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end) == Some(word)).then(|| self.at = end)
    }

    /// Steps into the array or object whose bracket the reader is at; `None`
    /// past the nesting serde_json reads ([`PARSER_MAX_DEPTH`]).
    #[inline]
    pub fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        self.at += 1;
        (self.depth <= PARSER_MAX_DEPTH).then_some(())
    }

    /// Steps out of an array or object, its closing bracket read.
    #[inline]
    pub fn leave(&mut self) {
        debug_assert!(self.depth > 0, "a leave without its enter");
        self.depth = self.depth.saturating_sub(1);
    }

    /// A string at its opening quote: its text, unescaped, and where that
    /// starts when it has no escapes. Most strings have no escape before
    /// their closing quote, found by [`Text::skip_to_escape`] alone; the
    /// rest take [`Text::string_in_full`].
    #[inline(always)]
    pub fn string(&mut self) -> Option<(Cow<'t, str>, Option<usize>)> {
        match self.plain_string() {
            Ok((start, end)) => Some((Cow::Borrowed(self.text.get(start..end)?), Some(start))),
            Err(start) => self.string_in_full(start),
        }
    }

    /// [`Text::string`] as bytes, for a reader that needs no `str`: the
    /// text between two quotes of a `str` is whole characters, so a slice
    /// of the bytes is taken without `str`'s check of its boundaries.
    #[inline(always)]
    pub fn string_bytes(&mut self) -> Option<(Cow<'t, [u8]>, Option<usize>)> {
        match self.plain_string() {
            Ok((start, end)) => Some((Cow::Borrowed(self.bytes.get(start..end)?), Some(start))),
            Err(start) => self.string_in_full(start).map(|(s, at)| (bytes_of(s), at)),
        }
    }

    /// A string at its opening quote with nothing escaped before its
    /// closing quote: where its text starts and ends, the reader past the
    /// closing quote. Else `Err` with where its text starts, the reader at
    /// its first byte that is not plain text (or at the end).
    #[inline(always)]
    fn plain_string(&mut self) -> Result<(usize, usize), usize> {
        let start = self.at + 1;
        self.at = start;
        self.skip_to_escape();
        if self.peek() != Some(b'"') {
            return Err(start);
        }
        let end = self.at;
        self.at += 1;
        Ok((start, end))
    }

    /// [`Text::string`] from its first byte that is not plain text (an
    /// escape or a control character), or from the end of the text.
    #[cold]
    #[inline(never)]
    fn string_in_full(&mut self, start: usize) -> Option<(Cow<'t, str>, Option<usize>)> {
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
        let inner = self.text.get(start..self.at)?;
        self.at += 1;
        if escaped {
            // Rare: serde_json reads the escapes.
            let quoted = self.text.get(open..self.at)?;
            let s = serde_json::from_str::<String>(quoted).ok()?;
            return Some((Cow::Owned(s), None));
        }
        Some((Cow::Borrowed(inner), Some(start)))
    }

    /// Steps to the next byte of a string that needs an escape, or to
    /// the end of the text: sixteen bytes at a time ([`Block::escapes`]).
    /// The same search as [`super::escape_at`], kept here on purpose:
    /// calling that (its `Option` turned into the end) counted about 550
    /// instructions more a request in the gateway's answer pass (measured).
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

    /// A number at its first byte: whether serde_json reads it as a `u64`.
    /// `None` for what is not a JSON number, and for an exponent or more
    /// than 40 characters (serde_json's reading of those takes more than a
    /// scan to match).
    #[inline]
    pub fn number(&mut self) -> Option<bool> {
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
        let integer = self.text.get(start..int_end)?;
        Some(!negative && int_end == self.at && integer.parse::<u64>().is_ok())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }
}

/// A string's text as bytes, borrowed or owned as it was.
fn bytes_of(s: Cow<'_, str>) -> Cow<'_, [u8]> {
    match s {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    }
}
