//! Helpers shared by the test modules.

/// One rule, as a line of a rules file: low severity, no actions, not audited. The
/// condition is quoted as a JSON string, which YAML reads back unchanged whatever quotes
/// or backslashes it holds.
pub fn rule_line(id: &str, priority: i64, condition: &str) -> String {
    let condition = serde_json::Value::from(condition);
    format!(
        "- {{ id: {id}, priority: {priority}, severity: low, description: d, audit: false, condition: {condition}, action: [] }}\n"
    )
}
