//! The host's defences against hostile or accidental input: how large a rules file, a
//! condition, an input document and a rendered text may be, and how deep they may nest.
//! Each limit has a documented default and an error that names it.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::syntax::{SyntaxLimits, MAX_CONDITION_BYTES, MAX_NESTING};

/// Deepest JSON input `serde_json` parses (its fixed recursion limit).
pub const MAX_INPUT_DEPTH: usize = 128;

/// Limits on what an engine accepts. `Limits::default()` holds the documented defaults;
/// set them with [`EngineBuilder::limits`](crate::EngineBuilder::limits).
///
/// ```
/// use acs_engine::{Engine, Limits};
/// let engine = Engine::builder()
///     .limits(Limits { max_input_bytes: 64 * 1024, ..Limits::default() })
///     .load_str("rules.yaml", "- {id: A, priority: 1, severity: low, description: d, condition: \"event.type == 'a'\", action: [], audit: false}")?;
/// assert!(engine.evaluate_json(&vec![b' '; 65 * 1024]).is_err());
/// # Ok::<(), acs_engine::LoadError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest rules file, in bytes (default 32 MiB). Larger files are refused unread.
    pub max_rules_file_bytes: u64,
    /// Longest condition or `{{...}}` expression, in bytes (default 16 KiB).
    pub max_condition_bytes: usize,
    /// Most brackets open at once in a condition (default and maximum 32). Expression
    /// trees are also capped at 128 levels, whatever the brackets.
    pub max_nesting: usize,
    /// Largest input document accepted by [`Engine::evaluate_json`](crate::Engine::evaluate_json),
    /// in bytes (default 16 MiB).
    pub max_input_bytes: usize,
    /// Deepest nesting of arrays and objects in a JSON input (default and maximum 128).
    pub max_input_depth: usize,
    /// Longest string an interpolated action template may render, in bytes (default
    /// 64 KiB). A longer one is an error of that rule.
    pub max_rendered_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_rules_file_bytes: 32 * 1024 * 1024,
            max_condition_bytes: MAX_CONDITION_BYTES,
            max_nesting: MAX_NESTING,
            max_input_bytes: 16 * 1024 * 1024,
            max_input_depth: MAX_INPUT_DEPTH,
            max_rendered_bytes: 64 * 1024,
        }
    }
}

impl Limits {
    /// The part the condition parser applies.
    pub(crate) fn syntax(&self) -> SyntaxLimits {
        SyntaxLimits {
            max_condition_bytes: self.max_condition_bytes,
            max_nesting: self.max_nesting,
        }
    }
}

/// Why [`read_bounded`] or [`read_file`] gave no bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The path names a FIFO, a device, a socket or a directory. Such a file can block a
    /// reader for ever (a FIFO nobody writes to) or feed it without end (`/dev/zero`).
    #[error("not a regular file ({kind})")]
    NotAFile {
        /// What it is instead: `a directory`, `a FIFO`, ...
        kind: &'static str,
    },
    /// More bytes than the limit; reading stopped just past it.
    #[error("more than the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The read itself failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Everything `reader` holds, or [`ReadError::TooLarge`] as soon as it holds more than
/// `limit` bytes: an endless stream (`yes | acs eval -`) costs `limit` bytes, not all
/// memory.
pub fn read_bounded(reader: impl Read, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if u64::try_from(bytes.len()).map_or(true, |n| n > limit) {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}

/// The bytes of the regular file at `path`, at most `limit` of them ([`read_bounded`]).
/// Anything else is refused before it is opened ([`ReadError::NotAFile`]): opening a
/// FIFO waits for a writer, and a device may never end.
pub fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    regular(&std::fs::metadata(path)?)?;
    let file = File::open(path)?;
    // The path may name another file by now.
    regular(&file.metadata()?)?;
    read_bounded(file, limit)
}

fn regular(metadata: &Metadata) -> Result<(), ReadError> {
    match kind_of(metadata) {
        "a file" => Ok(()),
        kind => Err(ReadError::NotAFile { kind }),
    }
}

/// What is at a path, in words: `a file`, `a directory`, `a FIFO`, `a device`, ...
pub(crate) fn kind_of(metadata: &Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_file() {
        "a file"
    } else if kind.is_dir() {
        "a directory"
    } else {
        special_kind(&kind)
    }
}

#[cfg(unix)]
fn special_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

#[cfg(not(unix))]
fn special_kind(_kind: &std::fs::FileType) -> &'static str {
    "a special file"
}
