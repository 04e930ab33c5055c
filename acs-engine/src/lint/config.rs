//! `acs.toml`: what a project tells the linter about its host — the functions it registers
//! (with their arity), the action names it handles, thresholds and accepted findings —
//! and where a project's `acs.toml` is found for a rules path ([`find_config`]). The
//! event schemas it names are read with it (`schema.rs` reads one).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::actions::{builtin_shape, ActionShape};
use crate::diagnostic::Diagnostic;
use crate::source::{SourceFile, SourceMap, Span};

/// The name of the project config looked for beside the rules ([`find_config`]).
pub const CONFIG_FILE_NAME: &str = "acs.toml";

/// Complexity (condition nodes) above which ACS441 warns, unless the config says otherwise.
pub const DEFAULT_MAX_COMPLEXITY: usize = 40;

/// The actions every ACS host understands.
pub const KNOWN_ACTIONS: [&str; 12] = [
    "freezeShipment",
    "blockEntity",
    "flagWatchlist",
    "emitEvent",
    "requireManualReview",
    "redactField",
    "rejectRequest",
    "throttle",
    "createTicket",
    "suspendAccount",
    "notifyRole",
    "proceed",
];

/// Linter settings, usually read from `acs.toml`.
///
/// ```toml
/// [functions]                       # the host's functions and their arity
/// "db.count.trucksByOperator" = 1
///
/// [actions]
/// known = ["legacyHook"]            # action names beyond the built-in twelve, parameters unchecked
///
/// [actions.quarantineLoad]          # a host action with its parameters
/// required = { loadId = "string" }
/// optional = { note = "string" }
///
/// [events."bid.create"]            # the event types and their fields
/// fields = ["bid.amount", "bid.id"]
///
/// [events."booking.create"]        # or a JSON Schema of the event object, beside this file
/// schema = "schemas/booking.create.schema.json"
///
/// [fields]                          # the fields of the other roots
/// ctx = ["userId", "userRole"]
/// system = ["config.otpRetryLimit"]
/// db = ["indexes.pod_hashes"]
///
/// [lint]
/// max_complexity = 40
/// deny_warnings = false
///
/// [lint.allow]                      # findings accepted on purpose, per rule id ("*": all)
/// RF03_SHIPMENT_COMPLETE_WITHOUT_OTP = ["ACS430"]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LintConfig {
    /// Host functions by dotted name, with their number of arguments. Present (even
    /// empty) means the host's functions are declared, so unknown names are errors.
    pub functions: Option<BTreeMap<String, usize>>,
    /// Extra action names.
    pub actions: ActionsConfig,
    /// The event types the host sends, with their fields (`[events."bid.create"]`).
    /// Present means the list is complete: another type, or a field no gated event has,
    /// is an error.
    pub events: Option<BTreeMap<String, EventConfig>>,
    /// The fields of `ctx`, `system` and `db` (`[fields]`): a root listed there is
    /// complete, so a path into it that is not declared is an error (ACS417).
    pub fields: RootFields,
    /// Thresholds and accepted findings.
    pub lint: LintSettings,
}

/// `[events."TYPE"]`
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventConfig {
    /// The event's fields as rules write them, below `event` (`bid.amount`). A field's
    /// own inside is not checked: `gps` declares `gps.lat` too. Reading the config adds
    /// the fields `schema` declares.
    pub fields: Vec<String>,
    /// A JSON Schema of the event object, relative to the directory of the `acs.toml`
    /// that names it ([`LintConfig::read`]). Its properties are declared as fields, nested
    /// objects as dotted paths; an object that allows properties it does not name
    /// (`additionalProperties` not `false`, `patternProperties`) is declared whole, its
    /// inside unchecked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<PathBuf>,
    /// The event object's schema allows fields it does not name, so the event's fields
    /// are not checked (ACS416). Set when the config is read, never written in it.
    #[serde(skip)]
    pub open: bool,
}

