//! A JSON value built straight from its text by [`Text`]'s steps, without
//! serde_json's parser: the first try of every parse on the gateway's
//! request path. It builds only what it reads exactly as serde_json would:
//! the same strings (escapes decoded by serde_json itself), the same
//! numbers (each read by serde_json's `Number` parse), objects made at
//! their final size from a shared entry stack, the last of duplicate keys
//! winning at the first one's place. Anything else (an exponent, nesting
//! past the bound, text that is not JSON) is refused, and the caller
//! parses with serde_json, whose value or error then stands: refusing is
//! always safe, so errors stay serde_json's own.

use super::text::Text;
use serde_json::{Map, Number, Value};
use std::borrow::Cow;

/// The entries of the objects being built, innermost last: one stack for
/// a whole parse, so that each object is made at its final size.
pub type Entries = Vec<(String, Value)>;

/// The value `text` starts with (spaces before it skipped) and where it
/// ends, with `left` levels of nesting allowed (the value itself counts:
/// `{}` needs 1), as serde_json's stream reads one value of a larger text:
/// a number or literal must be followed by the end, a space or
/// punctuation. `None`: not built here. `entries` is left as it was found.
pub fn build_value(text: &str, left: usize, entries: &mut Entries) -> Option<(Value, usize)> {
    let mut b = Builder { t: Text::new(text), entries };
    b.t.skip_space();
    let delimited = matches!(b.t.peek(), Some(b'"' | b'[' | b'{'));
    let value = b.value_or_none(left)?;
    let end = b.t.at();
    let ended =
        |byte: &u8| matches!(byte, b' ' | b'\n' | b'\t' | b'\r' | b'"' | b'[' | b']' | b'{' | b'}' | b',' | b':');
    (delimited || text.as_bytes().get(end).is_none_or(ended)).then_some((value, end))
}

/// All of `text` as one value, with `left` levels of nesting allowed;
/// `None`: not built here. `entries` is left as it was found.
pub fn build_document(text: &str, left: usize, entries: &mut Entries) -> Option<Value> {
    let mut b = Builder { t: Text::new(text), entries };
    let value = b.value_or_none(left)?;
    b.t.skip_space();
    (b.t.at() == text.len()).then_some(value)
}

/// The object whose entries are on the stack from `start`, taken off it:
/// made at its final size, the last of duplicate keys winning at the first
/// one's place (as serde_json's parse makes it). Serde_json's parser,
/// where the builder refuses, makes its objects here too.
pub fn object_from(entries: &mut Entries, start: usize) -> Value {
    object_with_room(entries, start, 0)
}

/// [`object_from`], made with room for `room` more members (a document's
/// top level, where the rules may add some) so that adding them does not
/// grow it.
pub fn object_with_room(entries: &mut Entries, start: usize, room: usize) -> Value {
    let entries = entries.drain(start.min(entries.len())..);
    let mut object = Map::with_capacity(entries.len().saturating_add(room));
    for (key, value) in entries {
        object.insert(key, value);
    }
    Value::Object(object)
}

/// A build in progress: the reader and the entry stack.
struct Builder<'t, 'e> {
    t: Text<'t>,
    entries: &'e mut Entries,
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

    /// [`Builder::value`] inside an array or object: a string, the most
    /// common value there, read here rather than through a call of
    /// `value`.
    #[inline(always)]
    fn inner(&mut self, left: usize) -> Option<Value> {
        self.t.skip_space();
        if self.t.peek()? != b'"' {
            return self.value(left);
        }
        self.string().map(Value::String)
    }

    /// An object at its brace; `left`: the nesting allowed inside it.
    fn object(&mut self, left: usize) -> Option<Value> {
        self.t.enter()?;
        let start = self.entries.len();
        if self.t.eat(b'}').is_none() {
            loop {
                self.t.skip_space();
                (self.t.peek() == Some(b'"')).then_some(())?;
                let key = self.string()?;
                self.t.eat(b':')?;
                let value = self.inner(left)?;
                self.entries.push((key, value));
                if self.t.eat(b',').is_none() {
                    self.t.eat(b'}')?;
                    break;
                }
            }
        }
        self.t.leave();
        Some(object_from(self.entries, start))
    }

    /// An array at its bracket; `left`: the nesting allowed inside it.
    fn array(&mut self, left: usize) -> Option<Value> {
        self.t.enter()?;
        let mut items = Vec::new();
        if self.t.eat(b']').is_none() {
            loop {
                items.push(self.inner(left)?);
                if self.t.eat(b',').is_none() {
                    self.t.eat(b']')?;
                    break;
                }
            }
        }
        self.t.leave();
        Some(Value::Array(items))
    }

    /// A string at its opening quote, unescaped.
    #[inline]
    fn string(&mut self) -> Option<String> {
        self.t.string().map(|(s, _)| Cow::into_owned(s))
    }

    /// A number, as serde_json's own `Number` parse reads it.
    fn number(&mut self) -> Option<Value> {
        let start = self.t.at();
        self.t.number()?;
        self.t.since(start)?.parse::<Number>().ok().map(Value::Number)
    }
}

#[cfg(test)]
mod tests;
