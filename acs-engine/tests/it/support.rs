//! Helpers shared by the test modules.

/// One rule, as a line of a rules file: low severity, no actions, not audited.
pub fn rule_line(id: &str, priority: i64, condition: &str) -> String {
    format!(
        "- {{ id: {id}, priority: {priority}, severity: low, description: d, audit: false, condition: \"{condition}\", action: [] }}\n"
    )
}