/// `[fields]`: the fields of the input's other roots, as rules write them below the root
/// (`userId` for `ctx.userId`). A root left out is not checked.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RootFields {
    /// Fields of `ctx`.
    pub ctx: Option<Vec<String>>,
    /// Fields of `system`.
    pub system: Option<Vec<String>>,
    /// Fields of `db`.
    pub db: Option<Vec<String>>,
}

impl RootFields {
    /// The declared fields of `root` (`ctx`, `system`, `db`), when it is declared.
    pub fn of(&self, root: &str) -> Option<&[String]> {
        match root {
            "ctx" => self.ctx.as_deref(),
            "system" => self.system.as_deref(),
            "db" => self.db.as_deref(),
            _ => None,
        }
    }
}

/// `[actions]`
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ActionsConfig {
    /// Action names the host handles beyond [`KNOWN_ACTIONS`], parameters unchecked.
    pub known: Vec<String>,
    /// `[actions.NAME]` tables: the host's actions with their parameters (a built-in's
    /// name replaces its built-in parameters). Any key but `known` is read as one, so a
    /// misspelt `known` is still an error: its list is not a table.
    #[serde(flatten)]
    pub declared: BTreeMap<String, ActionShape>,
}

/// `[lint]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LintSettings {
    /// ACS441 warns above this many condition nodes.
    pub max_complexity: usize,
    /// Treat warnings as errors (the CLI's `--deny-warnings` also sets it).
    pub deny_warnings: bool,
    /// Rule id (or `*`) -> finding codes accepted for it.
    pub allow: BTreeMap<String, Vec<String>>,
}

impl Default for LintSettings {
    fn default() -> Self {
        LintSettings {
            max_complexity: DEFAULT_MAX_COMPLEXITY,
            deny_warnings: false,
            allow: BTreeMap::new(),
        }
    }
}

/// The largest `acs.toml` read, in bytes: a project config is a few kilobytes.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

