//! Compressing a log's closed segments (`acs audit compress`): each becomes
//! `NNNNNNNNNNNN.log.gz`, gzip of exactly its bytes, so the frames, offsets and tree are
//! unchanged and [`verify`](super::verify), [`read`](super::read) and a writer read it as
//! they read the original. Only closed segments: the last one is a writer's to append to.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use flate2::write::GzEncoder;
use flate2::Compression;

use super::log::segments;
use super::segment::{inflate, parse_segment_name, COMPRESSED_SUFFIX};
use super::writer::{io, sync_dir};
use super::AuditError;

/// What [`compress`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompressReport {
    /// The segments compressed, by their names before.
    pub segments: Vec<String>,
    /// Their size before, in bytes.
    pub bytes_before: u64,
    /// Their size after.
    pub bytes_after: u64,
}

/// Compress the closed segments of the log in `dir` (every segment but the last) that are
/// not compressed yet and, with `older_than`, were last written at least that long ago.
///
/// Each is written compressed beside itself (`.log.gz.tmp`), synced, read back and
/// compared with the original, renamed into place, and only then is the original
/// removed: a crash at any point leaves a log that reads and verifies as before (while
/// both copies exist, readers read the original; running `compress` again finishes the
/// job). A running writer may go on appending meanwhile.
pub fn compress(dir: &Path, older_than: Option<Duration>) -> Result<CompressReport, AuditError> {
    // A compressed copy a crash left half written is never read: clear it first.
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with(".log.gz.tmp"))
        {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    let listed = segments(dir)?;
    let mut report = CompressReport::default();
    let Some((_, closed)) = listed.split_last() else {
        return Ok(report);
    };
    let now = SystemTime::now();
    for (_, name) in closed {
        if parse_segment_name(name).is_none() {
            continue; // compressed already
        }
        let path = dir.join(name);
        if let Some(age) = older_than {
            let modified = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .map_err(io(&path))?;
            if now.duration_since(modified).unwrap_or_default() < age {
                continue;
            }
        }
        let original = std::fs::read(&path).map_err(io(&path))?;
        let temporary = dir.join(format!("{name}{COMPRESSED_SUFFIX}.tmp"));
        let mut encoder = GzEncoder::new(
            BufWriter::new(File::create(&temporary).map_err(io(&temporary))?),
            Compression::default(),
        );
        encoder.write_all(&original).map_err(io(&temporary))?;
        let file = encoder
            .finish()
            .map_err(io(&temporary))?
            .into_inner()
            .map_err(|e| AuditError::Io {
                path: temporary.clone(),
                source: e.into_error(),
            })?;
        file.sync_all().map_err(io(&temporary))?;
        drop(file);
        let back =
            inflate(File::open(&temporary).map_err(io(&temporary))?).map_err(io(&temporary))?;
        if back != original {
            let _ = std::fs::remove_file(&temporary);
            return Err(AuditError::Io {
                path: temporary,
                source: std::io::Error::other(
                    "the compressed copy does not read back as the segment",
                ),
            });
        }
        let compressed = dir.join(format!("{name}{COMPRESSED_SUFFIX}"));
        std::fs::rename(&temporary, &compressed).map_err(io(&compressed))?;
        sync_dir(dir)?;
        std::fs::remove_file(&path).map_err(io(&path))?;
        sync_dir(dir)?;
        report.bytes_before += original.len() as u64;
        report.bytes_after += std::fs::metadata(&compressed)
            .map_err(io(&compressed))?
            .len();
        report.segments.push(name.clone());
    }
    Ok(report)
}
