//! JSON text to `Value`, strictly by RFC 8259, as `serde_json::from_str`
//! reads it: the same values from the same text, the same texts refused
//! (control characters in strings, lone surrogates, trailing commas,
//! nesting of 128 levels or more).

use super::skip_plain;
use serde_json::{Map, Number, Value};

/// Nesting deeper than this is refused, as serde_json refuses it (its
/// limit of 128 counts the step that fails).
const MAX_DEPTH: u32 = 127;

/// Why a text is not JSON, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    what: &'static str,
    at: usize,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.at, self.what)
    }
}

impl std::error::Error for ReadError {}

type Read<T> = Result<T, ReadError>;

/// Reads one JSON value that makes up the whole of `text` (whitespace
/// aside).
pub fn from_str(text: &str) -> Read<Value> {
    let mut r = Reader { text, bytes: text.as_bytes(), at: 0, depth: 0, members: Vec::new(), items: Vec::new() };
    r.skip_space();
    let value = r.value()?;
    r.skip_space();
    if r.at < r.bytes.len() {
        return Err(r.error("trailing characters"));
    }
    Ok(value)
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    depth: u32,
    /// Members of the objects being read, the innermost last: each map is
    /// built once, at its size, when its `}` is reached.
    members: Vec<(String, Value)>,
    /// Items of the arrays being read, likewise.
    items: Vec<Value>,
}

impl Reader<'_> {
    fn error(&self, what: &'static str) -> ReadError {
        ReadError { what, at: self.at }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    fn value(&mut self) -> Read<Value> {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("unexpected end of text")),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Read<Value> {
        if self.bytes.get(self.at..self.at + word.len()) != Some(word.as_bytes()) {
            return Err(self.error("expected a value"));
        }
        self.at += word.len();
        Ok(value)
    }

    /// Steps into an object or array (past its opening bracket).
    fn enter(&mut self) -> Read<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.at += 1;
        self.skip_space();
        Ok(())
    }

    /// After a member or item: `,` (true) or the closing bracket (false).
    fn next(&mut self, close: u8, what: &'static str) -> Read<bool> {
        self.skip_space();
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                self.skip_space();
                Ok(true)
            }
            Some(b) if b == close => {
                self.at += 1;
                Ok(false)
            }
            _ => Err(self.error(what)),
        }
    }

    fn object(&mut self) -> Read<Value> {
        self.enter()?;
        let mark = self.members.len();
        if self.peek() == Some(b'}') {
            self.at += 1;
        } else {
            loop {
                if self.peek() != Some(b'"') {
                    return Err(self.error("expected a key"));
                }
                let key = self.string()?;
                self.skip_space();
                if self.peek() != Some(b':') {
                    return Err(self.error("expected `:`"));
                }
                self.at += 1;
                self.skip_space();
                let value = self.value()?;
                self.members.push((key, value));
                if !self.next(b'}', "expected `,` or `}`")? {
                    break;
                }
            }
        }
        self.depth -= 1;
        let mut map = Map::with_capacity(self.members.len() - mark);
        // A repeated key keeps its last value (and, in an ordered map, its
        // first place).
        map.extend(self.members.drain(mark..));
        Ok(Value::Object(map))
    }

    fn array(&mut self) -> Read<Value> {
        self.enter()?;
        let mark = self.items.len();
        if self.peek() == Some(b']') {
            self.at += 1;
        } else {
            loop {
                let value = self.value()?;
                self.items.push(value);
                if !self.next(b']', "expected `,` or `]`")? {
                    break;
                }
            }
        }
        self.depth -= 1;
        Ok(Value::Array(self.items.drain(mark..).collect()))
    }

    /// A string, from its opening quote. Without escapes it is one copy of
    /// the text between the quotes.
    fn string(&mut self) -> Read<String> {
        self.at += 1;
        let start = self.at;
        let end = skip_plain(self.bytes, start);
        if self.bytes.get(end) == Some(&b'"') {
            self.at = end + 1;
            // Both ends sit next to ASCII bytes: character boundaries.
            return Ok(self.text.get(start..end).unwrap_or_default().to_owned());
        }
        let mut out = String::with_capacity(end - start + 16);
        let (mut from, mut at) = (start, end);
        loop {
            out.push_str(self.text.get(from..at).unwrap_or_default());
            self.at = at;
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => self.escape(&mut out)?,
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unterminated string")),
            }
            from = self.at;
            at = skip_plain(self.bytes, from);
        }
    }

    /// One escape, from its backslash.
    fn escape(&mut self, out: &mut String) -> Read<()> {
        let c = match self.bytes.get(self.at + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.at += 2;
                out.push(self.unicode()?);
                return Ok(());
            }
            Some(_) => return Err(self.error("invalid escape")),
            None => return Err(self.error("unterminated string")),
        };
        self.at += 2;
        out.push(c);
        Ok(())
    }

    /// The character of a `\u` escape (two for a surrogate pair), from its
    /// hex digits.
    fn unicode(&mut self) -> Read<char> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.bytes.get(self.at..self.at + 2) != Some(b"\\u") {
                    return Err(self.error("lone leading surrogate"));
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error("lone leading surrogate"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.error("lone trailing surrogate")),
            _ => first,
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid escape"))
    }

    fn hex4(&mut self) -> Read<u32> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self.peek().and_then(|b| char::from(b).to_digit(16));
            code = code * 16 + digit.ok_or_else(|| self.error("invalid \\u escape"))?;
            self.at += 1;
        }
        Ok(code)
    }

    /// A number by JSON's grammar, converted by serde_json (so integers,
    /// floats and out-of-range values come out as there).
    fn number(&mut self) -> Read<Value> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.required_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.required_digits()?;
        }
        let text = self.text.get(start..self.at).unwrap_or_default();
        serde_json::from_str::<Number>(text)
            .map(Value::Number)
            .map_err(|_| ReadError { what: "number out of range", at: start })
    }

    fn required_digits(&mut self) -> Read<()> {
        if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
            return Err(self.error("invalid number"));
        }
        self.digits();
        Ok(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }
}
