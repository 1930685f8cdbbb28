//! Diagnostics: every problem found in a mapping file, with where and a hint.

use std::fmt;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The mapping still loads; something is likely wrong.
    Warning,
    /// The mapping cannot be used.
    Error,
}

/// One problem in a mapping file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file name as given to the loader.
    pub file: String,
    /// 1-based line and column (in characters).
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{}:{}:{}: {level}: {}", self.file, self.line, self.col, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// Collects diagnostics for one source text (a mapping file, or any TOML
/// file that reports the same way).
#[derive(Debug)]
pub struct Sink<'a> {
    file: &'a str,
    text: &'a str,
    pub(crate) out: Vec<Diagnostic>,
}

impl<'a> Sink<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Self {
        Self { file, text, out: Vec::new() }
    }

    /// Records an error at byte offset `at`.
    pub fn error(&mut self, at: usize, message: impl Into<String>, hint: Option<String>) {
        self.push(Severity::Error, at, message.into(), hint);
    }

    /// Records a warning at byte offset `at`.
    pub(crate) fn warn(&mut self, at: usize, message: impl Into<String>, hint: Option<String>) {
        self.push(Severity::Warning, at, message.into(), hint);
    }

    fn push(&mut self, severity: Severity, at: usize, message: String, hint: Option<String>) {
        let (line, col) = line_col(self.text, at);
        self.out.push(Diagnostic { severity, file: self.file.to_owned(), line, col, message, hint });
    }

    /// Deserializes one TOML value; a failure becomes an error at its span.
    pub fn de<T: serde::de::DeserializeOwned>(&mut self, value: &toml::Spanned<toml::de::DeValue<'_>>) -> Option<T> {
        match T::deserialize(toml::de::ValueDeserializer::from(value.clone())) {
            Ok(v) => Some(v),
            Err(e) => {
                let at = e.span().map_or(value.span().start, |s| s.start);
                self.error(at, e.message().trim().to_owned(), None);
                None
            }
        }
    }

    /// Whether an error was recorded.
    pub fn has_errors(&self) -> bool {
        self.out.iter().any(|d| d.severity == Severity::Error)
    }

    /// Everything recorded.
    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.out
    }

    pub(crate) fn text(&self) -> &str {
        self.text
    }

    pub(crate) fn file(&self) -> &str {
        self.file
    }
}

/// 1-based line and column of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, col)
}

/// The closest of `known` to `word`, when it is close enough to be a typo.
pub fn did_you_mean<'k>(word: &str, known: impl IntoIterator<Item = &'k str>) -> Option<String> {
    known
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(&word.to_ascii_lowercase(), &k.to_ascii_lowercase()), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| format!("did you mean `{k}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 9), (2, 3));
        assert_eq!(line_col(text, 999), (3, 1));
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        assert_eq!(did_you_mean("tragte", ["target", "from"]).as_deref(), Some("did you mean `target`?"));
        assert_eq!(did_you_mean("zzzzzz", ["target", "from"]), None);
    }
}
