//! Splits filter text into tokens, each with its byte offset.

use crate::error::ScimError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A decoded JSON string literal.
    Str(String),
    /// Anything else up to whitespace or punctuation: attribute paths,
    /// operators, keywords, numbers, `true` / `false` / `null`.
    Word(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

/// Turns a byte offset into a 1-based character column for messages.
pub(super) fn column(text: &str, pos: usize) -> usize {
    text.get(..pos).map_or(pos, |s| s.chars().count()) + 1
}

pub(super) fn error_at(text: &str, pos: usize, msg: &str) -> ScimError {
    ScimError::invalid_filter(format!("invalid filter at column {}: {msg}", column(text, pos)))
}

pub(super) fn tokenize(text: &str) -> Result<Vec<Token>, ScimError> {
    let mut toks = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(pos, c)) = chars.peek() {
        let tok = match c {
            c if c.is_whitespace() => {
                chars.next();
                continue;
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '[' => Tok::LBracket,
                    _ => Tok::RBracket,
                }
            }
            '"' => Tok::Str(string(text, pos, &mut chars)?),
            c if c.is_control() => return Err(error_at(text, pos, "control character outside a string literal")),
            _ => {
                let mut end = pos;
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || c.is_control() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                Tok::Word(text.get(pos..end).unwrap_or("").to_owned())
            }
        };
        toks.push(Token { tok, pos });
    }
    Ok(toks)
}

fn string(
    text: &str,
    start: usize,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<String, ScimError> {
    chars.next();
    let mut escaped = false;
    for (i, c) in chars.by_ref() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => {
                let raw = text.get(start..=i).unwrap_or("\"\"");
                return serde_json::from_str::<String>(raw)
                    .map_err(|_| error_at(text, start, "invalid escape in string literal"));
            }
            _ => {}
        }
    }
    Err(error_at(text, start, "unterminated string literal"))
}
