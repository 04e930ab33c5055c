//! `textContainsPII`: contact details and identity numbers in free text.
//!
//! Detected (docs/LANGUAGE.md lists the same):
//! - e-mail addresses `local@domain.tld`;
//! - Indian mobile numbers: 10 digits starting with 6-9, not touching other digits,
//!   either written together (`9876543210`) or after a `+91` (optionally followed by a
//!   space or hyphen) or `0` (optionally followed by a space) prefix, where the 10 digits
//!   may also be grouped 5+5 by a space or hyphen (`+91 98765 43210`, `098765-43210`).
//!   Unprefixed 5+5 groups are not reported: they read like price ranges (`75000-80000`);
//! - Aadhaar numbers: 12 digits starting with 2-9, optionally grouped 4-4-4 by spaces or
//!   hyphens, not touching other digits, and passing the Verhoeff checksum (which turns
//!   away nine in ten random 12-digit numbers);
//! - PAN: five letters, four digits, a letter, the fourth letter a holder type
//!   (`[ABCFGHLJPT]`), upper case, as a whole word.

use std::sync::LazyLock;

use regex::Regex;

fn compile(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

static EMAIL: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(r"(?i)[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}"));
static MOBILE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(
        r"(?:^|[^0-9+])(?:[6-9][0-9]{9}|(?:\+91[ -]?|0 ?)[6-9][0-9]{4}[ -]?[0-9]{5})(?:$|[^0-9])",
    )
});
static AADHAAR: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(r"(?:^|[^0-9])[2-9][0-9]{3}[ -]?[0-9]{4}[ -]?[0-9]{4}(?:$|[^0-9])"));
static PAN: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(r"\b[A-Z]{3}[ABCFGHLJPT][A-Z][0-9]{4}[A-Z]\b"));

fn found(regex: &LazyLock<Option<Regex>>, text: &str) -> bool {
    regex.as_ref().is_some_and(|r| r.is_match(text))
}

/// Whether `text` contains an e-mail address, Indian mobile number, Aadhaar or PAN.
pub fn text_contains_pii(text: &str) -> bool {
    may_contain_pii(text)
        && (found(&EMAIL, text)
            || found(&MOBILE, text)
            || contains_aadhaar(text)
            || found(&PAN, text))
}

/// Cheap necessary conditions: every pattern needs an `@`, ten digits, or (a PAN) five
/// capital letters and four digits. Ordinary text fails them all and never reaches the
/// regexes. Counted eight bytes at a time (SWAR), since this runs on every text checked.
fn may_contain_pii(text: &str) -> bool {
    let digits = count(text.as_bytes(), b'0', b'9');
    if digits >= 10 || count(text.as_bytes(), b'@', b'@') > 0 {
        return true;
    }
    digits >= 4 && count(text.as_bytes(), b'A', b'Z') >= 5
}

/// How many bytes of `bytes` are within `lo..=hi`, eight at a time.
fn count(bytes: &[u8], lo: u8, hi: u8) -> u32 {
    let mut chunks = bytes.chunks_exact(8);
    let mut total = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        total += in_range(u64::from_le_bytes(word), lo, hi).count_ones();
    }
    total
        + chunks
            .remainder()
            .iter()
            .map(|b| u32::from((lo..=hi).contains(b)))
            .sum::<u32>()
}

/// The high bit of each byte of `word` that is an ASCII byte within `lo..=hi`.
#[inline]
fn in_range(word: u64, lo: u8, hi: u8) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let ascii = !word & HIGH;
    // With the high bits cleared, no byte borrows from its neighbour below.
    let low7 = word & !HIGH;
    let at_least_lo = (low7 | HIGH).wrapping_sub(ONES * u64::from(lo)) & HIGH;
    let at_most_hi = ((ONES * u64::from(hi)) | HIGH).wrapping_sub(low7) & HIGH;
    at_least_lo & at_most_hi & ascii
}

