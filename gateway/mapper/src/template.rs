//! String templates: `"{name.givenName} {name.familyName}"`.
//!
//! Missing parts drop out cleanly: the literal text before the first field
//! and after the last one is always kept; between two fields that both have
//! a value, the text written just before the later one joins them. Runs of
//! whitespace collapse to one space and the ends are trimmed, so a missing
//! part never leaves a double or trailing space, and null is never printed.

use crate::program::Source;

/// A piece of a template as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Lit(String),
    /// The text between braces and its byte offset in the template.
    Field(String, usize),
}

/// A compiled template: `lits[i]` is the text before field `i`, and the
/// last literal follows the last field.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    pub(crate) lits: Vec<String>,
    pub(crate) fields: Vec<Source>,
}

/// Splits a template into literals and fields. `{{` and `}}` are literal
/// braces. Errors carry the byte offset of the problem.
pub(crate) fn parse(text: &str) -> Result<Vec<Piece>, (usize, String)> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                chars.next();
                lit.push('{');
            }
            '}' if chars.peek().is_some_and(|&(_, n)| n == '}') => {
                chars.next();
                lit.push('}');
            }
            '{' => {
                let rest = text.get(i + 1..).unwrap_or("");
                let end = rest.find('}').ok_or((i, "unclosed `{` in template".to_owned()))?;
                let field = rest.get(..end).unwrap_or("").trim();
                if field.is_empty() {
                    return Err((i, "empty `{}` in template".to_owned()));
                }
                pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                pieces.push(Piece::Field(field.to_owned(), i + 1));
                for _ in 0..=rest.get(..end).map_or(0, |s| s.chars().count()) {
                    chars.next();
                }
            }
            '}' => return Err((i, "unmatched `}` in template (write `}}` for a literal brace)".to_owned())),
            c => lit.push(c),
        }
    }
    pieces.push(Piece::Lit(lit));
    Ok(pieces)
}

impl Template {
    /// Joins the present values (`None` or blank means missing). Returns
    /// `None` when no field has a value. Written in one pass: the
    /// whitespace collapses as the pieces are written, not in a second
    /// string.
    pub(crate) fn render<S: AsRef<str>>(&self, values: &[Option<S>]) -> Option<String> {
        let size = self.lits.iter().map(String::len).sum::<usize>()
            + values.iter().flatten().map(|v| v.as_ref().len()).sum::<usize>();
        let mut out = Collapsed { out: String::with_capacity(size), space: false };
        let mut any = false;
        for (i, v) in values.iter().enumerate() {
            let trimmed = v.as_ref().map(|v| crate::transform::trimmed(v.as_ref()));
            let Some(v) = trimmed.filter(|v| !v.is_empty()) else { continue };
            // The text before the first value present is the first literal.
            let before = if any { self.lits.get(i) } else { self.lits.first() };
            out.push(before.map_or("", String::as_str));
            out.push(v);
            any = true;
        }
        out.push(self.lits.last().map_or("", String::as_str));
        any.then_some(out.out)
    }
}

/// Text written with every run of whitespace made one space, none at the
/// ends: the words of all that is pushed, joined by single spaces (a word
/// may run on from one push into the next).
struct Collapsed {
    out: String,
    /// Whitespace was pushed since the last word's text.
    space: bool,
}

impl Collapsed {
    fn push(&mut self, text: &str) {
        // Most text has no whitespace but between words, and no byte that
        // could start a whitespace character outside ASCII (U+0085 and
        // U+00A0 start with 0xC2, the others with 0xE1 to 0xE3): a text
        // without such a byte is one word.
        let may_space = |b: &u8| matches!(b, b'\t'..=b'\r' | b' ' | 0xC2 | 0xE1..=0xE3);
        if !text.as_bytes().iter().any(may_space) {
            return self.word(text);
        }
        // A text of ASCII whitespace alone (a template's ` ` between two
        // fields) is the space owed before the next word.
        if text.bytes().all(|b| matches!(b, b'\t'..=b'\r' | b' ')) {
            self.space = true;
            return;
        }
        for (n, word) in text.split(char::is_whitespace).enumerate() {
            self.space |= n > 0;
            self.word(word);
        }
    }

