//! Template rendering: arbitrary text as action parameters (as is, as an exact
//! `{{expr}}`, interpolated, nested in objects and arrays) in a rule that always matches,
//! against an arbitrary JSON document. The decision streamed from the template and its
//! holes serialises exactly like the one built on first read (`*action.params`).
//!
//! Input: the template text, a NUL byte, the JSON document (`{}` when there is no NUL).
#![no_main]

use acs_engine::{Decision, Engine};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// `text` as a YAML double-quoted scalar: printable ASCII as is, everything else escaped,
/// so any string reaches the template compiler unchanged.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            _ => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

fn rules(template: &str) -> String {
    let raw = quoted(template);
    let exact = quoted(&format!("{{{{{template}}}}}"));
    let text = quoted(&format!("<{{{{{template}}}}}>"));
    format!(
        r#"- id: T
  priority: 1
  severity: low
  description: fuzzed templates
  condition: "true"
  action:
    - rejectRequest: {{ code: {raw}, message: {text} }}
    - emitEvent: {{ zeta: {exact}, raw: {raw}, alpha: ["x", {text}, {{ k: {exact}, b: 2, a: [{raw}] }}], mid: 1 }}
    - createTicket: {{ refs: [{exact}, [{text}]] }}
  audit: false
"#
    )
}

fn raw_rules(template: &str) -> String {
    let raw = quoted(template);
    format!(
        r#"- id: T
  priority: 1
  severity: low
  description: fuzzed templates
  condition: "true"
  action:
    - emitEvent: {{ zeta: {raw}, alpha: ["x", {{ k: {raw}, b: 2 }}, [{raw}]], mid: 1 }}
  audit: false
"#
    )
}

fn streamed_then_built(decision: &Decision) -> (String, String) {
    let streamed = serde_json::to_string(decision).expect("a decision serialises");
    for rule in &decision.matched {
        for action in rule.actions() {
            let _: &Value = action.params;
        }
    }
    let built = serde_json::to_string(decision).expect("a decision serialises");
    (streamed, built)
}

fuzz_target!(|bytes: &[u8]| {
    let (template, document) = match bytes.iter().position(|&b| b == 0) {
        Some(at) => (&bytes[..at], &bytes[at + 1..]),
        None => (bytes, &b"{}"[..]),
    };
    let Ok(template) = std::str::from_utf8(template) else {
        return;
    };
    // When the wrapped forms do not compile (the text holds `}}`, say), the text as is
    // may still.
    let Some(engine) = [rules(template), raw_rules(template)]
        .iter()
        .find_map(|text| Engine::builder().load_str("template.yaml", text).ok())
    else {
        return;
    };
    let Ok(decision) = engine.evaluate_json(document) else {
        return;
    };
    let (streamed, built) = streamed_then_built(&decision);
    assert_eq!(streamed, built, "streamed and built params differ");
    if let Ok(back) = serde_json::from_str::<Decision>(&streamed) {
        assert_eq!(back, decision);
    }
});
