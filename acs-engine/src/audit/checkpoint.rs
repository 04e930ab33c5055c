//! Checkpoints: the tree's size and root, signed, in the transparency-log checkpoint
//! format (c2sp.org/tlog-checkpoint) as a signed note (c2sp.org/signed-note):
//!
//! ```text
//! <origin>
//! <tree size>
//! <base64 root hash>
//!
//! — <key name> <base64(4-byte key ID ‖ signature)>
//! ```
//!
//! The signature covers the note text: the first three lines with their newlines. Keys
//! are Ed25519 (signature type 0x01; `acs_engine::bundle`'s key files implement
//! [`CheckpointSigner`] and [`CheckpointVerifier`]) or HMAC-SHA256 ([`HmacKey`], signature
//! type 0xff followed by `acs-audit/hmac-sha256`, as signed-note reserves 0xff for types
//! it does not assign).

use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::merkle::Hash;
use super::AuditError;

/// The largest checkpoint note read (a few signature lines).
pub const MAX_CHECKPOINT_BYTES: usize = 16 * 1024;

/// Signs checkpoints: what the log writer holds.
pub trait CheckpointSigner: Send + Sync {
    /// The signed-note key ID of this key under `name`: the first four bytes of
    /// SHA-256(name ‖ 0x0A ‖ signature type ‖ public key).
    fn key_id(&self, name: &str) -> [u8; 4];
    /// The signature of `message`.
    fn sign(&self, message: &[u8]) -> Vec<u8>;
}

/// Checks checkpoint signatures: what a verifier holds.
pub trait CheckpointVerifier {
    /// The key ID this key has under `name` (as [`CheckpointSigner::key_id`]).
    fn key_id(&self, name: &str) -> [u8; 4];
    /// Whether `signature` is this key's signature of `message`.
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool;
}

/// A signed-note key ID: `SHA-256(name ‖ 0x0A ‖ kind ‖ public)[:4]`.
pub fn key_id(name: &str, kind: &[u8], public: &[u8]) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n']);
    hasher.update(kind);
    hasher.update(public);
    let hash: [u8; 32] = hasher.finalize().into();
    let [a, b, c, d, ..] = hash;
    [a, b, c, d]
}

/// A shared secret for HMAC-SHA256 checkpoint signatures: simpler than a key pair, but
/// whoever can verify can also sign.
#[derive(Clone)]
pub struct HmacKey(Vec<u8>);

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey(..)")
    }
}

/// The signature type of HMAC keys: 0xff, then a name that is unlikely to collide.
const HMAC_KIND: &[u8] = b"\xffacs-audit/hmac-sha256";

impl HmacKey {
    /// A key of these bytes (at least 16).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<HmacKey, AuditError> {
        let bytes = bytes.into();
        if bytes.len() < 16 {
            return Err(AuditError::Key {
                message: format!("an HMAC key needs at least 16 bytes, not {}", bytes.len()),
            });
        }
        Ok(HmacKey(bytes))
    }

    /// The key in a file of hex digits (at least 32, that is 16 bytes), as
    /// `acs audit keygen --hmac` writes it.
    pub fn read(path: &Path) -> Result<HmacKey, AuditError> {
        let text = crate::limits::read_file(path, 4096).map_err(|e| AuditError::Key {
            message: format!("`{}`: {e}", path.display()),
        })?;
        let text = String::from_utf8_lossy(&text);
        let bytes = super::unhex(text.trim()).ok_or_else(|| AuditError::Key {
            message: format!("`{}`: not a key of hex digits", path.display()),
        })?;
        HmacKey::new(bytes)
    }

    /// A new random key of 32 bytes.
    pub fn generate() -> Result<HmacKey, AuditError> {
        let mut bytes = vec![0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(|e| AuditError::Key {
            message: format!("no random source: {e}"),
        })?;
        HmacKey::new(bytes)
    }

    /// The key as hex digits, for its file.
    pub fn to_hex(&self) -> String {
        super::hex(&self.0)
    }

    fn mac(&self, message: &[u8]) -> Vec<u8> {
        match <Hmac<Sha256> as Mac>::new_from_slice(&self.0) {
            Ok(mut mac) => {
                mac.update(message);
                mac.finalize().into_bytes().to_vec()
            }
            // HMAC takes keys of any length.
            Err(_) => Vec::new(),
        }
    }

    /// What stands for the public key in the key ID: a hash of the secret, which names
    /// the key without giving it away.
    fn id_material(&self) -> Vec<u8> {
        self.mac(b"acs-audit key id")
    }
}

impl CheckpointSigner for HmacKey {
    fn key_id(&self, name: &str) -> [u8; 4] {
        key_id(name, HMAC_KIND, &self.id_material())
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.mac(message)
    }
}

impl CheckpointVerifier for HmacKey {
    fn key_id(&self, name: &str) -> [u8; 4] {
        key_id(name, HMAC_KIND, &self.id_material())
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match <Hmac<Sha256> as Mac>::new_from_slice(&self.0) {
            Ok(mut mac) => {
                mac.update(message);
                mac.verify_slice(signature).is_ok()
            }
            Err(_) => false,
        }
    }
}

/// A signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's name (the first line).
    pub origin: String,
    /// How many records the tree holds.
    pub size: u64,
    /// The tree's root hash.
    pub root: Hash,
    /// The signature lines: key name, key ID and signature.
    pub signatures: Vec<NoteSignature>,
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key's name.
    pub name: String,
    /// The key's ID.
    pub key_id: [u8; 4],
    /// The signature proper.
    pub signature: Vec<u8>,
}

