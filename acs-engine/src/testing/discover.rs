//! Which files `acs test PATH...` (and any other host running rule tests) runs: a file
//! as named, every `*.test.yaml` / `*.test.yml` under a directory, each file once.

use std::path::{Path, PathBuf};

/// How many directory levels below a given directory are searched for test files.
pub const MAX_TEST_DIR_DEPTH: usize = 16;

/// Why a path yields no test files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FindTestFilesError {
    /// The path, or a directory below it, could not be read.
    #[error("cannot read `{}`: {message}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What the system said.
        message: String,
    },
    /// A directory with no test file in it or below it.
    #[error("`{}` holds no `*.test.yaml` test files", path.display())]
    NoTestFiles {
        /// The directory.
        path: PathBuf,
    },
}

/// The test files of several paths, with the paths that yielded none.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FoundTestFiles {
    /// Each test file once, in the order of the paths given (see [`find_test_files`]).
    pub files: Vec<PathBuf>,
    /// One error per path that yielded no test file.
    pub errors: Vec<FindTestFilesError>,
}

/// Whether `name` (a file name) is a rule test file's: `*.test.yaml` or `*.test.yml`.
pub fn is_test_file_name(name: &str) -> bool {
    name.ends_with(".test.yaml") || name.ends_with(".test.yml")
}

/// The test files at `path`.
///
/// The rule: a path that is not a directory is a test file whatever its name (reading it
/// reports what is wrong with it). A directory yields every file named `*.test.yaml` or
/// `*.test.yml` in it and in its subdirectories down to [`MAX_TEST_DIR_DEPTH`] levels,
/// skipping every file and directory whose name starts with `.`, sorted by path; a
/// directory that yields none is an error, as is a path that cannot be read.
pub fn test_files_at(path: &Path) -> Result<Vec<PathBuf>, FindTestFilesError> {
    let io_error = |path: &Path, e: std::io::Error| FindTestFilesError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let metadata = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
    if !metadata.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut found = Vec::new();
    let mut pending = vec![(path.to_owned(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| io_error(&dir, e))?;
        for entry in entries.flatten() {
            let entry_path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if entry_path.is_dir() {
                if depth < MAX_TEST_DIR_DEPTH {
                    pending.push((entry_path, depth + 1));
                }
            } else if is_test_file_name(&name) {
                found.push(entry_path);
            }
        }
    }
    if found.is_empty() {
        return Err(FindTestFilesError::NoTestFiles {
            path: path.to_owned(),
        });
    }
    found.sort();
    Ok(found)
}

/// The test files of every path in `paths`, each file once.
///
/// Each path is searched as [`test_files_at`] says, in the order given; a file reached
/// twice (`rules/` and `rules/tests/x.test.yaml`, or through a symbolic link) is kept
/// where it is first reached, compared by canonical path. A path that yields nothing is
/// reported in [`FoundTestFiles::errors`] and the others are still searched, so a host
/// can report every problem at once.
pub fn find_test_files<P: AsRef<Path>>(paths: &[P]) -> FoundTestFiles {
    let mut found = FoundTestFiles::default();
    let mut seen = Vec::new();
    for path in paths {
        match test_files_at(path.as_ref()) {
            Ok(files) => {
                for file in files {
                    let key = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
                    if !seen.contains(&key) {
                        seen.push(key);
                        found.files.push(file);
                    }
                }
            }
            Err(error) => found.errors.push(error),
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, "tests: []\n").unwrap();
        path
    }

    #[test]
    fn a_directory_yields_its_test_files_at_any_depth_sorted_without_hidden_ones() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let deep = write(root, "b/deeper/z.test.yaml");
        let first = write(root, "a.test.yml");
        write(root, "rules.yaml");
        write(root, "notes.test.json");
        write(root, ".hidden.test.yaml");
        write(root, ".git/x.test.yaml");
        assert_eq!(test_files_at(root), Ok(vec![first, deep]));
    }

    #[test]
    fn the_search_stops_below_the_depth_limit() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let at_limit = "d/".repeat(MAX_TEST_DIR_DEPTH) + "in.test.yaml";
        let below = "d/".repeat(MAX_TEST_DIR_DEPTH + 1) + "out.test.yaml";
        let kept = write(root, &at_limit);
        write(root, &below);
        assert_eq!(test_files_at(root), Ok(vec![kept]));
    }

    #[test]
    fn a_file_is_a_test_file_whatever_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "cases.yaml");
        assert_eq!(test_files_at(&file), Ok(vec![file]));
    }

    #[test]
    fn missing_paths_and_directories_without_test_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.test.yaml");
        assert!(matches!(
            test_files_at(&missing),
            Err(FindTestFilesError::Io { path, .. }) if path == missing
        ));
        write(dir.path(), "rules.yaml");
        let error = test_files_at(dir.path()).unwrap_err();
        assert_eq!(
            error,
            FindTestFilesError::NoTestFiles {
                path: dir.path().to_owned()
            }
        );
        assert!(error
            .to_string()
            .ends_with("holds no `*.test.yaml` test files"));
    }

    #[test]
    fn a_file_reached_twice_is_kept_once_where_first_reached_and_errors_do_not_stop_the_search() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let a = write(root, "a.test.yaml");
        let b = write(root, "sub/b.test.yaml");
        let missing = root.join("missing");
        let found = find_test_files(&[b.clone(), missing.clone(), root.to_owned()]);
        assert_eq!(found.files, vec![b, a]);
        assert_eq!(found.errors.len(), 1);
        assert!(matches!(
            &found.errors[0],
            FindTestFilesError::Io { path, .. } if *path == missing
        ));
    }
}
