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
    /// `None` when no field has a value.
    pub(crate) fn render(&self, values: &[Option<String>]) -> Option<String> {
        let present: Vec<(usize, &str)> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| (i, s)))
            .collect();
        let (&(_, first), rest) = present.split_first()?;
        let size =
            self.lits.iter().map(String::len).sum::<usize>() + present.iter().map(|(_, v)| v.len()).sum::<usize>();
        let mut out = String::with_capacity(size);
        out.push_str(self.lits.first().map_or("", String::as_str));
        out.push_str(first);
        for &(i, v) in rest {
            out.push_str(self.lits.get(i).map_or("", String::as_str));
            out.push_str(v);
        }
        out.push_str(self.lits.last().map_or("", String::as_str));
        Some(collapse_spaces(&out))
    }
}

fn collapse_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
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
        assert_eq!(t.render(&[None, None, None]), None);
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
}
