//! Reading rules from files, directories or text, and the whole load pipeline
//! (read -> YAML -> rules -> plan) behind one function. The only place that reads rules
//! from the filesystem.

use std::path::{Path, PathBuf};

use crate::compile::compile;
use crate::diagnostic::{Diagnostic, Severity};
use crate::functions::Functions;
use crate::limits::Limits;
use crate::plan::Plan;
use crate::ruleset::load_rule_set_with;
use crate::source::{SourceFile, SourceMap};

/// Largest rules file accepted by default, in bytes (see [`Limits`]).
pub const MAX_RULES_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// Where an engine's rules come from; kept so [`Engine::reload`](crate::Engine::reload) can read them again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
    /// Rules files given as `(name, text)` pairs, read as a directory holding them would
    /// be: each under its base name, in name order, with the same ruleset hash. For a rule
    /// set kept somewhere other than a directory (an audit log's ruleset record, the rules
    /// a backtest sends to its workers). Every name must be a rules file's (`*.yaml` or
    /// `*.yml`, not hidden) and base names must differ: what a directory would skip or
    /// could not hold is refused ([`LoadError::FileSet`]), never dropped.
    Files(Vec<(String, String)>),
}

impl RulesSource {
    /// How a status or a test report names the source: the path, the text's name, or the
    /// given files' names.
    pub(crate) fn describe(&self) -> String {
        match self {
            RulesSource::Path(path) => path.display().to_string(),
            RulesSource::Text { name, .. } => name.clone(),
            RulesSource::Files(files) => {
                let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
                names.join(", ")
            }
        }
    }
}

/// Why rules could not be loaded. Nothing already loaded is affected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The audit log could not be opened (`EngineBuilder::audit`).
    #[cfg(feature = "audit")]
    #[error("audit log: {0}")]
    Audit(#[source] crate::audit::AuditError),
    /// A file or directory could not be read; the system's error is the
    /// [`source`](std::error::Error::source), so a missing file is told apart by its
    /// kind ([`LoadError::io_kind`]).
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A rules file (or the rules given as text) is larger than
    /// `Limits::max_rules_file_bytes`; it was not read.
    #[error("cannot read `{}`: it is {size} bytes, more than the limit of {limit} (`Limits::max_rules_file_bytes`)", path.display())]
    TooLarge {
        /// The file (or the name the text was given).
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A rules file is not UTF-8 text.
    #[error("cannot read `{}`: the file is not UTF-8 (byte {offset})", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// The first byte that is not part of valid UTF-8.
        offset: usize,
    },
    /// A rules directory holds no `*.yaml` / `*.yml` file.
    #[error("cannot read `{}`: the directory holds no `*.yaml` rules files", path.display())]
    NoRulesFiles {
        /// The directory.
        path: PathBuf,
    },
    /// The rules path, or an entry of a rules directory named like a rules file, is not
    /// a regular file (a FIFO, a device, a directory named `*.yaml`, a dangling or looping
    /// symbolic link): it is never opened, so it can neither block nor stream without end.
    #[error("cannot read `{}`: {found}, not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What is there (`a FIFO`, `a directory`, `a dangling symbolic link`, ...).
        found: String,
    },
    /// The bundle does not match its manifest, or is not signed as the engine requires.
    #[error("{source}")]
    Bundle {
        /// What is wrong with the bundle.
        #[from]
        source: super::bundle::BundleError,
    },
    /// The rules path was a file when the engine loaded it and is a directory now, or
    /// the other way round: the engine keeps serving what it has rather than load a
    /// different kind of source.
    #[error("cannot read `{}`: it was {was} when the engine loaded it and is {now} now", path.display())]
    KindChanged {
        /// The path.
        path: PathBuf,
        /// `a file` or `a directory`.
        was: &'static str,
        /// `a file`, `a directory`, or what else is there.
        now: &'static str,
    },
    /// Files given as [`RulesSource::Files`] that no rules directory could hold as they
    /// are: none at all, a name not like a rules file's, two with one base name.
    #[error("rules files given: {problem}")]
    FileSet {
        /// What is wrong, naming the file.
        problem: String,
    },
    /// The rules have errors; every one found is listed.
    #[error("{}\n\n{}", Diagnostic::render_all(diagnostics), summary(diagnostics))]
    Invalid {
        /// All diagnostics, errors and warnings.
        diagnostics: Vec<Diagnostic>,
    },
}

