//! Diagnostics: what loading, compiling and linting report, self-contained (they carry
//! their source excerpt) so hosts, bindings and the CLI can show them without the files.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::source::{Location, SourceMap, Span};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look; does not stop a load.
    Warning,
    /// The rule set cannot be used.
    Error,
}

/// The source line under a diagnostic and the columns to underline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excerpt {
    /// The line, without its line break. A line longer than [`MAX_EXCERPT_CHARS`] is cut
    /// to the part around the underline, with `…` where text was left out.
    pub line_text: String,
    /// 1-based character column in `line_text` where the caret starts.
    pub column: usize,
    /// How many characters to underline (at least 1, at most to the end of `line_text`).
    pub width: usize,
}

/// Longest source line an [`Excerpt`] keeps whole. Longer lines are cut: every diagnostic
/// on a one-line file of megabytes once copied the whole line, gigabytes in all.
pub const MAX_EXCERPT_CHARS: usize = 1000;
/// Characters an [`Excerpt`] of a cut line keeps on either side of the underline.
const EXCERPT_CONTEXT_CHARS: usize = 200;

impl Excerpt {
    /// The excerpt of `line` underlining `width` characters from 1-based `column`, which
    /// is byte `at` of the line.
    fn new(line: &str, column: usize, at: usize, width: usize) -> Self {
        if line.len() <= MAX_EXCERPT_CHARS {
            return Excerpt {
                line_text: line.to_owned(),
                column,
                width,
            };
        }
        // Cut by bytes around `at`, so a diagnostic costs the window, not the line.
        let at = floor_char_boundary(line, at.min(line.len()));
        let from = floor_char_boundary(line, at.saturating_sub(EXCERPT_CONTEXT_CHARS));
        let head = line.get(from..at).unwrap_or("");
        let width = width.min(MAX_EXCERPT_CHARS - 2 * EXCERPT_CONTEXT_CHARS);
        let mut tail = line.get(at..).unwrap_or("").chars();
        let mut line_text: String = if from > 0 {
            "…".into()
        } else {
            String::new()
        };
        line_text.push_str(head);
        line_text.extend(tail.by_ref().take(width + EXCERPT_CONTEXT_CHARS));
        if tail.next().is_some() {
            line_text.push('…');
        }
        let before = usize::from(from > 0) + head.chars().count();
        let width = width
            .min(line_text.chars().count().saturating_sub(before))
            .max(1);
        Excerpt {
            line_text,
            column: before + 1,
            width,
        }
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// One finding, with a stable code (`ACS1xx` condition syntax, `ACS2xx` rules file,
/// `ACS3xx` compilation, `ACS4xx` lint, `ACS5xx` rule test files, `ACS6xx` the linter's config; see
/// `docs/LINT.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Diagnostic {
    /// Stable code, e.g. `ACS101`.
    pub code: String,
    /// Error or warning.
    pub severity: Severity,
    /// One line, lowercase, user input in backticks.
    pub message: String,
    /// Where it is, when it has a place in a file.
    pub location: Option<Location>,
    /// The rule it belongs to, when known.
    pub rule_id: Option<String>,
    /// A hint on how to fix it.
    pub help: Option<String>,
    /// The source line and the underlined columns.
    pub excerpt: Option<Excerpt>,
}

impl Diagnostic {
    /// A sort key putting diagnostics in file, line and column order (unplaced first).
    pub(crate) fn file_order(&self) -> (String, usize, usize) {
        self.location.as_ref().map_or((String::new(), 0, 0), |l| {
            (l.file.clone(), l.line, l.column)
        })
    }

    /// An error with a code and message, not yet placed.
    pub fn error(code: &str, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, message)
    }

    /// A warning with a code and message, not yet placed.
    pub fn warning(code: &str, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, message)
    }

    fn new(severity: Severity, code: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            code: code.to_owned(),
            severity,
            message: message.into(),
            location: None,
            rule_id: None,
            help: None,
            excerpt: None,
        }
    }

    /// Place the diagnostic at `span`, copying the source line for the excerpt.
    pub(crate) fn at(mut self, sources: &SourceMap, span: Span) -> Self {
        let Some(file) = sources.file(span.file) else {
            return self;
        };
        let start = file.line_col(span.start as usize);
        let end = file.line_col(span.end as usize);
        let line_text = file.line_text(start.line);
        let line_start = file.offset_of(start.line, 0);
        let width = if end.line == start.line {
            end.column.saturating_sub(start.column).max(1)
        } else {
            // To the end of the line, counted from the file's checkpoints: a line can be
            // megabytes long.
            let line_end = line_start.saturating_add(line_text.len());
            file.line_col(line_end)
                .column
                .saturating_sub(start.column)
                .max(1)
        };
        self.location = Some(Location {
            file: file.name().to_owned(),
            line: start.line,
            column: start.column,
        });
        let at = (span.start as usize).saturating_sub(line_start);
        self.excerpt = Some(Excerpt::new(line_text, start.column, at, width));
        self
    }

    /// Name the file only (for errors with no position, such as I/O).
    pub fn in_file(mut self, file: &str) -> Self {
        if self.location.is_none() {
            self.location = Some(Location {
                file: file.to_owned(),
                line: 1,
                column: 1,
            });
        }
        self
    }

    /// Attach the rule id.
    pub fn for_rule(mut self, rule_id: Option<&str>) -> Self {
        self.rule_id = rule_id.map(str::to_owned);
        self
    }

    /// Attach a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Whether this is an error (as opposed to a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Compiler-style rendering:
///
/// ```text
/// error[ACS302]: unknown function `textContainsPIII`
///   --> rules/fraud.yaml:42:16
///    |
/// 42 |   condition: textContainsPIII(event.note)
///    |              ^^^^^^^^^^^^^^^^
///    = help: known functions: `textContainsPII`, `distance`, `now`
/// ```
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{label}[{}]: {}", self.code, self.message)?;
        if let Some(rule) = &self.rule_id {
            write!(f, " (rule `{rule}`)")?;
        }
        let gutter = self
            .location
            .as_ref()
            .map_or(1, |l| l.line.to_string().len());
        let pad = " ".repeat(gutter);
        if let Some(location) = &self.location {
            write!(f, "\n{pad}--> {location}")?;
        }
        if let (Some(excerpt), Some(location)) = (&self.excerpt, &self.location) {
            let before: String = excerpt
                .line_text
                .chars()
                .take(excerpt.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(
                f,
                "\n{pad} |\n{} | {}\n{pad} | {before}{}",
                location.line,
                excerpt.line_text,
                "^".repeat(excerpt.width)
            )?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n{pad} = help: {help}")?;
        }
        Ok(())
    }
}

impl Diagnostic {
    /// Render a list of diagnostics as a compiler does: one block each (message,
    /// `file:line:col`, the line and a caret), separated by blank lines.
    pub fn render_all(diagnostics: &[Diagnostic]) -> String {
        diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}
