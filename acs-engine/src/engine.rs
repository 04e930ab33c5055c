//! The engine handle: reads rules files, builds a plan off to the side and swaps it in
//! atomically; evaluation takes one `ArcSwap::load` and no lock.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde_json::Value;

use crate::decision::Decision;
use crate::diagnostic::{render_all, Diagnostic, Severity};
use crate::eval;
use crate::functions::{Functions, HostFunction};
use crate::plan::{compile, Plan};
use crate::ruleset::load_rule_set;
use crate::source::{SourceFile, SourceMap};

/// Largest rules file accepted, in bytes.
pub const MAX_RULES_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// Where an engine's rules come from; kept so [`Engine::reload`] can read them again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesSource {
    /// A rules file, or a directory whose `*.yaml` / `*.yml` files form one rule set.
    Path(PathBuf),
    /// Rules given as text, with a name for diagnostics.
    Text {
        /// Shown in diagnostics in place of a file name.
        name: String,
        /// The YAML.
        text: String,
    },
}

/// Why rules could not be loaded. Nothing already loaded is affected.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or directory could not be read.
    #[error("cannot read `{}`: {message}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What the system said.
        message: String,
    },
    /// The rules have errors; every one found is listed.
    #[error("{}\n\n{}", render_all(diagnostics), summary(diagnostics))]
    Invalid {
        /// All diagnostics, errors and warnings.
        diagnostics: Vec<Diagnostic>,
    },
}

fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    format!(
        "could not load rules: {errors} error{}",
        if errors == 1 { "" } else { "s" }
    )
}

impl LoadError {
    /// The diagnostics behind the error (one synthesised for I/O errors).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            LoadError::Io { path, message } => {
                vec![
                    Diagnostic::error("ACS200", format!("cannot read rules: {message}"))
                        .in_file(&path.display().to_string()),
                ]
            }
            LoadError::Invalid { diagnostics } => diagnostics.clone(),
        }
    }
}

/// An input that is not valid JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The bytes do not parse as JSON (or nest deeper than 128 levels).
    #[error("invalid JSON input at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
}

/// Read rules from `source` and compile them against `functions`, without touching any
/// engine. Returns the plan (with its warnings in [`Plan::warnings`]) or every error.
pub fn load_plan(source: &RulesSource, functions: &Functions) -> Result<Plan, LoadError> {
    let sources = read_sources(source)?;
    let (rule_set, mut diagnostics) = load_rule_set(sources);
    // Compile even when loading failed, so compile errors of the rules that did load are
    // reported in the same pass.
    match compile(&rule_set, functions) {
        Ok(_) if diagnostics.iter().any(Diagnostic::is_error) => {
            Err(LoadError::Invalid { diagnostics })
        }
        Ok((mut plan, warnings)) => {
            diagnostics.extend(warnings);
            plan.warnings = diagnostics.into_boxed_slice();
            Ok(plan)
        }
        Err(errors) => {
            diagnostics.extend(errors);
            // Errors first; the sort is stable, so each group keeps file order.
            diagnostics.sort_by_key(|d| d.severity != Severity::Error);
            Err(LoadError::Invalid { diagnostics })
        }
    }
}

/// Read the files behind `source` into a source map.
pub fn read_sources(source: &RulesSource) -> Result<SourceMap, LoadError> {
    let mut sources = SourceMap::default();
    match source {
        RulesSource::Text { name, text } => {
            sources.add(SourceFile::new(name.clone(), text.clone()));
        }
        RulesSource::Path(path) => {
            let io = |path: &Path, message: String| LoadError::Io {
                path: path.to_owned(),
                message,
            };
            let metadata = std::fs::metadata(path).map_err(|e| io(path, e.to_string()))?;
            let files = if metadata.is_dir() {
                let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                    .map_err(|e| io(path, e.to_string()))?
                    .filter_map(|entry| entry.ok().map(|e| e.path()))
                    .filter(|p| is_rules_file(p))
                    .collect();
                files.sort();
                if files.is_empty() {
                    return Err(io(
                        path,
                        "the directory holds no `*.yaml` rules files".to_owned(),
                    ));
                }
                files
            } else {
                vec![path.to_owned()]
            };
            for file in files {
                let size = std::fs::metadata(&file)
                    .map_err(|e| io(&file, e.to_string()))?
                    .len();
                if size > MAX_RULES_FILE_BYTES {
                    return Err(io(
                        &file,
                        format!("the file is {size} bytes, more than the limit of {MAX_RULES_FILE_BYTES}"),
                    ));
                }
                let bytes = std::fs::read(&file).map_err(|e| io(&file, e.to_string()))?;
                let text = String::from_utf8(bytes).map_err(|e| {
                    io(
                        &file,
                        format!(
                            "the file is not UTF-8 (byte {})",
                            e.utf8_error().valid_up_to()
                        ),
                    )
                })?;
                sources.add(SourceFile::new(file.display().to_string(), text));
            }
        }
    }
    Ok(sources)
}

