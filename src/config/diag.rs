//! Diagnostics: every error and warning names `file:line:col` and what was expected.

use serde::Serialize;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// Index of a file in the [`SourceMap`].
pub type FileId = u32;

/// A place in the configuration: file, 1-based line and 1-based column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    pub file: FileId,
    pub line: u32,
    pub col: u32,
}

/// The files read while loading one configuration, so spans stay small.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<PathBuf>,
}

impl SourceMap {
    pub fn add(&mut self, path: &Path) -> FileId {
        self.files.push(path.to_path_buf());
        (self.files.len() - 1) as FileId
    }

    pub fn path(&self, id: FileId) -> &Path {
        self.files
            .get(id as usize)
            .map(PathBuf::as_path)
            .unwrap_or_else(|| Path::new("<unknown>"))
    }

    /// `file:line:col` for a span.
    pub fn place(&self, span: Span) -> String {
        format!(
            "{}:{}:{}",
            self.path(span.file).display(),
            span.line,
            span.col
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Span,
    pub message: String,
    /// The other place the message is about (the first of two duplicates), rendered after it.
    pub also: Option<Span>,
}

/// A diagnostic rendered with its file name, ready to print.
pub struct Rendered<'a> {
    diag: &'a Diagnostic,
    sources: &'a SourceMap,
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.diag.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}: {}: {}",
            self.sources.place(self.diag.span),
            kind,
            self.diag.message
        )?;
        match self.diag.also {
            Some(first) => write!(f, " (first at {})", self.sources.place(first)),
            None => Ok(()),
        }
    }
}

impl Diagnostic {
    pub fn render<'a>(&'a self, sources: &'a SourceMap) -> Rendered<'a> {
        Rendered {
            diag: self,
            sources,
        }
    }
}

/// Collects diagnostics while a configuration is read.
#[derive(Debug, Default)]
pub struct Diags {
    pub list: Vec<Diagnostic>,
    /// Errors and warnings past KEPT_PER_SEVERITY: counted, not kept. A file of garbage would
    /// otherwise yield one diagnostic per line (fuzzing: 883,018 errors, 700 MB and 2.6 M lines of
    /// output from 360 bytes).
    pub more_errors: usize,
    pub more_warnings: usize,
    /// Place and message of each kept diagnostic: the same one said again at the same place (a
    /// substitution loop repeats it per expansion) is said once.
    seen: HashSet<(Span, String)>,
}

/// Diagnostics of each severity kept and printed; the rest are counted.
pub const KEPT_PER_SEVERITY: usize = 1000;

impl Diags {
    fn push(&mut self, d: Diagnostic) {
        if self.seen.contains(&(d.span, d.message.clone())) {
            return;
        }
        let more = match d.severity {
            Severity::Error => &mut self.more_errors,
            Severity::Warning => &mut self.more_warnings,
        };
        if *more > 0
            || self
                .list
                .iter()
                .filter(|k| k.severity == d.severity)
                .count()
                >= KEPT_PER_SEVERITY
        {
            *more += 1;
        } else {
            self.seen.insert((d.span, d.message.clone()));
            self.list.push(d);
        }
    }

    pub fn error(&mut self, span: Span, message: impl Into<String>) {
        self.push(Diagnostic {
            severity: Severity::Error,
            span,
            message: message.into(),
            also: None,
        });
    }

    pub fn warn(&mut self, span: Span, message: impl Into<String>) {
        self.push(Diagnostic {
            severity: Severity::Warning,
            span,
            message: message.into(),
            also: None,
        });
    }

    /// A warning at `span` about the same thing as at `first`; both places are rendered.
    pub fn warn_also(&mut self, span: Span, first: Span, message: impl Into<String>) {
        self.push(Diagnostic {
            severity: Severity::Warning,
            span,
            message: message.into(),
            also: Some(first),
        });
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.severity == Severity::Error)
    }

    /// Every error, those past the kept ones included.
    pub fn error_count(&self) -> usize {
        self.list
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
            + self.more_errors
    }
}
