//! Rules-file text and positions: every span in the crate is a byte range into one
//! [`SourceFile`] of a [`SourceMap`], so one line/column lookup serves every stage.

mod hash;

pub use hash::RulesetHash;

/// Index of a file inside a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The file the range belongs to.
    pub file: FileId,
    /// First byte (inclusive).
    pub start: u32,
    /// Last byte (exclusive).
    pub end: u32,
}

impl Span {
    /// A range in `file` from `start` to `end`.
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        let start = u32::try_from(start).unwrap_or(u32::MAX);
        let end = u32::try_from(end).unwrap_or(u32::MAX).max(start);
        Span { file, start, end }
    }
}

/// One loaded rules file: its display name and full text.
#[derive(Debug)]
pub struct SourceFile {
    name: String,
    text: String,
    line_starts: Vec<usize>,
    /// `(byte, characters before it)` at every [`CHECKPOINT_BYTES`]-th byte (rounded down
    /// to a character boundary), so a column on a long line is counted from the nearest
    /// checkpoint rather than from the start of the line.
    checkpoints: Vec<(usize, usize)>,
}

const CHECKPOINT_BYTES: usize = 4096;

/// A 1-based line and column (column counted in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LineCol {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl SourceFile {
    /// Wrap `text`, naming it `name` in diagnostics.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let mut checkpoints = Vec::with_capacity(text.len() / CHECKPOINT_BYTES + 1);
        let (mut byte, mut chars) = (0, 0);
        while byte <= text.len() {
            checkpoints.push((byte, chars));
            let mut next = (byte + CHECKPOINT_BYTES).min(text.len());
            while !text.is_char_boundary(next) {
                next -= 1;
            }
            if next <= byte {
                break;
            }
            chars += text.get(byte..next).map_or(0, |t| t.chars().count());
            byte = next;
        }
        SourceFile {
            name: name.into(),
            text,
            line_starts,
            checkpoints,
        }
    }

    /// The name shown in diagnostics (usually the path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The full text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Line and column of a byte offset (clamped to the text).
    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = self.floor_char_boundary(offset.min(self.text.len()));
        let line_index = self
            .line_starts
            .partition_point(|&start| start <= offset)
            .saturating_sub(1);
        let line_start = self.line_starts.get(line_index).copied().unwrap_or(0);
        // A rule error names its position on every evaluation that fails it: counting
        // from the checkpoints, up to 4 KB twice, was 5% of a batch of the shipped inputs
        // (perf, issue #14). Within a line of ordinary length, count the line alone; the
        // checkpoints bound the count on a long line (minified YAML).
        let column = if offset - line_start <= CHECKPOINT_BYTES {
            self.text
                .get(line_start..offset)
                .map_or(0, |t| t.chars().count())
        } else {
            self.chars_before(offset) - self.chars_before(line_start)
        };
        LineCol {
            line: line_index + 1,
            column: column + 1,
        }
    }

    /// The text of a 1-based line, without its line break.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let end = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }

    /// Byte offset of a 1-based line and 0-based character column, as YAML markers report.
    pub fn offset_of(&self, line: usize, char_column: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.wrapping_sub(1)) else {
            return self.text.len();
        };
        let rest = self.text.get(start..).unwrap_or("");
        // Columns count characters; over an ASCII prefix they are bytes. The YAML parser
        // asks for about 100 offsets per rule, and counting characters one by one was
        // 6% of a 10 000-rule load.
        if rest
            .as_bytes()
            .get(..char_column)
            .is_some_and(<[u8]>::is_ascii)
        {
            return start + char_column;
        }
        start
            + rest
                .char_indices()
                .nth(char_column)
                .map_or(rest.len(), |(i, _)| i)
    }

    /// Characters before byte `offset` (a character boundary).
    fn chars_before(&self, offset: usize) -> usize {
        let index = self
            .checkpoints
            .partition_point(|&(byte, _)| byte <= offset)
            .saturating_sub(1);
        let (byte, chars) = self.checkpoints.get(index).copied().unwrap_or((0, 0));
        chars + self.text.get(byte..offset).map_or(0, |t| t.chars().count())
    }

    fn floor_char_boundary(&self, mut offset: usize) -> usize {
        while offset > 0 && !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }
}

/// All files of one rule set; shared by the plan so runtime errors can name their position.
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// Add a file and return its id.
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(u32::try_from(self.files.len() - 1).unwrap_or(u32::MAX))
    }

    /// The file behind an id.
    pub fn file(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    /// All files, in load order.
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// A resolved, serializable position for a span.
    pub fn location(&self, span: Span) -> Option<Location> {
        let file = self.file(span.file)?;
        let LineCol { line, column } = file.line_col(span.start as usize);
        Some(Location {
            file: file.name().to_owned(),
            line,
            column,
        })
    }
}

/// A position a person can open: file name, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Location {
    /// The file's display name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

#[cfg(test)]
mod offset_tests {
    use super::*;

    #[test]
    fn offsets_of_columns_count_characters_on_any_line() {
        let file = SourceFile::new("f", "ab\n\u{e9}x y\nplain line\n");
        assert_eq!(file.offset_of(1, 1), 1);
        // `é` is two bytes: column 1 is byte 2 of the line.
        assert_eq!(file.offset_of(2, 1), 3 + 2);
        assert_eq!(file.offset_of(2, 3), 3 + 4);
        assert_eq!(file.offset_of(3, 5), 9 + 5);
        // Past the end of the text: its length.
        assert_eq!(file.offset_of(9, 0), file.text().len());
        assert_eq!(file.offset_of(3, 400), file.text().len());
    }

    /// Columns count characters, whether the line is short (counted alone) or longer
    /// than a checkpoint's stride (counted through the checkpoints).
    #[test]
    fn columns_count_characters_on_short_and_very_long_lines() {
        let long = "\u{e9}".repeat(3 * CHECKPOINT_BYTES);
        let text = format!("ab\n\u{e9}x y\n{long}z\nlast");
        let file = SourceFile::new("f", text.as_str());
        let at = |needle: &str| text.find(needle).unwrap();
        assert_eq!(file.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(file.line_col(at("y")), LineCol { line: 2, column: 4 });
        let z = file.line_col(at("z"));
        assert_eq!(
            z,
            LineCol {
                line: 3,
                column: 3 * CHECKPOINT_BYTES + 1
            }
        );
        // Every character of the long line, checked against counting it out.
        let line_start = at("\u{e9}\u{e9}");
        for (n, (byte, _)) in long.char_indices().enumerate().step_by(997) {
            let got = file.line_col(line_start + byte);
            assert_eq!(
                got,
                LineCol {
                    line: 3,
                    column: n + 1
                }
            );
        }
        assert_eq!(
            file.line_col(at("last") + 2),
            LineCol { line: 4, column: 3 }
        );
    }
}