fn is_rules_file(path: &Path) -> bool {
    let visible = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| !n.starts_with('.'));
    let yaml = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e == "yaml" || e == "yml");
    visible && yaml && path.is_file()
}

/// A loaded rule set, ready to evaluate inputs from any number of threads.
///
/// ```
/// use acs_engine::{Engine, FunctionError};
/// use serde_json::json;
///
/// let rules = r#"
/// - id: MAX_TRUCKS
///   priority: 100
///   severity: medium
///   description: Operators may not exceed their truck limit
///   condition: "event.type == 'truck.create' && db.count.trucksByOperator(ctx.operatorId) >= 10"
///   action:
///     - rejectRequest: { code: MAX_TRUCKS, message: "limit is {{system.config.limit}}" }
///   audit: true
/// "#;
/// let engine = Engine::builder()
///     .function("db.count.trucksByOperator", |args: &[serde_json::Value]| {
///         Ok(json!(if args[0] == "OP-1" { 12 } else { 3 }))
///     })
///     .load_str("rules.yaml", rules)?;
///
/// let decision = engine.evaluate(&json!({
///     "event": {"type": "truck.create"},
///     "ctx": {"operatorId": "OP-1"},
///     "system": {"config": {"limit": 10}}
/// }));
/// assert!(decision.is_rejected());
/// assert_eq!(decision.matched_ids(), ["MAX_TRUCKS"]);
/// # Ok::<(), acs_engine::LoadError>(())
/// ```
pub struct Engine {
    plan: ArcSwap<Plan>,
    source: RulesSource,
    functions: Functions,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("source", &self.source)
            .field("plan", &*self.plan.load())
            .field("functions", &self.functions)
            .finish()
    }
}

/// Configures an [`Engine`]: host functions first, then the rules.
#[derive(Debug, Default)]
pub struct EngineBuilder {
    functions: Functions,
}

impl EngineBuilder {
    /// Register a host function under its dotted name.
    #[must_use]
    pub fn function(
        mut self,
        name: impl Into<String>,
        function: impl HostFunction + 'static,
    ) -> Self {
        self.functions.register(name, function);
        self
    }

    /// Add a set of host functions (later ones win on equal names).
    #[must_use]
    pub fn functions(mut self, functions: Functions) -> Self {
        self.functions.extend(functions);
        self
    }

    /// Load a rules file or a directory of rules files.
    pub fn load_path(self, path: impl Into<PathBuf>) -> Result<Engine, LoadError> {
        self.load(RulesSource::Path(path.into()))
    }

    /// Load rules from text; `name` stands for the file name in diagnostics.
    pub fn load_str(
        self,
        name: impl Into<String>,
        text: impl Into<String>,
    ) -> Result<Engine, LoadError> {
        self.load(RulesSource::Text {
            name: name.into(),
            text: text.into(),
        })
    }

    /// Load rules from `source`.
    pub fn load(self, source: RulesSource) -> Result<Engine, LoadError> {
        let plan = load_plan(&source, &self.functions)?;
        Ok(Engine {
            plan: ArcSwap::from_pointee(plan),
            source,
            functions: self.functions,
        })
    }
}

impl Engine {
    /// Start configuring an engine.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// Load a rules file or directory with no host functions.
    pub fn from_path(path: impl Into<PathBuf>) -> Result<Engine, LoadError> {
        Engine::builder().load_path(path)
    }

    /// Evaluate one input document (`{"event": ..., "ctx": ..., "system": ..., "db": ...}`).
    /// A non-object input has no fields: every path in it is null.
    pub fn evaluate(&self, input: &Value) -> Decision {
        eval::evaluate(&self.plan.load(), input)
    }

    /// Parse JSON bytes and evaluate them.
    pub fn evaluate_json(&self, input: &[u8]) -> Result<Decision, InputError> {
        let value: Value = serde_json::from_slice(input).map_err(|e| InputError::Json {
            line: e.line().max(1),
            column: e.column().max(1),
            message: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_owned(),
        })?;
        Ok(self.evaluate(&value))
    }

    /// The plan serving now.
    pub fn plan(&self) -> Arc<Plan> {
        self.plan.load_full()
    }

    /// Where the rules come from.
    pub fn source(&self) -> &RulesSource {
        &self.source
    }

    /// Read and compile the rules again; on success swap the new plan in and return it, on
    /// failure keep serving the old one.
    pub fn reload(&self) -> Result<Arc<Plan>, LoadError> {
        let plan = Arc::new(load_plan(&self.source, &self.functions)?);
        self.plan.store(Arc::clone(&plan));
        Ok(plan)
    }
}
