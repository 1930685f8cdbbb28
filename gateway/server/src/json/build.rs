//! A JSON value built straight from its text by [`Text`]'s steps, without
//! serde_json's parser: the first try of every parse on the request path
//! (`json/parse.rs`). It builds only what it reads exactly as serde_json
//! would: the same strings (escapes decoded by serde_json itself), the
//! same numbers (each read by serde_json's `Number` parse), objects made
//! at their final size from the shared entry stack, the last of duplicate
//! keys winning at the first one's place. Anything else (an exponent,
//! nesting past the bound, text that is not JSON) is refused, and the
//! caller parses with serde_json, whose value or error then stands:
//! refusing is always safe, so errors stay serde_json's own.

use super::parse::PARSER_MAX_DEPTH;
use super::text::Text;
use serde_json::{Map, Number, Value};
use std::borrow::Cow;

/// The value `text` starts with (spaces before it skipped) and where it
/// ends, with `left` levels of nesting allowed, as serde_json's stream
/// reads one value of a larger text: a number or literal must be followed
/// by the end, a space or punctuation. `None`: not built here.
pub(super) fn part(text: &str, left: usize, entries: &mut Vec<(String, Value)>) -> Option<(Value, usize)> {
    let mut b = Builder { t: Text::new(text.as_bytes()), text, entries };
    b.t.skip_space();
    let delimited = matches!(b.t.peek(), Some(b'"' | b'[' | b'{'));
    let value = b.value_or_none(left)?;
    let end = b.t.at;
    let ended =
        |byte: &u8| matches!(byte, b' ' | b'\n' | b'\t' | b'\r' | b'"' | b'[' | b']' | b'{' | b'}' | b',' | b':');
    (delimited || text.as_bytes().get(end).is_none_or(ended)).then_some((value, end))
}

/// All of `text` as one value, with `left` levels of nesting allowed;
/// `None`: not built here.
pub(super) fn whole(text: &str, left: usize, entries: &mut Vec<(String, Value)>) -> Option<Value> {
    let mut b = Builder { t: Text::new(text.as_bytes()), text, entries };
    let value = b.value_or_none(left)?;
    b.t.skip_space();
    (b.t.at == text.len()).then_some(value)
}

/// A build in progress: the reader, the text it reads (for the strings'
/// slices) and the entries of the objects being read, innermost last.
struct Builder<'t, 'e> {
    t: Text<'t>,
    text: &'t str,
    entries: &'e mut Vec<(String, Value)>,
}

impl Builder<'_, '_> {
    /// [`Builder::value`], leaving the entry stack as it found it when the
    /// value is refused.
    fn value_or_none(&mut self, left: usize) -> Option<Value> {
        let mark = self.entries.len();
        let value = self.value(left);
        if value.is_none() {
            self.entries.truncate(mark);
        }
        value
    }

    fn value(&mut self, left: usize) -> Option<Value> {
        self.t.skip_space();
        match self.t.peek()? {
            b'{' => self.object(left.checked_sub(1)?),
            b'[' => self.array(left.checked_sub(1)?),
            b'"' => self.string().map(Value::String),
            b't' => self.t.literal(b"true").map(|()| Value::Bool(true)),
            b'f' => self.t.literal(b"false").map(|()| Value::Bool(false)),
            b'n' => self.t.literal(b"null").map(|()| Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// Steps into an array or object at its bracket, no deeper than
    /// serde_json reads.
    fn enter(&mut self) -> Option<()> {
        self.t.depth += 1;
        self.t.at += 1;
        (self.t.depth <= PARSER_MAX_DEPTH).then_some(())
    }

    /// An object at its brace; `left`: the nesting allowed inside it.
    fn object(&mut self, left: usize) -> Option<Value> {
        self.enter()?;
        let start = self.entries.len();
        if self.t.eat(b'}').is_none() {
            loop {
                self.t.skip_space();
                (self.t.peek() == Some(b'"')).then_some(())?;
                let key = self.string()?;
                self.t.eat(b':')?;
                let value = self.value(left)?;
                self.entries.push((key, value));
                if self.t.eat(b',').is_none() {
                    self.t.eat(b'}')?;
                    break;
                }
            }
        }
        self.t.depth -= 1;
        let entries = self.entries.drain(start..);
        let mut object = Map::with_capacity(entries.len());
        for (key, value) in entries {
            object.insert(key, value);
        }
        Some(Value::Object(object))
    }

    /// An array at its bracket; `left`: the nesting allowed inside it.
    fn array(&mut self, left: usize) -> Option<Value> {
        self.enter()?;
        let mut items = Vec::new();
        if self.t.eat(b']').is_none() {
            loop {
                items.push(self.value(left)?);
                if self.t.eat(b',').is_none() {
                    self.t.eat(b']')?;
                    break;
                }
            }
        }
        self.t.depth -= 1;
        Some(Value::Array(items))
    }

    /// A string at its opening quote, unescaped.
    fn string(&mut self) -> Option<String> {
        match self.t.string()? {
            (plain, Some(start)) => self.text.get(start..start + plain.len()).map(str::to_owned),
            (Cow::Owned(unescaped), None) => String::from_utf8(unescaped).ok(),
            (Cow::Borrowed(_), None) => None,
        }
    }

    /// A number, as serde_json's own `Number` parse reads it.
    fn number(&mut self) -> Option<Value> {
        let start = self.t.at;
        self.t.number()?;
        let token = self.text.get(start..self.t.at)?;
        token.parse::<Number>().ok().map(Value::Number)
    }
}

#[cfg(test)]
mod tests;
