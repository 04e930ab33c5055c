//! Segment files and their frames: `u32 length (LE) | u32 CRC-32C of body (LE) | body`,
//! appended one after the other; a segment is named by the sequence number of its first
//! record (`NNNNNNNNNNNN.log`, twelve digits or more). The checkpoints file uses the same
//! framing.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// The bytes before a frame's body: its length and its checksum.
pub const FRAME_HEADER_BYTES: u64 = 8;

/// The largest body a frame may declare. A length beyond it is damage (or a hostile
/// file), never an allocation.
pub const MAX_RECORD_BYTES: u32 = 16 * 1024 * 1024;

/// The name of the checkpoints file in a log directory.
pub const CHECKPOINTS_FILE: &str = "checkpoints.log";

/// The file name of the segment whose first record is `first_seq`.
pub fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:012}.log")
}

/// What a closed segment's file name ends with once [`compress`](super::compress)ed:
/// `000000001000.log.gz` holds, gzip-compressed, exactly the bytes `000000001000.log` did.
pub const COMPRESSED_SUFFIX: &str = ".gz";

/// The most bytes a compressed segment may decompress to (a segment is closed at
/// `WriterOptions::segment_bytes`, 64 MiB by default): a file that inflates past this is
/// refused rather than read into memory.
pub const MAX_DECOMPRESSED_SEGMENT: u64 = 1 << 30;

/// The first sequence number a compressed segment's file name declares, if it is one.
pub fn parse_compressed_segment_name(name: &str) -> Option<u64> {
    parse_segment_name(name.strip_suffix(COMPRESSED_SUFFIX)?)
}

/// The first sequence number a segment's file name declares, if it is a segment's name.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    if digits.len() < 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `body` framed, appended to `out`.
pub fn encode_frame(body: &[u8], out: &mut Vec<u8>) {
    let length = u32::try_from(body.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    out.extend_from_slice(body);
}

/// What is wrong with a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadFrame {
    /// Fewer than 8 bytes left for the header.
    ShortHeader,
    /// The declared length is 0 or above [`MAX_RECORD_BYTES`].
    Length(u32),
    /// The body runs past the end of the file.
    Incomplete {
        /// The declared length.
        length: u32,
        /// The bytes present after the header.
        present: u64,
    },
    /// The body's CRC-32C is not the one in the header.
    Checksum,
}

impl std::fmt::Display for BadFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadFrame::ShortHeader => f.write_str("an incomplete frame header"),
            BadFrame::Length(0) => f.write_str("a frame of length 0"),
            BadFrame::Length(n) => write!(
                f,
                "a frame length of {n} bytes, above the limit of {MAX_RECORD_BYTES}"
            ),
            BadFrame::Incomplete { length, present } => write!(
                f,
                "a frame of {length} bytes of which only {present} are present"
            ),
            BadFrame::Checksum => f.write_str("a checksum mismatch"),
        }
    }
}

/// One step of reading a framed file.
#[derive(Debug)]
pub enum Step {
    /// A good frame at `offset`; its body is in the reader's buffer.
    Frame {
        /// Where its header starts.
        offset: u64,
    },
    /// A bad frame at `offset`: the reader stops there.
    Bad {
        /// Where its header starts.
        offset: u64,
        /// What is wrong.
        problem: BadFrame,
        /// Whether the bad frame reaches exactly to the end of the file and nothing
        /// follows it, or only zero bytes follow: what a write cut short leaves.
        at_end: bool,
    },
    /// The end of the file, after a whole frame.
    End,
}

/// What a [`FrameReader`] reads: a file, or a compressed segment inflated in memory.
trait Source: Read + Seek + Send {}
impl<T: Read + Seek + Send> Source for T {}

/// Reads frames from a file front to back, with one buffer for the bodies. A compressed
/// segment (`.log.gz`) is inflated first and read the same way: the same frames at the
/// same offsets.
pub struct FrameReader {
    file: Box<dyn Source>,
    offset: u64,
    length: u64,
    /// The body of the last frame read.
    pub body: Vec<u8>,
}