impl LoadError {
    /// A stable, machine-readable name for the kind of failure (`invalid`, `io`,
    /// `too_large`, `not_utf8`, `no_rules_files`, `not_a_file`, `bundle`,
    /// `kind_changed`, `file_set`, `audit`), for bindings that raise it as a typed error with a `code`. The
    /// codes of the rules' own problems are in [`LoadError::diagnostics`].
    pub fn code(&self) -> &'static str {
        match self {
            LoadError::Io { .. } => "io",
            LoadError::TooLarge { .. } => "too_large",
            LoadError::NotUtf8 { .. } => "not_utf8",
            LoadError::NoRulesFiles { .. } => "no_rules_files",
            LoadError::NotAFile { .. } => "not_a_file",
            LoadError::Bundle { .. } => "bundle",
            LoadError::KindChanged { .. } => "kind_changed",
            LoadError::FileSet { .. } => "file_set",
            LoadError::Invalid { .. } => "invalid",
            #[cfg(feature = "audit")]
            LoadError::Audit(_) => "audit",
        }
    }
}

fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    format!(
        "could not load rules: {errors} error{}",
        if errors == 1 { "" } else { "s" }
    )
}

impl LoadError {
    /// The diagnostics behind the error (one synthesised when the files could not be
    /// read).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let unread = |path: &Path, why: String| {
            vec![
                Diagnostic::error("ACS200", format!("cannot read rules: {why}"))
                    .in_file(&path.display().to_string()),
            ]
        };
        match self {
            LoadError::Io { path, source } => unread(path, source.to_string()),
            LoadError::TooLarge { path, size, limit } => unread(
                path,
                format!("it is {size} bytes, more than the limit of {limit} (`Limits::max_rules_file_bytes`)"),
            ),
            LoadError::NotUtf8 { path, offset } => {
                unread(path, format!("the file is not UTF-8 (byte {offset})"))
            }
            LoadError::NoRulesFiles { path } => unread(
                path,
                "the directory holds no `*.yaml` rules files".to_owned(),
            ),
            LoadError::NotAFile { path, found } => {
                unread(path, format!("{found}, not a regular file"))
            }
            LoadError::Bundle { source } => {
                vec![Diagnostic::error("ACS220", format!("bundle refused: {source}"))]
            }
            LoadError::KindChanged { path, was, now } => unread(
                path,
                format!("it was {was} when the engine loaded it and is {now} now"),
            ),
            LoadError::FileSet { problem } => vec![Diagnostic::error(
                "ACS200",
                format!("cannot read rules: {problem}"),
            )],
            LoadError::Invalid { diagnostics } => diagnostics.clone(),
            #[cfg(feature = "audit")]
            LoadError::Audit(source) => {
                vec![Diagnostic::error("ACS230", format!("audit log: {source}"))]
            }
        }
    }

    /// The kind of the system's error when the files could not be read (for instance
    /// [`NotFound`](std::io::ErrorKind::NotFound), which bindings raise as
    /// `FileNotFoundError` / `ENOENT`).
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            LoadError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

/// Read rules from `source` and compile them against `functions`, without touching any
/// engine. Returns the plan (with its warnings in [`Plan::warnings`]) or every error.
pub fn load_plan(source: &RulesSource, functions: &Functions) -> Result<Plan, LoadError> {
    load_plan_with(source, functions, &Limits::default())
}

/// [`load_plan`] under the host's [`Limits`].
pub fn load_plan_with(
    source: &RulesSource,
    functions: &Functions,
    limits: &Limits,
) -> Result<Plan, LoadError> {
    let sources = read_sources_with(source, limits.max_rules_file_bytes)?;
    plan_from_sources(sources, functions, limits)
}

