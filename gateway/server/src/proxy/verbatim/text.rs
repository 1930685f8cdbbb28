//! Reading JSON text without building anything: one pass over the bytes
//! that accepts only what serde_json accepts, and tells the verbatim pass
//! (through [`Reader`]) each key, string and number with its role. The
//! token steps are `scim_core::json_text::Text`'s, which the request
//! path's tree builder shares; the walk over them is here.
//!
//! A string with escapes is read by serde_json itself. Where matching
//! serde_json exactly would take more than a scan (an exponent, a number
//! longer than 40 characters), and where serde_json itself refuses
//! (nesting past its depth), the text is refused and the parsed path
//! takes it: refusing is always safe, accepting what serde_json would not
//! never is. The property tests beside `verbatim.rs`
//! hold this to serde_json on generated and mangled text.

use scim_core::json_text::Text;

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
    let text = crate::json::utf8(text).ok()?;
    let mut t = Text::new(text);
    let role = reader.top();
    value(&mut t, reader, role)?;
    t.skip_space();
    (t.at() == text.len()).then_some(())
}

fn value<R: Reader>(t: &mut Text<'_>, r: &mut R, role: R::Role) -> Option<()> {
    t.skip_space();
    match t.peek()? {
        // What is under an object takes its role from its key.
        b'{' => nested(t, |t| object(t, r)),
        b'[' => nested(t, |t| array(t, r, role)),
        b'"' => {
            let (s, at) = t.string()?;
            r.string(role, s.as_bytes(), at)
        }
        b't' => t.literal(b"true").and_then(|()| r.literal(role)),
        b'f' => t.literal(b"false").and_then(|()| r.literal(role)),
        b'n' => t.literal(b"null").and_then(|()| r.literal(role)),
        b'-' | b'0'..=b'9' => {
            let unsigned = t.number()?;
            r.number(role, unsigned)
        }
        _ => None,
    }
}

/// An array or object, at most as deep as serde_json reads.
fn nested<'t>(t: &mut Text<'t>, inner: impl FnOnce(&mut Text<'t>) -> Option<()>) -> Option<()> {
    t.enter()?;
    inner(t)?;
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
        let (key, _) = t.string()?;
        let role = r.key(key.as_bytes(), top);
        t.eat(b':')?;
        value(t, r, role)?;
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
        value(t, r, items)?;
        if t.eat(b',').is_none() {
            return t.eat(b']');
        }
    }
}
