//! Configuration errors. Every error that can point into the file does: `FILE:LINE:COL: message`.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// A configuration that could not be loaded or validated.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Syntax, type or semantic error at a position in the file.
    #[error("{origin}:{line}:{col}: {message}")]
    At { origin: String, line: usize, col: usize, message: String },
    /// A semantic error that has no single position (e.g. a missing section).
    #[error("{origin}: {message}")]
    Whole { origin: String, message: String },
}

impl ConfigError {
    /// The human-readable message without the position prefix.
    pub fn message(&self) -> String {
        match self {
            ConfigError::Io { source, .. } => source.to_string(),
            ConfigError::At { message, .. } | ConfigError::Whole { message, .. } => message.clone(),
        }
    }
}

/// Maps byte spans of the source text to 1-based line/column and builds errors.
#[derive(Clone, Copy)]
pub struct SourceMap<'a> {
    pub origin: &'a str,
    pub text: &'a str,
}

impl fmt::Debug for SourceMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceMap").field("origin", &self.origin).finish()
    }
}

impl<'a> SourceMap<'a> {
    pub fn new(origin: &'a str, text: &'a str) -> Self {
        Self { origin, text }
    }

    /// 1-based (line, column) of a byte offset; columns count characters.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }

    /// An error at `span` (`None` = no position known).
    pub fn err(&self, span: Option<Range<usize>>, message: impl Into<String>) -> ConfigError {
        match span {
            Some(span) => {
                let (line, col) = self.line_col(span.start);
                ConfigError::At { origin: self.origin.to_string(), line, col, message: message.into() }
            }
            None => ConfigError::Whole { origin: self.origin.to_string(), message: message.into() },
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let m = SourceMap::new("f", "ab\ncdé\nx");
        assert_eq!(m.line_col(0), (1, 1));
        assert_eq!(m.line_col(3), (2, 1));
        assert_eq!(m.line_col(8), (3, 1));
        assert_eq!(m.err(Some(4..5), "bad").to_string(), "f:2:2: bad");
    }
}