/// Load and compile rules already read (steps 2-4 of the pipeline).
pub(crate) fn plan_from_sources(
    sources: SourceMap,
    functions: &Functions,
    limits: &Limits,
) -> Result<Plan, LoadError> {
    let (rule_set, mut diagnostics) = load_rule_set_with(sources, &limits.syntax());
    // Compile even when loading failed, so compile errors of the rules that did load are
    // reported in the same pass.
    match compile(&rule_set, functions, limits) {
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

/// Read the files behind `source` into a source map, refusing files over the default
/// size limit.
pub fn read_sources(source: &RulesSource) -> Result<SourceMap, LoadError> {
    read_sources_with(source, MAX_RULES_FILE_BYTES)
}

/// [`read_sources`] with the host's file size limit, in bytes.
pub fn read_sources_with(
    source: &RulesSource,
    max_file_bytes: u64,
) -> Result<SourceMap, LoadError> {
    read_bundle(source, max_file_bytes, None)
}

/// [`read_sources_with`] that checks a bundle directory against its manifest when it has
/// one, and requires a manifest signed with `key` when one is given.
pub(crate) fn read_bundle(
    source: &RulesSource,
    max_file_bytes: u64,
    key: Option<&super::bundle::PublicKey>,
) -> Result<SourceMap, LoadError> {
    let mut sources = SourceMap::default();
    match source {
        RulesSource::Text { name, text } => {
            if text.len() as u64 > max_file_bytes {
                return Err(LoadError::TooLarge {
                    path: name.into(),
                    size: text.len() as u64,
                    limit: max_file_bytes,
                });
            }
            sources.add(SourceFile::new(name.clone(), text.clone()));
        }
        RulesSource::Files(files) => {
            for (name, text) in as_directory(files)? {
                if text.len() as u64 > max_file_bytes {
                    return Err(LoadError::TooLarge {
                        path: name.into(),
                        size: text.len() as u64,
                        limit: max_file_bytes,
                    });
                }
                sources.add(SourceFile::new(name, text.to_owned()));
            }
        }
        RulesSource::Path(path) => {
            let io = |path: &Path| {
                let path = path.to_owned();
                move |source| LoadError::Io { path, source }
            };
            let metadata = std::fs::metadata(path).map_err(io(path))?;
            let files = if metadata.is_dir() {
                let mut files = Vec::new();
                for entry in std::fs::read_dir(path).map_err(io(path))? {
                    let entry = entry.map_err(io(path))?.path();
                    if named_like_rules(&entry) {
                        files.push(entry);
                    }
                }
                files.sort();
                if files.is_empty() {
                    return Err(LoadError::NoRulesFiles {
                        path: path.to_owned(),
                    });
                }
                files
            } else {
                if key.is_some() {
                    return Err(super::bundle::BundleError::NotADirectory {
                        path: path.to_owned(),
                    }
                    .into());
                }
                vec![path.to_owned()]
            };
            let mut read = Vec::with_capacity(files.len());
            for file in files {
                let bytes = read_regular_file(&file, max_file_bytes)?;
                read.push((file, bytes));
            }
            if metadata.is_dir() {
                // The bytes checked against the manifest are the bytes served.
                let found = super::bundle::Manifest::of_files(read.iter().map(|(file, bytes)| {
                    let name = file
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or_default();
                    (name, bytes.as_slice())
                }));
                super::bundle::check(path, &found, key)?;
            }
            for (file, bytes) in read {
                let text = String::from_utf8(bytes).map_err(|e| LoadError::NotUtf8 {
                    path: file.clone(),
                    offset: e.utf8_error().valid_up_to(),
                })?;
                sources.add(SourceFile::new(file.display().to_string(), text));
            }
        }
    }
    Ok(sources)
}

/// `files` as a rules directory would hold them: base names, in name order (the order and
/// names the ruleset hash covers), or why no directory could.
fn as_directory(files: &[(String, String)]) -> Result<Vec<(String, &str)>, LoadError> {
    let refuse = |problem: String| LoadError::FileSet { problem };
    if files.is_empty() {
        return Err(refuse("no rules files given".to_owned()));
    }
    let mut named = Vec::with_capacity(files.len());
    for (name, text) in files {
        let base = Path::new(name)
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|base| named_like_rules(Path::new(base)))
            .ok_or_else(|| {
                refuse(format!(
                    "`{name}` is not named like a rules file (`*.yaml` or `*.yml`, not hidden)"
                ))
            })?;
        named.push((base.to_owned(), text.as_str()));
    }
    named.sort_by(|a, b| a.0.cmp(&b.0));
    for pair in named.windows(2) {
        if let [(first, _), (second, _)] = pair {
            if first == second {
                return Err(refuse(format!("two files are named `{first}`")));
            }
        }
    }
    Ok(named)
}

/// The bytes of the regular file at `path`, at most `limit` of them
/// ([`crate::limits::read_file`]), with the error naming the path.
pub(crate) fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>, LoadError> {
    use crate::limits::ReadError;
    crate::limits::read_file(path, limit).map_err(|error| match error {
        ReadError::NotAFile { kind } => LoadError::NotAFile {
            path: path.to_owned(),
            found: kind.to_owned(),
        },
        ReadError::TooLarge { limit } => LoadError::TooLarge {
            path: path.to_owned(),
            size: std::fs::metadata(path).map_or(limit + 1, |m| m.len().max(limit + 1)),
            limit,
        },
        ReadError::Io(source) => match std::fs::symlink_metadata(path) {
            // The link is there; what it points to is not.
            Ok(link) if link.file_type().is_symlink() && !path.exists() => LoadError::NotAFile {
                path: path.to_owned(),
                found: "a dangling or looping symbolic link".to_owned(),
            },
            _ => LoadError::Io {
                path: path.to_owned(),
                source,
            },
        },
    })
}

/// A bundle entry named as a rules file: visible, `*.yaml` or `*.yml`. Whatever it is, it
/// is read as one, so an entry that cannot be (a directory, a dangling link) is an error
/// naming it rather than a rule set silently smaller than the one deployed.
pub(super) fn named_like_rules(path: &Path) -> bool {
    let visible = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| !n.starts_with('.'));
    let yaml = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e == "yaml" || e == "yml");
    visible && yaml
}