fn contains_aadhaar(text: &str) -> bool {
    let Some(regex) = AADHAAR.as_ref() else {
        return false;
    };
    // `find_at` rather than captures: it does not allocate on the request path.
    let mut from = 0;
    while let Some(found) = regex.find_at(text, from) {
        let candidate = found.as_str();
        let leading = candidate.len()
            - candidate
                .trim_start_matches(|c: char| !c.is_ascii_digit())
                .len();
        if verhoeff_valid(candidate) {
            return true;
        }
        // The boundary character is consumed; retry just after the failed candidate's first digit.
        from = found.start() + leading + 1;
    }
    false
}

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// The Verhoeff check used by Aadhaar (the last digit is the check digit).
fn verhoeff_valid(number: &str) -> bool {
    let mut check = 0u8;
    for (i, c) in number
        .chars()
        .filter(char::is_ascii_digit)
        .rev()
        .enumerate()
    {
        let digit = c as usize - '0' as usize;
        let permuted = VERHOEFF_P
            .get(i % 8)
            .and_then(|row| row.get(digit))
            .copied()
            .unwrap_or(0);
        check = VERHOEFF_D
            .get(check as usize)
            .and_then(|row| row.get(permuted as usize))
            .copied()
            .unwrap_or(0);
    }
    check == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_contact_details() {
        for text in [
            "mail me at ravi.k@example.co.in",
            "call 9876543210",
            "call +91 9876543210 now",
            "call +91-9876543210",
            "+919876543210",
            "(9876543210)",
            "call 09876543210",
            "call 0 98765 43210",
            "call +91 98765-43210",
            "aadhaar 2345 6789 0124",
            "aadhaar 234567890124",
            "pan ABCPE1234F",
        ] {
            assert!(text_contains_pii(text), "{text}");
        }
    }

    #[test]
    fn ordinary_bid_and_chat_text_is_clean() {
        for text in [
            "",
            "Can deliver by 5pm, rate 45000 INR for 12 tonnes",
            "bid 1234567890",             // starts with 1: not a mobile number
            "order 98765432101",          // 11 digits: touches another digit
            "ref 19876543210",            // touches a digit on the left
            "invoice 234567890123",       // 12 digits, fails the Verhoeff check
            "truck MH12AB1234 at gate 5", // vehicle registration, not a PAN
            "reach @ 10 am, email later",
            "ABCDE1234F is lower-risk", // fourth letter D is no PAN holder type
        ] {
            assert!(!text_contains_pii(text), "{text}");
        }
    }

    #[test]
    fn the_eight_byte_pre_filter_counts_like_the_plain_one() {
        let texts = [
            "",
            "a@b",
            "0123456789",
            "ABCPE1234F and more text",
            "ünïcödé 98765 4321 with @ signs",
            "\u{7f}\u{80}09AZ@az[`/:",
            "no digits at all in this fairly long sentence of words",
        ];
        for text in texts {
            let plain = {
                let b = text.as_bytes();
                let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
                let capitals = b.iter().filter(|c| c.is_ascii_uppercase()).count();
                b.contains(&b'@') || digits >= 10 || (digits >= 4 && capitals >= 5)
            };
            assert_eq!(may_contain_pii(text), plain, "{text}");
        }
        for byte in 0..=255u8 {
            let word = u64::from_le_bytes([byte; 8]);
            let expect = |lo: u8, hi: u8| if (lo..=hi).contains(&byte) { 8 } else { 0 };
            assert_eq!(
                in_range(word, b'0', b'9').count_ones(),
                expect(b'0', b'9'),
                "{byte}"
            );
            assert_eq!(
                in_range(word, b'A', b'Z').count_ones(),
                expect(b'A', b'Z'),
                "{byte}"
            );
            assert_eq!(
                in_range(word, b'@', b'@').count_ones(),
                expect(b'@', b'@'),
                "{byte}"
            );
        }
    }

    #[test]
    fn verhoeff_known_values() {
        assert!(verhoeff_valid("2363"));
        assert!(!verhoeff_valid("2364"));
    }

    /// The published Verhoeff tables, built from their definitions rather than copied:
    /// `d` is the multiplication of the dihedral group D5 (rotations 0-4, reflections
    /// 5-9), `p` the powers of the permutation `1 5 7 6 2 8 3 0 9 4`, `inv` the inverses
    /// under `d`.
    fn published_tables() -> ([[u8; 10]; 10], [[u8; 10]; 8], [u8; 10]) {
        let mut d = [[0u8; 10]; 10];
        for (j, row) in d.iter_mut().enumerate() {
            for (k, cell) in row.iter_mut().enumerate() {
                let (j, k) = (j as u8, k as u8);
                *cell = match (j < 5, k < 5) {
                    (true, true) => (j + k) % 5,
                    (true, false) => 5 + (j + k - 5) % 5,
                    (false, true) => 5 + (j - 5 + 5 - k) % 5,
                    (false, false) => (j - 5 + 10 - k) % 5,
                };
            }
        }
        let base = [1u8, 5, 7, 6, 2, 8, 3, 0, 9, 4];
        let mut p = [[0u8; 10]; 8];
        let mut power: [u8; 10] = std::array::from_fn(|j| j as u8);
        for row in &mut p {
            *row = power;
            power = power.map(|j| base[j as usize]);
        }
        let inv: [u8; 10] =
            std::array::from_fn(|j| (0..10).find(|&k| d[j][k as usize] == 0).unwrap());
        (d, p, inv)
    }

    /// The checksum with the published tables: valid when the running value ends at 0.
    fn published_valid(number: &str) -> bool {
        let (d, p, _) = published_tables();
        let mut check = 0u8;
        for (i, c) in number.bytes().rev().enumerate() {
            check = d[check as usize][p[i % 8][(c - b'0') as usize] as usize];
        }
        check == 0
    }

    #[test]
    fn the_verhoeff_tables_are_the_published_ones() {
        let (d, p, inv) = published_tables();
        assert_eq!(inv, [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]);
        assert_eq!(VERHOEFF_D, d);
        assert_eq!(VERHOEFF_P, p);
    }

    #[test]
    fn the_checksum_agrees_with_the_published_algorithm() {
        let (d, p, inv) = published_tables();
        // Every 11-digit body gets the check digit the published algorithm computes for
        // it; that number, and each of its nine one-digit corruptions of the check
        // digit, must be judged as the published checksum judges them.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..5000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let body = format!("{:011}", seed % 100_000_000_000);
            let mut check = 0u8;
            for (i, c) in body.bytes().rev().enumerate() {
                check = d[check as usize][p[(i + 1) % 8][(c - b'0') as usize] as usize];
            }
            let digit = inv[check as usize];
            for last in 0..10u8 {
                let number = format!("{body}{last}");
                assert_eq!(verhoeff_valid(&number), last == digit, "{number}");
                assert_eq!(
                    verhoeff_valid(&number),
                    published_valid(&number),
                    "{number}"
                );
            }
        }
    }

    #[test]
    fn known_aadhaar_numbers() {
        for valid in ["499118665246", "4991 1866 5246", "903950384291"] {
            assert!(text_contains_pii(valid), "{valid}");
            assert!(text_contains_pii(&format!("aadhaar: {valid}.")), "{valid}");
        }
        for invalid in ["389423280598", "3894 2328 0598"] {
            assert!(!text_contains_pii(invalid), "{invalid}");
        }
    }
}