impl LintConfig {
    /// Read and parse the `acs.toml` at `path`: a regular file of at most
    /// [`MAX_CONFIG_BYTES`] (a FIFO or device is refused unopened, the read stops at the
    /// limit), then the event schemas it names, relative to its directory (each at most
    /// [`MAX_SCHEMA_BYTES`](super::MAX_SCHEMA_BYTES)). Errors are ACS601 diagnostics
    /// naming the file at fault.
    pub fn read(path: &std::path::Path) -> Result<LintConfig, Box<Diagnostic>> {
        let name = path.display().to_string();
        let unreadable = |why: String| {
            Box::new(
                Diagnostic::error("ACS601", format!("cannot read `{name}`: {why}")).in_file(&name),
            )
        };
        let bytes = crate::limits::read_file(path, MAX_CONFIG_BYTES)
            .map_err(|e| unreadable(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            unreadable(format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()))
        })?;
        let dir = path.parent().unwrap_or(Path::new(""));
        LintConfig::parse(&name, &text)?.read_schemas(&name, Some(dir))
    }

    /// Parse `acs.toml` text; `name` is used in the diagnostic (ACS601, with line and
    /// column) when it is not valid. The text has no directory, so an event `schema` must
    /// be an absolute path here (a relative one is an ACS601 error): [`LintConfig::read`]
    /// resolves them against the file's directory.
    pub fn from_toml(name: &str, text: &str) -> Result<LintConfig, Box<Diagnostic>> {
        LintConfig::parse(name, text)?.read_schemas(name, None)
    }

    fn parse(name: &str, text: &str) -> Result<LintConfig, Box<Diagnostic>> {
        toml::from_str(text).map_err(|error| {
            let mut sources = SourceMap::default();
            let file = sources.add(SourceFile::new(name, text));
            let message = error.message().trim_end_matches('\n').to_owned();
            let diagnostic = Diagnostic::error("ACS601", format!("invalid config: {message}"));
            Box::new(match error.span() {
                Some(range) => diagnostic.at(
                    &sources,
                    Span::new(file, range.start, range.end.max(range.start)),
                ),
                None => diagnostic.in_file(name),
            })
        })
    }

    /// Add the fields of each event's `schema`, read relative to `dir` (the directory of
    /// the config `name`), to its `fields`.
    fn read_schemas(
        mut self,
        name: &str,
        dir: Option<&Path>,
    ) -> Result<LintConfig, Box<Diagnostic>> {
        for (event_type, event) in self.events.iter_mut().flatten() {
            let Some(schema) = &event.schema else {
                continue;
            };
            let path = match dir {
                Some(dir) => dir.join(schema),
                None if schema.is_absolute() => schema.clone(),
                None => {
                    let message = format!(
                        "the schema of `{event_type}`, `{}`, is relative to a config whose directory is unknown",
                        schema.display()
                    );
                    return Err(Box::new(
                        Diagnostic::error("ACS601", message)
                            .in_file(name)
                            .with_help("read the config from its file, or give an absolute path"),
                    ));
                }
            };
            let declared = super::schema::read(&path).map_err(|diagnostic| {
                Box::new(
                    (*diagnostic).with_help(format!("the schema of `{event_type}` in `{name}`")),
                )
            })?;
            let mut known: BTreeSet<String> = event.fields.iter().cloned().collect();
            event.fields.extend(
                declared
                    .fields
                    .into_iter()
                    .filter(|f| known.insert(f.clone())),
            );
            event.open = declared.open;
        }
        Ok(self)
    }

    /// Whether the finding `code` is accepted for `rule_id`.
    pub fn allows(&self, rule_id: Option<&str>, code: &str) -> bool {
        let listed = |key: &str| {
            self.lint
                .allow
                .get(key)
                .is_some_and(|codes| codes.iter().any(|c| c == code))
        };
        listed("*") || rule_id.is_some_and(listed)
    }

    /// Every action name the host handles.
    pub fn action_names(&self) -> Vec<&str> {
        KNOWN_ACTIONS
            .iter()
            .copied()
            .chain(self.actions.known.iter().map(String::as_str))
            .chain(self.actions.declared.keys().map(String::as_str))
            .collect()
    }

    /// The parameters of action `name`, when they are declared (here or built in).
    pub fn action_shape(&self, name: &str) -> Option<ActionShape> {
        match self.actions.declared.get(name) {
            Some(shape) => Some(shape.clone()),
            None if self.actions.known.iter().any(|k| k == name) => None,
            None => builtin_shape(name),
        }
    }
}

