//! Bundles served whole or not at all: a manifest (`acs-manifest.json`) lists every rules
//! file of a bundle directory with its SHA-256, and an engine that finds one serves only a
//! set of files that matches it, so a deploy that writes the manifest last is atomic. The
//! manifest may be signed with Ed25519 (`acs-manifest.json.sig`); an engine given a public
//! key refuses an unsigned or wrongly signed bundle, so that write access to the rules
//! directory alone cannot switch fraud checks off.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest's file name, in the bundle directory.
pub const MANIFEST_FILE: &str = "acs-manifest.json";
/// The signature's file name, beside the manifest: the Ed25519 signature of the
/// manifest's bytes, in hex.
pub const SIGNATURE_FILE: &str = "acs-manifest.json.sig";

/// The largest manifest or key file read (a manifest lists file names and hashes).
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// The files of a bundle and their hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Manifest {
    /// The format's version (1).
    pub version: u32,
    /// Every rules file of the bundle by name, with `sha256:<hex>` of its bytes.
    pub files: BTreeMap<String, String>,
}

/// Why a bundle, its manifest, its signature or a key could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// A file could not be read or written.
    #[error("`{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The manifest, a signature or a key is not in its format.
    #[error("`{}`: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The bundle's files are not the ones its manifest lists (a deploy still being
    /// written, or files changed by hand).
    #[error("the rules files of `{}` do not match its {MANIFEST_FILE}: {difference}", dir.display())]
    Mismatch {
        /// The bundle directory.
        dir: PathBuf,
        /// The first difference found, in words.
        difference: String,
    },
    /// The engine requires signed bundles and this one has no manifest or no signature.
    #[error("`{}` is not signed: the engine requires a {MANIFEST_FILE} and its {SIGNATURE_FILE}", dir.display())]
    Unsigned {
        /// The bundle directory.
        dir: PathBuf,
    },
    /// The signature does not match the manifest and the engine's public key.
    #[error("the signature of `{}` does not verify with the engine's public key", dir.display())]
    BadSignature {
        /// The bundle directory.
        dir: PathBuf,
    },
    /// The engine requires signed bundles and the rules path is a single file.
    #[error("`{}` is a file: signed rules are a bundle directory with a {MANIFEST_FILE}", path.display())]
    NotADirectory {
        /// The rules path.
        path: PathBuf,
    },
}

/// An Ed25519 public key, which an engine checks bundle signatures with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

/// An Ed25519 private key, which signs bundles (kept by the deploy pipeline, never by
/// the engine).
pub struct PrivateKey(SigningKey);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(..)")
    }
}

impl PrivateKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<PrivateKey, BundleError> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| BundleError::Malformed {
            path: PathBuf::from("<random source>"),
            message: e.to_string(),
        })?;
        Ok(PrivateKey(SigningKey::from_bytes(&seed)))
    }

    /// The key in a file of 64 hex digits (its 32-byte seed).
    pub fn read(path: &Path) -> Result<PrivateKey, BundleError> {
        Ok(PrivateKey(SigningKey::from_bytes(&read_hex_key(path)?)))
    }

    /// The key as 64 hex digits, for its file.
    pub fn to_hex(&self) -> String {
        hex(&self.0.to_bytes())
    }

    /// The public key that checks this key's signatures.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }
}

impl PublicKey {
    /// The key in a file of 64 hex digits.
    pub fn read(path: &Path) -> Result<PublicKey, BundleError> {
        let bytes = read_hex_key(path)?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|e| BundleError::Malformed {
                path: path.to_owned(),
                message: format!("not an Ed25519 public key: {e}"),
            })
    }

    /// The key as 64 hex digits, for its file.
    pub fn to_hex(&self) -> String {
        hex(self.0.as_bytes())
    }
}

/// The manifest of the bundle in `dir` as it is now: every rules file and its hash.
pub fn manifest_of(dir: &Path) -> Result<Manifest, BundleError> {
    let mut files = BTreeMap::new();
    for (name, path) in rules_files(dir)? {
        let bytes = std::fs::read(&path).map_err(|source| BundleError::Io { path, source })?;
        files.insert(name, sha256(&bytes));
    }
    Ok(Manifest { version: 1, files })
}

impl Manifest {
    /// The manifest of files already read: `(file name, bytes)`.
    pub(crate) fn of_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Manifest {
        Manifest {
            version: 1,
            files: files
                .into_iter()
                .map(|(name, bytes)| (name.to_owned(), sha256(bytes)))
                .collect(),
        }
    }
}

/// Write the manifest of the bundle in `dir` (replacing any), and return it. Write it
/// after every rules file: the engine then serves the new files only once all are there.
pub fn write_manifest(dir: &Path) -> Result<Manifest, BundleError> {
    let manifest = manifest_of(dir)?;
    let mut text = serde_json::to_string_pretty(&manifest).map_err(|e| BundleError::Malformed {
        path: dir.join(MANIFEST_FILE),
        message: e.to_string(),
    })?;
    text.push('\n');
    write_atomically(&dir.join(MANIFEST_FILE), text.as_bytes())?;
    Ok(manifest)
}

/// Sign the manifest of the bundle in `dir` with `key`, writing [`SIGNATURE_FILE`].
pub fn sign(dir: &Path, key: &PrivateKey) -> Result<(), BundleError> {
    let manifest = read_limited(&dir.join(MANIFEST_FILE))?;
    let signature = key.0.sign(&manifest);
    let mut text = hex(&signature.to_bytes());
    text.push('\n');
    write_atomically(&dir.join(SIGNATURE_FILE), text.as_bytes())
}

