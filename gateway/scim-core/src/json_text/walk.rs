//! A walk over one JSON value's text that builds nothing: [`value`] reads
//! it with [`Text`]'s token steps and tells a [`Reader`] each key, string,
//! number and literal with the role its place gives it. What serde_json's
//! parse would refuse the walk refuses too (the token steps hold to its
//! grammar, and nesting stops at its depth); so does what the reader
//! refuses. Shared by the verbatim answer pass (the gateway's) and
//! normalization's check of a member it strips whole.

use super::Text;

/// One of JSON's three literals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Literal {
    True,
    False,
    Null,
}

/// What a walk does with what the text holds. `None` from any of these
/// stops the walk: the text is not vouched for.
pub trait Reader {
    /// What a value is to the reader, given by its place.
    type Role: Copy;
    /// The role of the value under `key` (`top`: a key of an object at
    /// the text's first level; the walk's own when it starts at a fresh
    /// [`Text`], as its callers do).
    fn key(&mut self, key: &[u8], top: bool) -> Self::Role;
    /// The role of the items of an array with this role; `None` refuses.
    fn items(&mut self, role: Self::Role) -> Option<Self::Role>;
    /// A string, valid UTF-8 (`at`: where its text starts, `None` when it
    /// has escapes).
    fn string(&mut self, role: Self::Role, s: &[u8], at: Option<usize>) -> Option<()>;
    /// A number: `unsigned` when serde_json reads it as a `u64`.
    fn number(&mut self, role: Self::Role, unsigned: bool) -> Option<()>;
    /// `true`, `false` or `null`.
    fn literal(&mut self, role: Self::Role, word: Literal) -> Option<()>;
    /// How deep arrays and objects may nest, counted as [`Text::depth`]
    /// counts (from a fresh [`Text`], the outermost is 1); past it the
    /// walk stops. serde_json's own bound applies anyway.
    fn max_depth(&self) -> usize {
        usize::MAX
    }
}

/// Reads the value at `t`'s place (spaces before it skipped), of `role`:
/// `None` when it is not one serde_json would read, or the reader
/// refused. `t` is left just past it.
pub fn value<R: Reader>(t: &mut Text<'_>, r: &mut R, role: R::Role) -> Option<()> {
    t.skip_space();
    match t.peek()? {
        // What is under an object takes its role from its key.
        b'{' => nested(t, r, |t, r| object(t, r)),
        b'[' => nested(t, r, |t, r| array(t, r, role)),
        b'"' => {
            let (s, at) = t.string_bytes()?;
            r.string(role, &s, at)
        }
        b't' => t.literal(b"true").and_then(|()| r.literal(role, Literal::True)),
        b'f' => t.literal(b"false").and_then(|()| r.literal(role, Literal::False)),
        b'n' => t.literal(b"null").and_then(|()| r.literal(role, Literal::Null)),
        b'-' | b'0'..=b'9' => {
            let unsigned = t.number()?;
            r.number(role, unsigned)
        }
        _ => None,
    }
}

/// [`value`] inside an array or object: a string, the most common value
/// there, read here rather than through a call of `value`.
#[inline(always)]
fn inner<R: Reader>(t: &mut Text<'_>, r: &mut R, role: R::Role) -> Option<()> {
    t.skip_space();
    if t.peek()? != b'"' {
        return value(t, r, role);
    }
    let (s, at) = t.string_bytes()?;
    r.string(role, &s, at)
}

/// An array or object, within serde_json's depth and the reader's.
fn nested<'t, R: Reader>(
    t: &mut Text<'t>,
    r: &mut R,
    inner: impl FnOnce(&mut Text<'t>, &mut R) -> Option<()>,
) -> Option<()> {
    t.enter()?;
    (t.depth() <= r.max_depth()).then_some(())?;
    inner(t, r)?;
    t.leave();
    Some(())
}

fn object<R: Reader>(t: &mut Text<'_>, r: &mut R) -> Option<()> {
    let top = t.depth() == 1;
    if t.eat(b'}').is_some() {
        return Some(());
    }
    loop {
        t.skip_space();
        (t.peek() == Some(b'"')).then_some(())?;
        let (key, _) = t.string_bytes()?;
        let role = r.key(&key, top);
        t.eat(b':')?;
        inner(t, r, role)?;
        if t.eat(b',').is_none() {
            return t.eat(b'}');
        }
    }
}

fn array<R: Reader>(t: &mut Text<'_>, r: &mut R, role: R::Role) -> Option<()> {
    let items = r.items(role)?;
    if t.eat(b']').is_some() {
        return Some(());
    }
    loop {
        inner(t, r, items)?;
        if t.eat(b',').is_none() {
            return t.eat(b']');
        }
    }
}
