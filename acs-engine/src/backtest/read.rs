//! Reading the JSON lines input into batches of whole lines, cutting out lines too long to
//! hold in memory.

use std::io::{self, BufRead};

use super::report::LineMessage;
use super::tally::Examples;
use super::{DEFAULT_BATCH_BYTES, MAX_LINE_BYTES};

/// A run of whole lines; each line of `data` ends with `\n`.
pub(super) struct Batch {
    pub(super) first_line: u64,
    pub(super) bytes: u64,
    pub(super) lines: u64,
    pub(super) data: Vec<u8>,
    /// Lines cut out for being longer than [`MAX_LINE_BYTES`] (left empty in `data`).
    pub(super) oversized: Vec<u64>,
}

#[derive(Default)]
pub(super) struct ReadState {
    /// Number of the next line to read (1-based), once started.
    pub(super) next_line: u64,
    pub(super) bytes: u64,
    pub(super) oversized: Examples<LineMessage>,
}

impl ReadState {
    pub(super) fn lines(&self) -> u64 {
        self.next_line.saturating_sub(1)
    }

    /// Read whole lines until the batch holds `target` bytes or the input ends.
    pub(super) fn next_batch(
        &mut self,
        reader: &mut impl BufRead,
        target: usize,
    ) -> io::Result<Option<Batch>> {
        if self.next_line == 0 {
            self.next_line = 1;
        }
        let mut batch = Batch {
            first_line: self.next_line,
            bytes: 0,
            lines: 0,
            data: Vec::with_capacity(target.min(DEFAULT_BATCH_BYTES) + 1024),
            oversized: Vec::new(),
        };
        let mut line_start = 0;
        let mut too_long = false;
        loop {
            let buf = match reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                // The input ends; a last line without `\n` still counts.
                if too_long || batch.data.len() > line_start {
                    self.end_line(&mut batch, too_long);
                }
                break;
            }
            let newline = buf.iter().position(|&b| b == b'\n');
            let (piece, ends_line) = match newline {
                Some(at) => (buf.get(..=at).unwrap_or(buf), true),
                None => (buf, false),
            };
            let taken = piece.len();
            if !too_long {
                if batch.data.len() - line_start + taken > MAX_LINE_BYTES {
                    too_long = true;
                    batch.data.truncate(line_start);
                } else {
                    batch.data.extend_from_slice(piece);
                }
            }
            reader.consume(taken);
            batch.bytes += taken as u64;
            self.bytes += taken as u64;
            if ends_line {
                self.end_line(&mut batch, too_long);
                too_long = false;
                line_start = batch.data.len();
                if batch.data.len() >= target {
                    break;
                }
            }
        }
        Ok((batch.lines > 0).then_some(batch))
    }

    fn end_line(&mut self, batch: &mut Batch, too_long: bool) {
        if too_long {
            batch.oversized.push(self.next_line);
            let line = self.next_line;
            self.oversized.record(line, usize::MAX, || LineMessage {
                line,
                message: format!("line longer than {MAX_LINE_BYTES} bytes"),
            });
        }
        if batch.data.last() != Some(&b'\n') || too_long {
            batch.data.push(b'\n');
        }
        batch.lines += 1;
        self.next_line += 1;
    }
}

/// Line `number` of the input without its trailing `\r` (and line 1 without a byte-order
/// mark).
pub(super) fn trim_line(number: u64, line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if number == 1 {
        line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
    } else {
        line
    }
}