/// The project config that applies to the rules at `rules` (a rules file or a bundle
/// directory), or `None` when there is none.
///
/// The rule: the first `acs.toml` found in the directory of `rules` (in `rules` itself
/// when it is a directory), then in each directory above it up to the filesystem root.
/// A relative `rules` is taken from the current working directory. The path returned is
/// absolute; whether the file parses is [`LintConfig::from_toml`]'s business. Every host
/// (the CLI, the bindings, CI) calls this, so all of them lint with the same config.
pub fn find_config(rules: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(rules).ok()?;
    let start = if absolute.is_dir() {
        absolute.as_path()
    } else {
        absolute.parent()?
    };
    start
        .ancestors()
        .map(|dir| dir.join(CONFIG_FILE_NAME))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `root/acs.toml`, `root/project/rules/a.yaml` and `root/project/rules/nested/`.
    fn project() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let rules = root.path().join("project/rules/nested");
        std::fs::create_dir_all(&rules).unwrap();
        std::fs::write(root.path().join(CONFIG_FILE_NAME), "").unwrap();
        std::fs::write(root.path().join("project/rules/a.yaml"), "[]\n").unwrap();
        root
    }

    #[test]
    fn the_nearest_config_at_or_above_the_rules_wins() {
        let root = project();
        let top = root.path().join(CONFIG_FILE_NAME);
        let file = root.path().join("project/rules/a.yaml");
        let nested = root.path().join("project/rules/nested");
        assert_eq!(find_config(&file), Some(top.clone()));
        assert_eq!(find_config(&nested), Some(top));

        let closer = root.path().join("project/rules").join(CONFIG_FILE_NAME);
        std::fs::write(&closer, "").unwrap();
        assert_eq!(find_config(&file), Some(closer.clone()));
        assert_eq!(find_config(&nested), Some(closer.clone()));
        // A directory's own config counts; a file's directory is where its search starts.
        let own = nested.join(CONFIG_FILE_NAME);
        std::fs::write(&own, "").unwrap();
        assert_eq!(find_config(&nested), Some(own));
        assert_eq!(find_config(&file), Some(closer));
    }

    #[test]
    fn an_event_schema_is_read_beside_its_config_and_united_with_fields() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("schemas")).unwrap();
        std::fs::write(
            root.path().join("schemas/bid.json"),
            r#"{"additionalProperties": false, "properties": {"bid": {"type": "object",
                "additionalProperties": false, "properties": {"amount": {}, "id": {}}}}}"#,
        )
        .unwrap();
        std::fs::write(root.path().join("schemas/open.json"), "{}").unwrap();
        let config = root.path().join(CONFIG_FILE_NAME);
        let text = "[events.\"bid.create\"]\nfields = [\"bid.id\", \"gps\"]\nschema = \"schemas/bid.json\"\n\
                    [events.\"gps.ping\"]\nschema = \"schemas/open.json\"\n";
        std::fs::write(&config, text).unwrap();
        let events = LintConfig::read(&config).unwrap().events.unwrap();
        let bid = &events["bid.create"];
        assert_eq!(bid.fields, ["bid.id", "gps", "bid.amount"]);
        assert!(!bid.open);
        assert!(events["gps.ping"].open);

        // Text alone has no directory to resolve the path against.
        let error = LintConfig::from_toml("acs.toml", text).unwrap_err();
        assert_eq!(error.code, "ACS601");
        assert!(
            error.message.contains("`schemas/bid.json`"),
            "{}",
            error.message
        );
        let absolute = text.replace("schemas/", &format!("{}/schemas/", root.path().display()));
        assert_eq!(
            LintConfig::from_toml("acs.toml", &absolute)
                .unwrap()
                .events
                .unwrap()["bid.create"]
                .fields,
            bid.fields
        );
    }

    #[test]
    fn a_missing_schema_names_itself_and_the_event() {
        let root = tempfile::tempdir().unwrap();
        let config = root.path().join(CONFIG_FILE_NAME);
        std::fs::write(&config, "[events.a]\nschema = \"a.json\"\n").unwrap();
        let error = LintConfig::read(&config).unwrap_err();
        let schema = root.path().join("a.json").display().to_string();
        assert_eq!(error.location.unwrap().file, schema);
        assert!(
            error
                .message
                .starts_with(&format!("cannot read `{schema}`: ")),
            "{}",
            error.message
        );
        assert_eq!(
            error.help.unwrap(),
            format!("the schema of `a` in `{}`", config.display())
        );
    }

    #[test]
    fn a_directory_named_like_the_config_is_not_one() {
        let root = tempfile::tempdir().unwrap();
        let rules = root.path().join("rules");
        std::fs::create_dir_all(rules.join(CONFIG_FILE_NAME)).unwrap();
        let found = find_config(&rules);
        assert_ne!(found, Some(rules.join(CONFIG_FILE_NAME)));
    }

    #[test]
    fn a_rules_path_that_does_not_exist_still_searches_from_its_directory() {
        let root = project();
        let missing = root.path().join("project/rules/missing.yaml");
        assert_eq!(
            find_config(&missing),
            Some(root.path().join(CONFIG_FILE_NAME))
        );
    }
}