/// Whether a checkpoint's signatures verify with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureCheck {
    /// A signature by the key verifies, and none by it fails.
    Valid,
    /// A signature line names the key and does not verify.
    Invalid,
    /// No signature line is by the key.
    Absent,
}

impl Checkpoint {
    /// An unsigned checkpoint.
    pub fn new(origin: &str, size: u64, root: Hash) -> Checkpoint {
        Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            signatures: Vec::new(),
        }
    }

    /// The note text the signatures cover.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        )
    }

    /// Add the signature of `key` under `name`.
    pub fn sign(&mut self, name: &str, key: &dyn CheckpointSigner) {
        let signature = key.sign(self.body().as_bytes());
        self.signatures.push(NoteSignature {
            name: name.to_owned(),
            key_id: key.key_id(name),
            signature,
        });
    }

    /// Check the signatures by `key` (lines whose name and key ID are the key's).
    pub fn check(&self, key: &dyn CheckpointVerifier) -> SignatureCheck {
        let body = self.body();
        let mut verdict = SignatureCheck::Absent;
        for line in &self.signatures {
            if key.key_id(&line.name) != line.key_id {
                continue;
            }
            if !key.verify(body.as_bytes(), &line.signature) {
                return SignatureCheck::Invalid;
            }
            verdict = SignatureCheck::Valid;
        }
        verdict
    }

    /// The whole signed note.
    pub fn to_note(&self) -> String {
        let mut note = self.body();
        note.push('\n');
        for line in &self.signatures {
            let mut bytes = line.key_id.to_vec();
            bytes.extend_from_slice(&line.signature);
            note.push_str(&format!(
                "\u{2014} {} {}\n",
                line.name,
                BASE64.encode(bytes)
            ));
        }
        note
    }

    /// A checkpoint from its signed note.
    pub fn parse(note: &str) -> Result<Checkpoint, String> {
        if note.len() > MAX_CHECKPOINT_BYTES {
            return Err(format!("longer than {MAX_CHECKPOINT_BYTES} bytes"));
        }
        if note.chars().any(|c| c.is_control() && c != '\n') {
            return Err("a control character (a note holds none but newlines)".into());
        }
        let (text, signatures) = note
            .split_once("\n\n")
            .ok_or("no blank line between the text and the signatures")?;
        let mut lines = text.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err("no origin line".into());
        }
        let size = lines
            .next()
            .and_then(|s| {
                (!s.is_empty()
                    && s.bytes().all(|b| b.is_ascii_digit())
                    && (s == "0" || !s.starts_with('0')))
                .then(|| s.parse::<u64>().ok())
                .flatten()
            })
            .ok_or("the second line is not a tree size")?;
        let root = lines
            .next()
            .and_then(|s| BASE64.decode(s).ok())
            .and_then(|b| Hash::try_from(b).ok())
            .ok_or("the third line is not a base64 SHA-256 root hash")?;
        if lines.next().is_some() {
            return Err("extension lines are not used by this log".into());
        }
        let mut parsed = Vec::new();
        let Some(signatures) = signatures.strip_suffix('\n') else {
            return Err("the note does not end in a newline".into());
        };
        for line in signatures.split('\n') {
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or("a signature line does not start with `— `")?;
            let (name, encoded) = rest
                .split_once(' ')
                .ok_or("a signature line has no signature")?;
            if name.is_empty() || name.contains('+') {
                return Err(format!("`{name}` is not a key name"));
            }
            let bytes = BASE64
                .decode(encoded)
                .map_err(|_| "a signature is not base64")?;
            let (id, signature) = bytes
                .split_first_chunk::<4>()
                .ok_or("a signature shorter than its key ID")?;
            parsed.push(NoteSignature {
                name: name.to_owned(),
                key_id: *id,
                signature: signature.to_vec(),
            });
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            signatures: parsed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_note_parses_back_and_verifies() {
        let key = HmacKey::new(vec![7u8; 32]).unwrap();
        let mut checkpoint = Checkpoint::new("example.com/log", 12, [3u8; 32]);
        checkpoint.sign("example.com/log", &key);
        let note = checkpoint.to_note();
        assert!(note.starts_with(
            "example.com/log\n12\nAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=\n\n\u{2014} example.com/log "
        ));
        let parsed = Checkpoint::parse(&note).unwrap();
        assert_eq!(parsed, checkpoint);
        assert_eq!(parsed.check(&key), SignatureCheck::Valid);
        let other = HmacKey::new(vec![8u8; 32]).unwrap();
        assert_eq!(parsed.check(&other), SignatureCheck::Absent);
        let mut forged = parsed.clone();
        forged.size = 13;
        assert_eq!(forged.check(&key), SignatureCheck::Invalid);
    }

    #[test]
    fn malformed_notes_are_refused() {
        for note in [
            "",
            "o\n1\nAAAA\n\n",
            "o\n01\nAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=\n\n— k AAAAAA==\n",
            "o\nx\nAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=\n\n— k AAAAAA==\n",
            "o\n1\nAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=\n\n- k AAAAAA==\n",
            "o\n1\nAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=\n\n— k AAA=\n",
            "o\n1\nAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=\n\n— k AAAAAA==",
        ] {
            assert!(Checkpoint::parse(note).is_err(), "{note:?}");
        }
    }
}
