//! The fast way from JSON bytes to a decision: `simd-json` scans a copy of the bytes
//! into a tape (structure and UTF-8 found with SIMD, strings unescaped in place, numbers
//! parsed), and requests and backtests alike evaluate straight from it (`eval/doc.rs`,
//! which builds a value with `build` when it needs one whole). What it reads must be
//! exactly what the `serde_json` path reads; anything it refuses (invalid JSON, nesting as deep as `serde_json` refuses, a number
//! it cannot read as `serde_json` would) is handed back to that path, which decides and
//! words the error.

use std::cell::RefCell;

use serde_json::{Map, Number, Value};
use simd_json::{Buffers, Node, StaticNode, Tape};

/// `serde_json` refuses the 128th nested container; the tape refuses anything deeper
/// than this, so an input it accepts is never one `serde_json` would refuse.
const MAX_DEPTH: usize = 127;

/// Inputs up to this size reuse the thread's buffers; a larger one gets its own, so a
/// thread does not keep megabytes alive after one large input.
const REUSE_LIMIT: usize = 64 * 1024;

/// The padded copy of the input (the tape parser writes unescaped strings into it), the
/// parser's working buffers and the tape itself, kept between calls to save allocations.
struct Scratch {
    input: Vec<u8>,
    buffers: Buffers,
    tape: Tape<'static>,
    /// The key positions of one object, while looking for a repeated key.
    keys: Vec<usize>,
}

