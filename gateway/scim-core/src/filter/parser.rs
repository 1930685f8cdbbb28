//! Recursive-descent parser for the RFC 7644 filter grammar:
//!
//! ```text
//! or    = and *("or" and)
//! and   = unary *("and" unary)
//! unary = "not" "(" or ")" / "(" or ")" / attr
//! attr  = path "pr" / path op value / path "[" or "]" ["." sub (op value / "pr")]
//! ```

use super::lexer::{Tok, Token, error_at, tokenize};
use super::{CompareOp, Filter, Mode};
use crate::error::ScimError;
use crate::path::AttrPath;
use serde_json::Value;

/// Longest filter text accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 16 * 1024;
/// Deepest nesting of parentheses, `not` and value filters.
pub const MAX_FILTER_DEPTH: usize = 32;
/// Most attribute expressions in one filter.
pub const MAX_FILTER_TERMS: usize = 256;

pub(super) fn parse(text: &str, mode: Mode) -> Result<Filter, ScimError> {
    if text.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter(format!("filter is longer than {MAX_FILTER_LEN} bytes")));
    }
    let toks = tokenize(text)?;
    let mut p = Parser { text, toks, i: 0, mode, depth: 0, terms: 0 };
    if p.toks.is_empty() {
        return Err(ScimError::invalid_filter("the filter is empty"));
    }
    let filter = p.or()?;
    match p.peek() {
        None => Ok(filter),
        Some(t) => Err(p.error(t.pos, "expected \"and\", \"or\" or the end of the filter")),
    }
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<Token>,
    i: usize,
    mode: Mode,
    depth: usize,
    terms: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }

    fn end_pos(&self) -> usize {
        self.text.len()
    }

    fn error(&self, pos: usize, msg: &str) -> ScimError {
        error_at(self.text, pos, msg)
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
    }

    fn expect(&mut self, want: &Tok, what: &str) -> Result<(), ScimError> {
        match self.next() {
            Some(t) if &t.tok == want => Ok(()),
            Some(t) => Err(self.error(t.pos, &format!("expected {what}"))),
            None => Err(self.error(self.end_pos(), &format!("expected {what}, found the end"))),
        }
    }

    fn nested<T>(&mut self, pos: usize, f: impl FnOnce(&mut Self) -> Result<T, ScimError>) -> Result<T, ScimError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(self.error(pos, &format!("nested deeper than {MAX_FILTER_DEPTH} levels")));
        }
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn or(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.and()?;
        while self.peek_keyword("or") {
            self.next();
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.unary()?;
        while self.peek_keyword("and") {
            self.next();
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, ScimError> {
        let Some(tok) = self.peek().cloned() else {
            return Err(self.error(self.end_pos(), "expected an attribute expression, found the end"));
        };
        match tok.tok {
            Tok::Word(w) if w.eq_ignore_ascii_case("not") => {
                self.next();
                self.expect(&Tok::LParen, "'(' after \"not\"")?;
                let inner = self.nested(tok.pos, Self::or)?;
                self.expect(&Tok::RParen, "')' to close \"not (\"")?;
                Ok(Filter::Not(Box::new(inner)))
            }
            Tok::LParen => {
                self.next();
                let inner = self.nested(tok.pos, Self::or)?;
                self.expect(&Tok::RParen, "')'")?;
                Ok(inner)
            }
            Tok::Word(w) => {
                self.next();
                self.attr_expr(&w, tok.pos)
            }
            _ => Err(self.error(tok.pos, "expected an attribute name, \"not\" or '('")),
        }
    }

    fn attr_path(&self, word: &str, pos: usize) -> Result<AttrPath, ScimError> {
        AttrPath::parse(word).map_err(|e| self.error(pos, &e.detail))
    }

    fn attr_expr(&mut self, word: &str, pos: usize) -> Result<Filter, ScimError> {
        self.terms += 1;
        if self.terms > MAX_FILTER_TERMS {
            return Err(self.error(pos, &format!("more than {MAX_FILTER_TERMS} attribute expressions")));
        }
        let path = self.attr_path(word, pos)?;
        if matches!(self.peek(), Some(Token { tok: Tok::LBracket, .. })) {
            return self.value_path(path, pos);
        }
        self.comparison(path)
    }

    fn value_path(&mut self, path: AttrPath, pos: usize) -> Result<Filter, ScimError> {
        if path.sub.is_some() {
            return Err(self.error(pos, "a value filter must follow the attribute, not a sub-attribute"));
        }
        self.next();
        let filter = self.nested(pos, Self::or)?;
        self.expect(&Tok::RBracket, "']' to close the value filter")?;
        let then = match self.peek().cloned() {
            Some(Token { tok: Tok::Word(w), pos }) if w.starts_with('.') => {
                self.next();
                let sub = w.get(1..).unwrap_or("");
                let sub_path = self.attr_path(sub, pos + 1)?;
                if sub_path.urn.is_some() || sub_path.sub.is_some() {
                    return Err(self.error(pos, "expected a sub-attribute name after ']'"));
                }
                Some(Box::new(self.comparison(sub_path)?))
            }
            _ => None,
        };
        Ok(Filter::ValuePath { path, filter: Box::new(filter), then })
    }

    fn comparison(&mut self, path: AttrPath) -> Result<Filter, ScimError> {
        let (word, pos) = match self.next() {
            Some(Token { tok: Tok::Word(w), pos }) => (w, pos),
            Some(t) => return Err(self.error(t.pos, "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)")),
            None => return Err(self.error(self.end_pos(), "expected an operator, found the end")),
        };
        if word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::parse(&word).ok_or_else(|| {
            self.error(pos, &format!("unknown operator \"{word}\" (eq, ne, co, sw, ew, gt, ge, lt, le, pr)"))
        })?;
        let value = self.literal()?;
        Ok(Filter::Compare { path, op, value })
    }

    fn literal(&mut self) -> Result<Value, ScimError> {
        match self.next() {
            Some(Token { tok: Tok::Str(s), .. }) => Ok(Value::String(s)),
            Some(Token { tok: Tok::Word(w), pos }) => self.word_literal(w, pos),
            Some(t) => Err(self.error(t.pos, "expected a value")),
            None => Err(self.error(self.end_pos(), "expected a value, found the end")),
        }
    }

    fn word_literal(&self, word: String, pos: usize) -> Result<Value, ScimError> {
        match word.to_ascii_lowercase().as_str() {
            "true" => return Ok(Value::Bool(true)),
            "false" => return Ok(Value::Bool(false)),
            "null" => return Ok(Value::Null),
            _ => {}
        }
        if let Ok(n) = serde_json::from_str::<serde_json::Number>(&word) {
            // Leniently, a number that would not print back as written
            // (`1.50`, an id too long for 64 bits) stays the text it was.
            if self.mode == Mode::Strict || n.to_string() == word {
                return Ok(Value::Number(n));
            }
        }
        match self.mode {
            Mode::Lenient => Ok(Value::String(word)),
            Mode::Strict => Err(self.error(pos, "expected a JSON value; quote strings (\"...\")")),
        }
    }
}