/// Check the bundle in `dir` against its manifest (when it has one, or when `key` is
/// given) and the manifest's signature against `key`. `Ok(None)`: no manifest and no key,
/// nothing to check.
pub fn verify(dir: &Path, key: Option<&PublicKey>) -> Result<Option<Manifest>, BundleError> {
    check(dir, &manifest_of(dir)?, key)
}

/// [`verify`] of files already read (`found`: their names and hashes), so that what is
/// checked is exactly what is served.
pub(crate) fn check(
    dir: &Path,
    found: &Manifest,
    key: Option<&PublicKey>,
) -> Result<Option<Manifest>, BundleError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    if !manifest_path.exists() {
        return match key {
            Some(_) => Err(BundleError::Unsigned {
                dir: dir.to_owned(),
            }),
            None => Ok(None),
        };
    }
    let bytes = read_limited(&manifest_path)?;
    if let Some(key) = key {
        let signature_path = dir.join(SIGNATURE_FILE);
        if !signature_path.exists() {
            return Err(BundleError::Unsigned {
                dir: dir.to_owned(),
            });
        }
        let text = read_limited(&signature_path)?;
        let signature = parse_hex::<64>(&text)
            .map(|bytes| Signature::from_bytes(&bytes))
            .ok_or_else(|| BundleError::Malformed {
                path: signature_path,
                message: "expected 128 hex digits (an Ed25519 signature)".to_owned(),
            })?;
        key.0
            .verify(&bytes, &signature)
            .map_err(|_| BundleError::BadSignature {
                dir: dir.to_owned(),
            })?;
    }
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| BundleError::Malformed {
            path: manifest_path,
            message: e.to_string(),
        })?;
    if let Some(difference) = first_difference(&manifest, found) {
        return Err(BundleError::Mismatch {
            dir: dir.to_owned(),
            difference,
        });
    }
    Ok(Some(manifest))
}

fn first_difference(expected: &Manifest, found: &Manifest) -> Option<String> {
    for (name, hash) in &expected.files {
        match found.files.get(name) {
            None => return Some(format!("`{name}` is listed but missing")),
            Some(other) if other != hash => return Some(format!("`{name}` differs")),
            Some(_) => {}
        }
    }
    found
        .files
        .keys()
        .find(|name| !expected.files.contains_key(*name))
        .map(|name| format!("`{name}` is not listed"))
}

/// The rules files of a bundle directory, by name, as the loader reads them.
fn rules_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, BundleError> {
    let io = |source| BundleError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if super::load::named_like_rules(&path) {
            if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                files.push((name.to_owned(), path.clone()));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// `sha256:<hex>` of `bytes`, the form of every hash ACS names.
fn sha256(bytes: &[u8]) -> String {
    crate::source::RulesetHash::of_digest(&Sha256::digest(bytes).into()).to_string()
}

// Bundle keys sign audit checkpoints too (signed-note signature type 0x01, Ed25519).
#[cfg(feature = "audit")]
impl crate::audit::CheckpointSigner for PrivateKey {
    fn key_id(&self, name: &str) -> [u8; 4] {
        crate::audit::key_id(name, &[1], self.0.verifying_key().as_bytes())
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.0.sign(message).to_bytes().to_vec()
    }
}

#[cfg(feature = "audit")]
impl crate::audit::CheckpointVerifier for PublicKey {
    fn key_id(&self, name: &str) -> [u8; 4] {
        crate::audit::key_id(name, &[1], self.0.as_bytes())
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature).is_ok_and(|s| self.0.verify(message, &s).is_ok())
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

fn parse_hex<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    let digits = std::str::from_utf8(text).ok()?.trim().as_bytes();
    if digits.len() != N * 2 {
        return None;
    }
    let value = |d: u8| {
        char::from(d)
            .to_digit(16)
            .and_then(|v| u8::try_from(v).ok())
    };
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let [high, low] = pair else { return None };
        *byte = value(*high)? << 4 | value(*low)?;
    }
    Some(out)
}

fn read_hex_key(path: &Path) -> Result<[u8; 32], BundleError> {
    let text = read_limited(path)?;
    parse_hex::<32>(&text).ok_or_else(|| BundleError::Malformed {
        path: path.to_owned(),
        message: "expected 64 hex digits (an Ed25519 key)".to_owned(),
    })
}

fn read_limited(path: &Path) -> Result<Vec<u8>, BundleError> {
    super::load::read_regular_file(path, MAX_MANIFEST_BYTES).map_err(|e| BundleError::Malformed {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Write through a temporary file renamed over `path`, so a reader never sees half.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    let io = |source| BundleError::Io {
        path: path.to_owned(),
        source,
    };
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, bytes).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_anything_else() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(parse_hex::<4>(hex(&bytes).as_bytes()), Some(bytes));
        assert_eq!(parse_hex::<4>(b"00 1abff"), None);
        assert_eq!(parse_hex::<4>(b"0001abf"), None);
        assert_eq!(parse_hex::<4>(b"0001abfg"), None);
    }

    #[test]
    fn a_key_signs_what_its_public_key_verifies() {
        let key = PrivateKey::generate().unwrap();
        let public = key.public_key();
        let signature = key.0.sign(b"manifest");
        assert!(public.0.verify(b"manifest", &signature).is_ok());
        assert!(public.0.verify(b"manifest!", &signature).is_err());
        let again = PrivateKey(SigningKey::from_bytes(
            &parse_hex::<32>(key.to_hex().as_bytes()).unwrap(),
        ));
        assert_eq!(again.public_key(), public);
    }
}