impl Scratch {
    fn new(len: usize) -> Scratch {
        Scratch {
            input: Vec::with_capacity(len + simd_json::INPUT_PADDING),
            buffers: Buffers::with_max_depth(len, MAX_DEPTH),
            tape: Tape(Vec::new()),
            keys: Vec::new(),
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new(0));
}

/// `f` run on the tape of `bytes` when they hold an input document (a JSON object giving
/// no key twice in any of its objects), or
/// `None` when the `serde_json` path must decide, and word the error. The tape borrows
/// the thread's buffers for the length of `f`; a call made from inside `f` (a host
/// function evaluating bytes itself) scans into buffers of its own.
pub(crate) fn with_input_tape<R>(bytes: &[u8], f: impl FnOnce(&Tape<'_>) -> R) -> Option<R> {
    with_scratch(bytes, true, f)
}

/// `f` run on the tape of any JSON document `bytes` hold (see [`with_input_tape`]).
#[cfg(test)]
pub(crate) fn with_tape<R>(bytes: &[u8], f: impl FnOnce(&Tape<'_>) -> R) -> Option<R> {
    with_scratch(bytes, false, f)
}

/// `f` on the tape of `bytes`, on the thread's buffers when free; `input`: declined unless
/// the tape holds an input document.
fn with_scratch<R>(bytes: &[u8], input: bool, f: impl FnOnce(&Tape<'_>) -> R) -> Option<R> {
    if bytes.len() > REUSE_LIMIT {
        return scan(bytes, &mut Scratch::new(bytes.len()), input, f);
    }
    let mut f = Some(f);
    let mut run = |scratch: &mut Scratch| scan(bytes, scratch, input, f.take()?);
    SCRATCH
        .try_with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => run(&mut scratch),
            Err(_) => run(&mut Scratch::new(bytes.len())),
        })
        .unwrap_or_else(|_| run(&mut Scratch::new(bytes.len())))
}

fn scan<R>(
    bytes: &[u8],
    scratch: &mut Scratch,
    input: bool,
    f: impl FnOnce(&Tape<'_>) -> R,
) -> Option<R> {
    scratch.input.clear();
    scratch.input.extend_from_slice(bytes);
    scratch
        .input
        .resize(bytes.len() + simd_json::INPUT_PADDING, b' ');
    let mut tape = std::mem::replace(&mut scratch.tape, Tape(Vec::new())).reset();
    let result = match simd_json::fill_tape_padded(
        &mut scratch.input,
        bytes.len(),
        &mut scratch.buffers,
        &mut tape,
    ) {
        Ok(()) if !input || is_input(&tape.0, &mut scratch.keys) => Some(f(&tape)),
        _ => None,
    };
    scratch.tape = tape.reset();
    result
}

/// Objects with at most this many keys are checked key by key through a 64-bit mask of
/// fingerprints; larger ones are sorted.
const FEW_KEYS: usize = 16;

/// Whether a tape holds an input document: a JSON object in which no object, at any depth,
/// gives a key twice. One look at every node (inputs are small and their objects smaller);
/// `keys` is reused space for the key positions of one object.
fn is_input(nodes: &[Node<'_>], keys: &mut Vec<usize>) -> bool {
    matches!(nodes.first(), Some(Node::Object { .. }))
        && nodes.iter().enumerate().all(|(at, node)| match *node {
            Node::Object { len, .. } if len > 1 => keys_unique(nodes, at, keys),
            _ => true,
        })
}

/// Whether the object at node `at` gives each of its keys once (keys are compared
/// unescaped, as the tape holds them). Every input pays for this, so each key sets one
/// bit of a 64-bit mask from a cheap fingerprint (its length and last byte): keys whose
/// bits never meet are distinct, and a key is compared whole with the earlier ones only
/// when its bit is already set. An object of more than [`FEW_KEYS`] keys is sorted
/// instead, so a hostile object of many keys costs `k log k`, not `k²`.
fn keys_unique(nodes: &[Node<'_>], at: usize, keys: &mut Vec<usize>) -> bool {
    let Some(Node::Object { len, .. }) = nodes.get(at) else {
        return true;
    };
    if *len > FEW_KEYS {
        return keys_unique_sorted(nodes, at, *len, keys);
    }
    let first = at.saturating_add(1);
    let mut seen = 0u64;
    let mut key = first;
    for index in 0..*len {
        let text = key_text(nodes, key);
        let bit = 1u64 << (text.map_or(0, fingerprint) & 63);
        // Bits meet: compare this key whole with the earlier keys of the same bit.
        if seen & bit != 0 && repeats(nodes, first, index, text) {
            return false;
        }
        seen |= bit;
        key = past(nodes, key.saturating_add(1));
    }
    true
}

/// Whether one of the first `count` keys of the object whose first key is at `first`
/// is `text`.
#[cold]
fn repeats(nodes: &[Node<'_>], first: usize, count: usize, text: Option<&str>) -> bool {
    let mut key = first;
    for _ in 0..count {
        if key_text(nodes, key) == text {
            return true;
        }
        key = past(nodes, key.saturating_add(1));
    }
    false
}

/// [`keys_unique`] for an object of more than [`FEW_KEYS`] keys: sorted, then neighbours
/// compared (bits would meet too often to compare key by key).
fn keys_unique_sorted(nodes: &[Node<'_>], at: usize, len: usize, keys: &mut Vec<usize>) -> bool {
    keys.clear();
    let mut key = at.saturating_add(1);
    for _ in 0..len {
        keys.push(key);
        key = past(nodes, key.saturating_add(1));
    }
    keys.sort_unstable_by_key(|key| key_text(nodes, *key));
    keys.windows(2).all(|pair| match pair {
        [a, b] => key_text(nodes, *a) != key_text(nodes, *b),
        _ => true,
    })
}

#[inline]
fn key_text<'i>(nodes: &[Node<'i>], at: usize) -> Option<&'i str> {
    match nodes.get(at) {
        Some(Node::String(text)) => Some(text),
        _ => None,
    }
}

/// A few bits that differ between most distinct keys of one object: its length and last
/// byte (`userId` / `userRole`, `lat` / `lng`). Two keys that share them are compared whole.
#[inline]
fn fingerprint(text: &str) -> u32 {
    let bytes = text.as_bytes();
    let last = bytes.last().copied().unwrap_or(0);
    (bytes.len() as u32).wrapping_mul(5) ^ u32::from(last)
}

/// The node just past the value at `at`.
fn past(nodes: &[Node<'_>], at: usize) -> usize {
    match nodes.get(at) {
        Some(Node::Object { count, .. } | Node::Array { count, .. }) => {
            at.saturating_add(1).saturating_add(*count)
        }
        _ => at.saturating_add(1),
    }
}

/// The value at node `at` built whole, as `serde_json` builds it (`None` only for a tape
/// that does not hold a value there).
pub(crate) fn build(nodes: &[Node<'_>], at: usize) -> Option<Value> {
    Builder { nodes, at }.whole()
}

/// Reads the tape from front to back; `at` is the next node.
struct Builder<'t, 'i> {
    nodes: &'t [Node<'i>],
    at: usize,
}

impl<'i> Builder<'_, 'i> {
    fn next(&mut self) -> Option<Node<'i>> {
        let node = *self.nodes.get(self.at)?;
        self.at += 1;
        Some(node)
    }

    fn whole(&mut self) -> Option<Value> {
        Some(match self.next()? {
            Node::String(s) => Value::String(s.to_owned()),
            Node::Static(node) => scalar(node)?,
            Node::Array { len, .. } => {
                let mut items = Vec::with_capacity(len);
                for _ in 0..len {
                    items.push(self.whole()?);
                }
                Value::Array(items)
            }
            Node::Object { len, .. } => {
                let mut map = Map::new();
                for _ in 0..len {
                    let Node::String(key) = self.next()? else {
                        return None;
                    };
                    let value = self.whole()?;
                    map.insert(key.to_owned(), value);
                }
                Value::Object(map)
            }
        })
    }
}

/// A scalar as `serde_json` reads it.
pub(crate) fn scalar(node: StaticNode) -> Option<Value> {
    Some(match node {
        StaticNode::Null => Value::Null,
        StaticNode::Bool(b) => Value::Bool(b),
        // Only `-0` gives a signed zero on the tape; serde_json reads it as the float -0.0.
        StaticNode::I64(0) => Value::Number(Number::from_f64(-0.0)?),
        StaticNode::I64(i) => Value::Number(i.into()),
        StaticNode::U64(u) => Value::Number(u.into()),
        StaticNode::F64(f) => Value::Number(Number::from_f64(f)?),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use serde_json::Value;

    /// The document as the tape path builds it whole, or `None` when it declines.
    fn tape_value(bytes: &[u8]) -> Option<Value> {
        super::with_tape(bytes, |tape| super::build(&tape.0, 0)).flatten()
    }

    /// The tape path either declines or builds exactly what `serde_json` builds (compared
    /// as text, so `1`, `1.0` and `-0.0` are all told apart).
    fn agrees(bytes: &[u8]) -> Result<(), TestCaseError> {
        let serde = serde_json::from_slice::<Value>(bytes);
        if let Some(fast) = tape_value(bytes) {
            let serde = serde.map_err(|e| {
                TestCaseError::fail(format!(
                    "tape accepted what serde_json refuses ({e}): {:?}",
                    String::from_utf8_lossy(bytes)
                ))
            })?;
            prop_assert_eq!(
                serde_json::to_string(&fast).unwrap(),
                serde_json::to_string(&serde).unwrap(),
                "input {:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        Ok(())
    }

    fn accepted_and_agrees(bytes: &[u8]) {
        assert!(
            tape_value(bytes).is_some(),
            "declined {:?}",
            String::from_utf8_lossy(bytes)
        );
        agrees(bytes).unwrap();
    }

    /// The `serde_json` fallback is for errors: every valid recorded request and example
    /// the project ships reads from the tape (the recorded sample holds invalid lines
    /// too, on purpose: those must be declined).
    #[test]
    fn the_tape_reads_every_shipped_input() {
        let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/examples");
        let mut seen = 0;
        for entry in std::fs::read_dir(examples).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read(&path).unwrap();
            match path.extension().and_then(|e| e.to_str()) {
                Some("json") => accepted_and_agrees(&text),
                Some("jsonl") => text
                    .split(|&b| b == b'\n')
                    .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
                    .for_each(|line| {
                        if serde_json::from_slice::<Value>(line).is_ok() {
                            accepted_and_agrees(line);
                        } else {
                            agrees(line).unwrap();
                        }
                    }),
                _ => continue,
            }
            seen += 1;
        }
        assert!(seen >= 2, "no examples found in {examples}");
    }

    #[test]
    fn numbers_read_as_serde_json_reads_them() {
        for text in [
            "0",
            "-0",
            "-0.0",
            "0.0",
            "1",
            "-1",
            "1.0",
            "1e2",
            "1E+2",
            "-1e-2",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "0.1",
            "2.238418053756088e-18",
            "1.7976931348623157e308",
            "5e-324",
            "123456789012345678901234567890",
            "0.30000000000000004",
            "3.141592653589793238462643383279",
            "1234567890.1234567890123456789",
            "0.000000000000000000000000000001234567890123456789",
            "9007199254740993",
            "9007199254740993.0",
            "1e-400",
            "0e999",
        ] {
            // Counting significant digits depends on the offset in the buffer: try many.
            for pad in 0..70 {
                let json = format!("[{}{text}]", " ".repeat(pad));
                agrees(json.as_bytes()).unwrap();
            }
            agrees(text.as_bytes()).unwrap();
        }
        // The common forms take the fast path (none is declined for nothing).
        accepted_and_agrees(b"[0,-0,1.5,-2,1e2,18446744073709551616,-9223372036854775809]");
    }

    #[test]
    fn strings_keys_and_duplicates_read_as_serde_json_reads_them() {
        accepted_and_agrees(br#"{"a":1,"a":2}"#);
        accepted_and_agrees(br#"{"a":{"x":1},"a":[2]}"#);
        accepted_and_agrees(
            r#"{"\u00e9t\u00e9":"caf\u00e9 \ud83d\ude00 \" \\ \/ \b\f\n\r\t","é":"ü","":""}"#
                .as_bytes(),
        );
        accepted_and_agrees(b" \t\r\n{ \"k\" : [ true , false , null ] } \n");
        accepted_and_agrees(b"\"top\"");
        accepted_and_agrees(b"12");
    }

    #[test]
    fn only_an_object_is_read_as_an_input() {
        for text in ["42", "-0", "[1]", "[]", "\"x\"", "null", "true"] {
            assert!(
                super::with_input_tape(text.as_bytes(), |_| ()).is_none(),
                "{text}"
            );
        }
        for text in ["{}", " {\"event\":{\"type\":\"x\"}} "] {
            assert!(
                super::with_input_tape(text.as_bytes(), |_| ()).is_some(),
                "{text}"
            );
        }
    }

    #[test]
    fn invalid_json_is_left_to_serde_json() {
        for invalid in [
            &br#"{"a":"\ud800"}"#[..],
            br#"{"a":"\udc00x"}"#,
            br#"{"a":"\ud800\u0041"}"#,
            br#"{"a":"\x"}"#,
            b"{\"a\":\"\x01\"}",
            b"{\"a\":\"\xff\"}",
            b"{\"\xc3\":1}",
            br#"{"a":1,}"#,
            br#"[1,]"#,
            br#"{"a" 1}"#,
            br#"{"a":1"#,
            br#"{1:1}"#,
            b"",
            b"   ",
            b"{} x",
            b"{}{}",
            b"01",
            b"1.",
            b"-",
            b"+1",
            b".5",
            b"1e",
            b"NaN",
            b"nul",
            b"tru",
            b"[1e400]",
            b"[-1e400]",
            b"\xef\xbb\xbf{}",
            b"{}\x00",
        ] {
            assert!(
                tape_value(invalid).is_none(),
                "accepted {:?}",
                String::from_utf8_lossy(invalid)
            );
            assert!(serde_json::from_slice::<Value>(invalid).is_err());
        }
    }

    #[test]
    fn nesting_as_deep_as_serde_json_refuses_is_left_to_it() {
        for depth in [1, 126, 127, 128, 129, 200] {
            let json = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            agrees(json.as_bytes()).unwrap();
            let json = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
            agrees(json.as_bytes()).unwrap();
        }
        // serde_json takes 127 levels, and so does the tape.
        let json = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert!(tape_value(json.as_bytes()).is_some());
    }

    #[test]
    fn a_large_input_parses_on_its_own_buffers() {
        let pad = "y".repeat(super::REUSE_LIMIT);
        let big = format!(r#"{{"event":{{"type":"x","pad":"{pad}"}}}}"#);
        agrees(big.as_bytes()).unwrap();
        assert!(tape_value(big.as_bytes()).is_some());
    }

    /// JSON text with the number, string and whitespace forms both parsers must agree on.
    fn json_text() -> impl Strategy<Value = String> {
        let number = prop_oneof![
            "-?(0|[1-9][0-9]{0,25})(\\.[0-9]{1,25})?([eE][-+]?[0-9]{1,3})?",
            any::<f64>().prop_map(|f| f.to_string()),
            any::<f64>().prop_map(|f| format!("{f:e}")),
            any::<i64>().prop_map(|i| i.to_string()),
            any::<u64>().prop_map(|u| u.to_string()),
        ];
        let string = prop_oneof![
            "[a-c]{0,3}",
            r#"([a-zé😀 ]|\\[nt\\"/bfr]|\\u[0-9a-fA-F]{4}|\\ud83d\\ude00)*"#,
        ]
        .prop_map(|s| format!("\"{s}\""));
        let ws = "[ \t\r\n]{0,2}";
        let leaf = prop_oneof![
            number,
            string.clone(),
            Just("true".to_owned()),
            Just("false".to_owned()),
            Just("null".to_owned()),
        ];
        leaf.prop_recursive(4, 40, 6, move |inner| {
            prop_oneof![
                prop::collection::vec((inner.clone(), ws), 0..5).prop_map(|items| {
                    let items: Vec<String> = items
                        .into_iter()
                        .map(|(v, w)| format!("{w}{v}{w}"))
                        .collect();
                    format!("[{}]", items.join(","))
                }),
                prop::collection::vec((string.clone(), inner, ws), 0..5).prop_map(|entries| {
                    let entries: Vec<String> = entries
                        .into_iter()
                        .map(|(k, v, w)| format!("{w}{k}{w}:{w}{v}"))
                        .collect();
                    format!("{{{}}}", entries.join(","))
                }),
            ]
        })
    }

    /// The tape reads as an input exactly what `input::parse` accepts (a number the tape
    /// declines aside): an object giving no key twice in any object inside it.
    fn input_agrees(bytes: &[u8]) -> Result<(), TestCaseError> {
        let text = String::from_utf8_lossy(bytes);
        let strict = crate::input::parse(bytes);
        match super::with_input_tape(bytes, |tape| super::build(&tape.0, 0)).flatten() {
            Some(fast) => {
                let strict = strict.map_err(|e| {
                    TestCaseError::fail(format!("tape read what parse refuses ({e}): {text:?}"))
                })?;
                prop_assert_eq!(fast.to_string(), strict.to_string());
            }
            None => prop_assert!(
                strict.is_err() || tape_value(bytes).is_none(),
                "tape declined the input {:?}",
                text
            ),
        }
        Ok(())
    }

    #[test]
    fn a_key_given_twice_anywhere_is_no_input() {
        for text in [
            r#"{"a":1,"a":1}"#,
            r#"{"a":1,"\u0061":1}"#,
            r#"{"x":[{"b":{}},{"b":[],"c":null,"b":[]}]}"#,
            r#"{"x":{"y":{"z":{"":0,"":0}}}}"#,
            r#"{"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9,"1":1}"#,
            r#"{"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9,"9":9}"#,
        ] {
            assert!(
                super::with_input_tape(text.as_bytes(), |_| ()).is_none(),
                "{text}"
            );
            input_agrees(text.as_bytes()).unwrap();
        }
        for text in [
            r#"{"a":{"a":{"a":1}},"b":[{"a":1},{"a":1}]}"#,
            r#"{"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9,"10":{"1":1}}"#,
        ] {
            assert!(
                super::with_input_tape(text.as_bytes(), |_| ()).is_some(),
                "{text}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn the_tape_builds_what_serde_json_builds(text in json_text()) {
            agrees(text.as_bytes())?;
        }

        #[test]
        fn the_tape_reads_as_inputs_what_parse_accepts(text in json_text()) {
            input_agrees(format!(r#"{{"e":{text}}}"#).as_bytes())?;
        }

        #[test]
        fn objects_with_many_keys_are_read_as_inputs_when_parse_accepts_them(
            keys in prop::collection::vec("[a-e]{1,2}", 0..40),
        ) {
            let entries: Vec<String> = keys
                .iter()
                .enumerate()
                .map(|(i, key)| format!(r#""{key}":{i}"#))
                .collect();
            input_agrees(format!("{{{}}}", entries.join(",")).as_bytes())?;
            input_agrees(format!(r#"{{"x":[1,{{{}}}]}}"#, entries.join(",")).as_bytes())?;
        }

        #[test]
        fn damaged_json_is_refused_as_serde_json_refuses_it(
            text in json_text(),
            at in any::<prop::sample::Index>(),
            byte in prop_oneof![
                Just(b'"'), Just(b'\\'), Just(b','), Just(b':'), Just(b'}'), Just(b']'),
                Just(b'0'), Just(b'-'), Just(b'.'), Just(b'e'), any::<u8>(),
            ],
            cut in any::<bool>(),
        ) {
            let mut bytes = text.into_bytes();
            if !bytes.is_empty() {
                let at = at.index(bytes.len());
                if cut {
                    bytes.remove(at);
                } else {
                    bytes.insert(at, byte);
                }
            }
            agrees(&bytes)?;
        }
    }
}