impl FrameReader {
    /// A reader at the start of `path`.
    pub fn open(path: &Path) -> std::io::Result<FrameReader> {
        let file = File::open(path)?;
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with(COMPRESSED_SUFFIX))
        {
            let bytes = inflate(file)?;
            return Ok(FrameReader {
                length: bytes.len() as u64,
                file: Box::new(std::io::Cursor::new(bytes)),
                offset: 0,
                body: Vec::new(),
            });
        }
        let length = file.metadata()?.len();
        Ok(FrameReader {
            file: Box::new(BufReader::with_capacity(256 * 1024, file)),
            offset: 0,
            length,
            body: Vec::new(),
        })
    }

    /// The file's length when it was opened.
    pub fn len(&self) -> u64 {
        self.length
    }

    /// The next frame.
    pub fn next(&mut self) -> std::io::Result<Step> {
        let offset = self.offset;
        let left = self.length - offset.min(self.length);
        if left == 0 {
            return Ok(Step::End);
        }
        if left < FRAME_HEADER_BYTES {
            let at_end = true;
            return Ok(Step::Bad {
                offset,
                problem: BadFrame::ShortHeader,
                at_end,
            });
        }
        let mut header = [0u8; 8];
        self.file.read_exact(&mut header)?;
        let [l0, l1, l2, l3, c0, c1, c2, c3] = header;
        let length = u32::from_le_bytes([l0, l1, l2, l3]);
        let checksum = u32::from_le_bytes([c0, c1, c2, c3]);
        let present = left - FRAME_HEADER_BYTES;
        if length == 0 || length > MAX_RECORD_BYTES {
            let at_end = self.rest_is_zero(offset)?;
            return Ok(Step::Bad {
                offset,
                problem: BadFrame::Length(length),
                at_end,
            });
        }
        if u64::from(length) > present {
            return Ok(Step::Bad {
                offset,
                problem: BadFrame::Incomplete { length, present },
                at_end: true,
            });
        }
        self.body.clear();
        self.body.resize(length as usize, 0);
        self.file.read_exact(&mut self.body)?;
        if crc32c::crc32c(&self.body) != checksum {
            let end = offset + FRAME_HEADER_BYTES + u64::from(length);
            let at_end = end == self.length || self.rest_is_zero(offset)?;
            return Ok(Step::Bad {
                offset,
                problem: BadFrame::Checksum,
                at_end,
            });
        }
        self.offset = offset + FRAME_HEADER_BYTES + u64::from(length);
        Ok(Step::Frame { offset })
    }

    /// Whether every byte from `offset` to the end of the file is zero (a file extended
    /// by a crash before its data reached the disk reads as zeros).
    fn rest_is_zero(&mut self, offset: u64) -> std::io::Result<bool> {
        self.file.seek(SeekFrom::Start(offset))?;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = self.file.read(&mut buffer)?;
            if n == 0 {
                return Ok(true);
            }
            if buffer.get(..n).is_some_and(|b| b.iter().any(|&x| x != 0)) {
                return Ok(false);
            }
        }
    }
}

/// The bytes of a gzip file, at most [`MAX_DECOMPRESSED_SEGMENT`] of them.
pub(crate) fn inflate(file: File) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(BufReader::new(file))
        .take(MAX_DECOMPRESSED_SEGMENT + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_DECOMPRESSED_SEGMENT {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a compressed segment inflating past {MAX_DECOMPRESSED_SEGMENT} bytes"),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_others_are_not_segments() {
        assert_eq!(segment_name(42), "000000000042.log");
        assert_eq!(parse_segment_name("000000000042.log"), Some(42));
        assert_eq!(parse_segment_name("1234567890123.log"), Some(1234567890123));
        assert_eq!(parse_segment_name("42.log"), None);
        assert_eq!(parse_segment_name("checkpoints.log"), None);
        assert_eq!(parse_segment_name("00000000004x.log"), None);
    }

    #[test]
    fn crc32c_is_the_castagnoli_polynomial() {
        // RFC 3720 (iSCSI) B.4: 32 bytes of zeros.
        assert_eq!(crc32c::crc32c(&[0u8; 32]), 0x8a91_36aa);
    }
}
