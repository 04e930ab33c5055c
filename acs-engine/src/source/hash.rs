//! [`RulesetHash`]: the `sha256:<hex>` name of a rule set's sources, stored inline so that
//! stamping it on every decision is a copy, not a reference count bumped from every core.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::SourceMap;

const PREFIX: &str = "sha256:";
const LEN: usize = PREFIX.len() + 64;

/// `sha256:<64 lowercase hex digits>` of the rules files that decided. Reads as a `&str`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RulesetHash([u8; LEN]);

impl RulesetHash {
    /// Parse `sha256:<64 lowercase hex digits>`; `None` for anything else.
    pub fn parse(text: &str) -> Option<RulesetHash> {
        let hex = text.strip_prefix(PREFIX)?;
        let valid = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !valid {
            return None;
        }
        let mut bytes = [0; LEN];
        bytes.copy_from_slice(text.as_bytes());
        Some(RulesetHash(bytes))
    }

    /// The hash of `sources`: SHA-256 over each file's base name and bytes, so a decision
    /// names the exact rules behind it wherever the files were read from.
    pub(crate) fn of_sources(sources: &SourceMap) -> RulesetHash {
        let mut hasher = Sha256::new();
        for file in sources.files() {
            let name = std::path::Path::new(file.name()).file_name().map_or_else(
                || file.name().to_owned(),
                |n| n.to_string_lossy().into_owned(),
            );
            hasher.update((name.len() as u64).to_le_bytes());
            hasher.update(name.as_bytes());
            hasher.update((file.text().len() as u64).to_le_bytes());
            hasher.update(file.text().as_bytes());
        }
        RulesetHash::of_digest(&hasher.finalize().into())
    }

    /// The hash named by a SHA-256 digest.
    pub(crate) fn of_digest(digest: &[u8; 32]) -> RulesetHash {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut bytes = [0; LEN];
        let (prefix, hex) = bytes.split_at_mut(PREFIX.len());
        prefix.copy_from_slice(PREFIX.as_bytes());
        let digit = |nibble: u8| HEX.get(usize::from(nibble)).copied().unwrap_or(b'0');
        for (pair, byte) in hex.chunks_exact_mut(2).zip(digest) {
            if let [high, low] = pair {
                *high = digit(byte >> 4);
                *low = digit(byte & 0xf);
            }
        }
        RulesetHash(bytes)
    }

    /// The hash as text.
    pub fn as_str(&self) -> &str {
        // Only `parse` builds one, from ASCII: this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl Deref for RulesetHash {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for RulesetHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RulesetHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for RulesetHash {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for RulesetHash {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for RulesetHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RulesetHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        RulesetHash::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{text}` is not a ruleset hash (`sha256:` and 64 lowercase hex digits)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::RulesetHash;

    #[test]
    fn parses_only_sha256_hex() {
        let text = format!("sha256:{}", "0a".repeat(32));
        let hash = RulesetHash::parse(&text).unwrap();
        assert_eq!(&*hash, text);
        assert_eq!(serde_json::to_string(&hash).unwrap(), format!("\"{text}\""));
        assert_eq!(
            serde_json::from_str::<RulesetHash>(&format!("\"{text}\"")).unwrap(),
            hash
        );
        for bad in [
            "",
            "sha256:",
            "sha256:0A",
            text.get(1..).unwrap(),
            &format!("{text}0"),
            &text.replace('a', "A"),
        ] {
            assert!(RulesetHash::parse(bad).is_none(), "{bad}");
        }
        assert!(serde_json::from_str::<RulesetHash>("\"md5:00\"").is_err());
    }
}