    /// A word's text (or part of one), after the space owed before it.
    fn word(&mut self, word: &str) {
        if word.is_empty() {
            return;
        }
        if std::mem::take(&mut self.space) && !self.out.is_empty() {
            self.out.push(' ');
        }
        self.out.push_str(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn template(text: &str) -> Template {
        let pieces = parse(text).unwrap();
        let mut lits = Vec::new();
        let mut fields = Vec::new();
        for p in pieces {
            match p {
                Piece::Lit(l) => lits.push(l),
                Piece::Field(..) => fields.push(Source::Const(Value::Null)),
            }
        }
        Template { lits, fields }
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn missing_parts_leave_no_stray_spaces() {
        let t = template("{given} {middle} {family}");
        assert_eq!(t.render(&[some("Jane"), None, some("Doe")]).as_deref(), Some("Jane Doe"));
        assert_eq!(t.render(&[None, None, some("Doe")]).as_deref(), Some("Doe"));
        assert_eq!(t.render(&[some("Jane"), some("  "), None]).as_deref(), Some("Jane"));
        assert_eq!(t.render(&[some(" Jane  Q "), None, some("Doe")]).as_deref(), Some("Jane Q Doe"));
        assert_eq!(t.render(&[None::<String>, None, None]), None);
    }

    #[test]
    fn separators_follow_the_later_field() {
        let t = template("{family}, {given} ({nick})");
        assert_eq!(t.render(&[some("Doe"), some("Jane"), some("JD")]).as_deref(), Some("Doe, Jane (JD)"));
        assert_eq!(t.render(&[some("Doe"), None, some("JD")]).as_deref(), Some("Doe (JD)"));
        assert_eq!(t.render(&[None, some("Jane"), None]).as_deref(), Some("Jane)"));
    }

    #[test]
    fn braces_and_errors() {
        assert_eq!(
            parse("{{x}} {a.b}").unwrap(),
            vec![Piece::Lit("{x} ".into()), Piece::Field("a.b".into(), 7), Piece::Lit(String::new())]
        );
        assert_eq!(parse("a {b").unwrap_err().0, 2);
        assert!(parse("a {} b").is_err());
        assert!(parse("a } b").is_err());
        assert_eq!(parse("é{x}").unwrap()[1], Piece::Field("x".into(), 3));
    }

    /// The template joined as it was written before the one-pass render:
    /// the present values trimmed, joined with their literals, and then
    /// the whitespace collapsed.
    fn joined_then_collapsed(t: &Template, values: &[Option<String>]) -> Option<String> {
        let present: Vec<(usize, &str)> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| (i, s)))
            .collect();
        let (&(_, first), rest) = present.split_first()?;
        let mut out = t.lits[0].clone() + first;
        for &(i, v) in rest {
            out = out + &t.lits[i] + v;
        }
        out += t.lits.last().unwrap();
        Some(out.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    #[test]
    fn one_pass_render_is_the_join_collapsed() {
        let texts =
            ["", " ", "a", " a", "b ", " a\tb\u{b}", "x\u{a0} y", "\u{3000}", "é  ü", "©\u{2009}€", "\u{85}ā\u{1680}"];
        let templates = ["{a} {b}", "{a}{b}", "<{a}, {b}>", " {a}-{b} ", "({a}\t)\n{b}\u{a0}."];
        for text in templates {
            let t = template(text);
            for a in texts.iter().map(|s| Some(s.to_string())).chain([None]) {
                for b in texts.iter().map(|s| Some(s.to_string())).chain([None]) {
                    let values = [a.clone(), b.clone()];
                    assert_eq!(t.render(&values), joined_then_collapsed(&t, &values), "{text} {values:?}");
                }
            }
        }
    }

    #[test]
    fn pieces_of_whitespace_alone_give_one_space_between_words_and_none_at_the_ends() {
        for (pieces, want) in [
            (&["", "a", " ", "b", ""][..], "a b"),
            (&[" ", "a", "\t\n ", " ", "b", "\r"], "a b"),
            (&["a", " ", "", " b "], "a b"),
            (&["a\u{a0}", " ", "b"], "a b"),
            (&[" ", "\t"], ""),
        ] {
            let mut out = Collapsed { out: String::new(), space: false };
            pieces.iter().for_each(|p| out.push(p));
            assert_eq!(out.out, want, "{pieces:?}");
        }
    }

    #[test]
    fn every_whitespace_character_starts_with_a_byte_the_fast_path_looks_for() {
        let mut spaces = 0;
        for c in (0..=0x10FFFF).filter_map(char::from_u32).filter(|c| c.is_whitespace()) {
            let mut out = Collapsed { out: String::new(), space: false };
            out.push(&format!("a{c}b"));
            assert_eq!(out.out, "a b", "U+{:04X}", u32::from(c));
            spaces += 1;
        }
        assert_eq!(spaces, 25);
    }
}
