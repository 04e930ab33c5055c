//! Lint reports as SARIF 2.1.0 (the OASIS static-analysis format that CI code-scanning
//! views read).

use serde_json::{json, Value};

use super::codes::CODES;
use super::LintReport;
use crate::diagnostic::Severity;

pub(crate) fn to_sarif(reports: &[LintReport]) -> Value {
    let rules: Vec<Value> = CODES
        .iter()
        .map(|code| {
            json!({
                "id": code.code,
                "shortDescription": { "text": code.summary },
                "defaultConfiguration": { "level": level(code.severity) },
            })
        })
        .collect();
    let results: Vec<Value> = reports
        .iter()
        .flat_map(|report| &report.diagnostics)
        .map(|d| {
            let mut text = d.message.clone();
            if let Some(help) = &d.help {
                text.push_str("\nhelp: ");
                text.push_str(help);
            }
            let mut result = json!({
                "ruleId": d.code,
                "ruleIndex": CODES.iter().position(|c| c.code == d.code),
                "level": level(d.severity),
                "message": { "text": text },
            });
            if let (Some(location), Some(object)) = (&d.location, result.as_object_mut()) {
                let end_column = d
                    .excerpt
                    .as_ref()
                    .map_or(location.column + 1, |e| location.column + e.width);
                object.insert(
                    "locations".to_owned(),
                    json!([{
                        "physicalLocation": {
                            "artifactLocation": { "uri": location.file.replace('\\', "/") },
                            "region": {
                                "startLine": location.line,
                                "startColumn": location.column,
                                "endColumn": end_column,
                            }
                        }
                    }]),
                );
            }
            if let (Some(rule_id), Some(object)) = (&d.rule_id, result.as_object_mut()) {
                object.insert("properties".to_owned(), json!({ "acsRuleId": rule_id }));
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "acs lint-rules",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}
