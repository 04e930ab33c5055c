//! Every diagnostic code ACS reports, with its default severity and what it means: the
//! table behind SARIF rule descriptions; `docs/LINT.md` explains each (a test keeps the two
//! in step).

use crate::diagnostic::Severity;

/// One diagnostic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    /// `ACS101`, ...
    pub code: &'static str,
    /// The severity it is reported with (ACS401 becomes an error when the host's
    /// functions are declared).
    pub severity: Severity,
    /// One line: what the code means.
    pub summary: &'static str,
}

const fn code(code: &'static str, severity: Severity, summary: &'static str) -> Code {
    Code {
        code,
        severity,
        summary,
    }
}

use Severity::{Error, Warning};

/// All codes, in order.
pub const CODES: &[Code] = &[
    code("ACS101", Error, "invalid condition syntax"),
    code(
        "ACS102",
        Error,
        "invalid expression inside a `{{...}}` template",
    ),
    code("ACS200", Error, "a rules file cannot be read"),
    code(
        "ACS201",
        Error,
        "invalid YAML, or YAML the rules format does not allow",
    ),
    code("ACS202", Error, "duplicate key in a mapping"),
    code("ACS203", Error, "the rules file holds no rules"),
    code("ACS204", Error, "unknown key"),
    code("ACS205", Error, "a key has a value of the wrong type"),
    code("ACS206", Error, "unknown severity"),
    code("ACS207", Error, "an action is not a single-key mapping"),
    code("ACS208", Error, "a required key is missing"),
    code("ACS209", Error, "duplicate rule id"),
    code("ACS210", Error, "unknown rule mode"),
    code("ACS211", Error, "an empty rule id"),
    code("ACS212", Error, "an invalid velocity counter declaration"),
    code("ACS213", Error, "duplicate velocity counter name"),
    code("ACS301", Error, "unclosed `{{` in a template"),
    code(
        "ACS302",
        Error,
        "a built-in function called with the wrong number of arguments",
    ),
    code("ACS303", Error, "invalid regular expression literal"),
    code(
        "ACS304",
        Error,
        "a velocity call names an undeclared counter or window, or a key that cannot be one",
    ),
    code(
        "ACS401",
        Warning,
        "unknown function (an error when acs.toml declares the host's functions)",
    ),
    code(
        "ACS402",
        Error,
        "a host function called with a number of arguments other than declared",
    ),
    code("ACS410", Error, "unknown action name"),
    code(
        "ACS411",
        Error,
        "a path whose root cannot exist (a misspelt `event`, `ctx`, `system` or `db`)",
    ),
    code(
        "ACS412",
        Error,
        "an action parameter the action does not take",
    ),
    code("ACS413", Error, "an action is missing a required parameter"),
    code(
        "ACS414",
        Error,
        "an action parameter whose value has the wrong type",
    ),
    code(
        "ACS415",
        Error,
        "an `event.type` that no event declared in acs.toml has",
    ),
    code(
        "ACS416",
        Error,
        "an event field that the rule's events, as declared in acs.toml, do not have",
    ),
    code(
        "ACS417",
        Error,
        "a field of `ctx`, `system` or `db` that acs.toml's [fields] does not declare",
    ),
    code("ACS420", Error, "the condition can never be true"),
    code("ACS421", Error, "the condition is always true"),
    code(
        "ACS422",
        Error,
        "a comparison between types that can never satisfy it",
    ),
    code(
        "ACS423",
        Error,
        "an operation that fails whenever it is evaluated (`1/0`, `x % 0`, `true + 1`)",
    ),
    code(
        "ACS430",
        Warning,
        "`!=` or `!` over a path that may be missing: a missing field makes it true",
    ),
    code(
        "ACS440",
        Warning,
        "no `event.type` gate: the rule runs on every event",
    ),
    code(
        "ACS441",
        Warning,
        "the condition is more complex than the configured threshold",
    ),
    code(
        "ACS442",
        Warning,
        "two rules with the same gate and the same condition",
    ),
    code("ACS500", Error, "a rule test file cannot be read"),
    code(
        "ACS501",
        Error,
        "a rule test file is not shaped as the format says",
    ),
    code("ACS502", Error, "unknown key in a rule test file"),
    code(
        "ACS503",
        Error,
        "a key of a rule test file has a value of the wrong type",
    ),
    code(
        "ACS504",
        Error,
        "a required key of a rule test file is missing or empty",
    ),
    code(
        "ACS505",
        Error,
        "a test's `input_file` cannot be read or is not JSON",
    ),
    code("ACS506", Error, "an invalid function stub table"),
    code(
        "ACS507",
        Error,
        "a rule test names a rule the bundle does not have",
    ),
    code(
        "ACS508",
        Error,
        "a rule test file's `rules:` or `input_file` is outside its bundle, or not a regular file",
    ),
    code(
        "ACS601",
        Error,
        "invalid acs.toml, or an event schema it names",
    ),
];

/// The entry for `code`, if it is one of ACS's.
pub fn describe(code: &str) -> Option<&'static Code> {
    CODES.iter().find(|c| c.code == code)
}

/// `docs/LINT.md`, the explanation of every code, as shipped with this build.
const LINT_DOCS: &str = include_str!("../../../docs/LINT.md");

/// The documentation of `code` (`acs lint-rules --explain ACS411`): its severity and what
/// it finds, from its row in `docs/LINT.md`, the one place codes are explained.
pub fn explain(code: &str) -> Option<String> {
    let entry = describe(code)?;
    let row = LINT_DOCS
        .lines()
        .find(|line| line.starts_with(&format!("| {} |", entry.code)))?;
    let mut cells = row.trim_matches('|').split(" | ").map(str::trim).skip(1);
    let severity = cells.next()?;
    let finding = cells.collect::<Vec<_>>().join(" | ");
    Some(format!("{} ({severity}): {finding}\n", entry.code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_explained() {
        for code in CODES {
            let text = explain(code.code).unwrap_or_default();
            assert!(text.starts_with(code.code), "{}: {text}", code.code);
        }
        assert!(explain("ACS999").is_none());
        assert!(explain("").is_none());
    }
}
