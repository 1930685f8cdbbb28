//! Reading JSON text without building anything: one pass over the bytes
//! that accepts only what serde_json accepts, and tells the verbatim pass
//! (through [`Reader`]) each key, string and number with its role.
//!
//! A string with escapes is read by serde_json itself. Where matching
//! serde_json exactly would take more than a scan (an exponent, a number
//! longer than 40 characters), and where serde_json itself refuses
//! (nesting past its depth), the text is refused and the parsed path
//! takes it: refusing is always safe, accepting what serde_json would not
//! never is. The property tests beside `verbatim.rs`
//! hold this to serde_json on generated and mangled text.

use crate::json::PARSER_MAX_DEPTH;
use scim_core::json_text::{BLOCK, Block};
use std::borrow::Cow;

/// What the pass does with what the text holds. `None` from any of these
/// stops the pass: the text is not vouched for.
pub(super) trait Reader {
    /// What a value under `key` is to the pass (`top`: a key of the
    /// outermost object).
    type Role: Copy;
    fn top(&self) -> Self::Role;
    fn key(&mut self, key: &[u8], top: bool) -> Self::Role;
    /// The role of the items of an array with this role; `None` refuses.
    fn items(&mut self, role: Self::Role) -> Option<Self::Role>;
    /// A string, valid UTF-8 (`at`: where its text starts, `None` when it
    /// has escapes).
    fn string(&mut self, role: Self::Role, s: &[u8], at: Option<usize>) -> Option<()>;
    /// A number: `unsigned` when serde_json reads it as a `u64`.
    fn number(&mut self, role: Self::Role, unsigned: bool) -> Option<()>;
    /// `true`, `false` or `null`.
    fn literal(&mut self, role: Self::Role) -> Option<()>;
}

/// Reads all of `text` as one JSON value; `None` when it is not one
/// serde_json would read, or the reader refused.
pub(super) fn read<R: Reader>(text: &[u8], reader: &mut R) -> Option<()> {
    // All of it UTF-8, checked once: a string's text, between two quotes,
    // is then UTF-8 too.
    crate::json::utf8(text).ok()?;
    let mut t = Text { bytes: text, at: 0, depth: 0 };
    let role = reader.top();
    t.value(reader, role)?;
    t.skip_space();
    (t.at == text.len()).then_some(())
}

/// Longest number read here; longer ones go to the parsed path (serde_json
/// refuses numbers beyond `f64`'s range, which this does not work out).
const LONGEST_NUMBER: usize = 40;

struct Text<'t> {
    bytes: &'t [u8],
    at: usize,
    depth: usize,
}

impl<'t> Text<'t> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        self.at = scim_core::json_text::skip_space(self.bytes, self.at);
    }

    /// Steps over `b` after any whitespace.
    fn eat(&mut self, b: u8) -> Option<()> {
        self.skip_space();
        (self.peek() == Some(b)).then(|| self.at += 1)
    }

    fn value<R: Reader>(&mut self, r: &mut R, role: R::Role) -> Option<()> {
        self.skip_space();
        match self.peek()? {
            // What is under an object takes its role from its key.
            b'{' => self.nested(|t| t.object(r)),
            b'[' => self.nested(|t| t.array(r, role)),
            b'"' => {
                let (s, at) = self.string()?;
                r.string(role, &s, at)
            }
            b't' => self.literal(b"true").and_then(|()| r.literal(role)),
            b'f' => self.literal(b"false").and_then(|()| r.literal(role)),
            b'n' => self.literal(b"null").and_then(|()| r.literal(role)),
            b'-' | b'0'..=b'9' => {
                let unsigned = self.number()?;
                r.number(role, unsigned)
            }
            _ => None,
        }
    }

    /// An array or object, at most as deep as serde_json reads.
    fn nested(&mut self, inner: impl FnOnce(&mut Self) -> Option<()>) -> Option<()> {
        self.depth += 1;
        if self.depth > PARSER_MAX_DEPTH {
            return None;
        }
        self.at += 1;
        inner(self)?;
        self.depth -= 1;
        Some(())
    }

    fn object<R: Reader>(&mut self, r: &mut R) -> Option<()> {
        let top = self.depth == 1;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            self.skip_space();
            (self.peek() == Some(b'"')).then_some(())?;
            let (key, _) = self.string()?;
            let role = r.key(&key, top);
            self.eat(b':')?;
            self.value(r, role)?;
            if self.eat(b',').is_none() {
                return self.eat(b'}');
            }
        }
    }

    fn array<R: Reader>(&mut self, r: &mut R, role: R::Role) -> Option<()> {
        let items = r.items(role)?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            self.value(r, items)?;
            if self.eat(b',').is_none() {
                return self.eat(b']');
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end) == Some(word)).then(|| self.at = end)
    }

    /// A string at its opening quote: its text (unescaped, valid UTF-8:
    /// the whole text is) and where that starts when it has no escapes.
    /// Most strings have no escape before their closing quote, found by
    /// [`Text::skip_to_escape`] alone; the rest take [`Text::string_in_full`].
    #[inline]
    fn string(&mut self) -> Option<(Cow<'t, [u8]>, Option<usize>)> {
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
    fn number(&mut self) -> Option<bool> {
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
