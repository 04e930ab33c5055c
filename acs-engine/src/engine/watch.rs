//! Hot reload: watch the rules path with `notify`, debounce bursts of changes into one
//! reload, and let the engine swap the new plan in (a bad file never replaces a good one).
//!
//! The watch is on the *directory* holding the rules, not on the file's inode, so it
//! survives in-place writes, editors that write a temp file and rename it over the
//! original, delete and re-create, and the Kubernetes ConfigMap layout
//! (`rules.yaml -> ..data/rules.yaml`, `..data -> ..<timestamp>`, swapped atomically).
//! It follows the *path* of that directory too: the directory above is watched, and the
//! directory's identity (device and inode) is checked on every wake-up, so a directory
//! deleted and made again, or swapped for another (`mv rules.new rules`), is watched
//! anew and its rules loaded. The thread reports its health through the engine
//! (`Status::watch`, the `acs_watch_*` metrics), and says why if it stops.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Weak;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};

use super::status::WatchHealth;
use super::{RulesSource, Shared};

/// How the watcher debounces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchOptions {
    /// Reload once no relevant change has been seen for this long; the files are then
    /// read twice this long apart, and served only when both reads agree.
    pub quiet: Duration,
    /// Reload at the latest this long after the first change of a burst, even if changes
    /// keep coming.
    pub max_delay: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            quiet: Duration::from_millis(50),
            max_delay: Duration::from_millis(500),
        }
    }
}

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The rules were given as text: there is nothing to watch.
    #[error("the rules were not loaded from a path, so there is nothing to watch")]
    NotAPath,
    /// The engine was dropped.
    #[error("the engine is gone")]
    EngineGone,
    /// The operating system refused the watch.
    #[error("cannot watch `{}`: {message}", path.display())]
    Notify {
        /// The directory.
        path: PathBuf,
        /// What notify said.
        message: String,
    },
}

enum Message {
    Changed(notify::Result<notify::Event>),
    Stop,
}

/// A running watch. Dropping it (or [`Watcher::close`]) stops the watch and joins its
/// thread.
pub struct Watcher {
    stop: Sender<Message>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("running", &self.thread.is_some())
            .finish()
    }
}

impl Watcher {
    /// Stop watching and wait for the watch thread to finish.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.send(Message::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Which changes in the watched directory concern the rules.
struct Relevance {
    /// `Some(name)`: a single rules file of that name; `None`: a directory bundle.
    file_name: Option<std::ffi::OsString>,
}

impl Relevance {
    fn concerns(&self, path: &Path) -> bool {
        let Some(name) = path.file_name() else {
            return true;
        };
        // Kubernetes' atomic writer swaps `..data` and friends: always relevant.
        if name.to_string_lossy().starts_with("..") {
            return true;
        }
        match &self.file_name {
            Some(file) => name == file,
            None => {
                let visible = !name.to_string_lossy().starts_with('.');
                let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
                let manifest =
                    name == super::bundle::MANIFEST_FILE || name == super::bundle::SIGNATURE_FILE;
                (visible && yaml) || manifest
            }
        }
    }

    fn concerns_event(&self, event: &notify::Event) -> bool {
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return false;
        }
        // No paths (a rescan after an overflow): reload to be safe.
        event.paths.is_empty() || event.paths.iter().any(|p| self.concerns(p))
    }
}

pub(crate) fn start(engine: Weak<Shared>, options: WatchOptions) -> Result<Watcher, WatchError> {
    let shared = engine.upgrade().ok_or(WatchError::EngineGone)?;
    let RulesSource::Path(path) = shared.source().clone() else {
        return Err(WatchError::NotAPath);
    };
    let (directory, relevance) = if path.is_dir() {
        (path.clone(), Relevance { file_name: None })
    } else {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        (
            parent,
            Relevance {
                file_name: path.file_name().map(ToOwned::to_owned),
            },
        )
    };
    let (sender, receiver) = mpsc::channel();
    let events = sender.clone();
    let notify = notify::recommended_watcher(move |event| {
        let _ = events.send(Message::Changed(event));
    })
    .map_err(|e| WatchError::Notify {
        path: directory.clone(),
        message: e.to_string(),
    })?;
    let mut watched = Watched::new(notify, directory.clone());
    watched.establish().map_err(|message| WatchError::Notify {
        path: directory.clone(),
        message,
    })?;
    tracing::info!(path = %path.display(), "acs watching rules");
    shared.set_watch_health(WatchHealth::running());
    drop(shared);
    let thread = std::thread::Builder::new()
        .name("acs-rules-watch".into())
        .spawn(move || {
            let looped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run(&engine, &receiver, &relevance, &mut watched, options)
            }));
            let stopped = match looped {
                Ok(why) => why,
                Err(_) => Stopped::Failed("the watch thread panicked".to_owned()),
            };
            if let Some(shared) = engine.upgrade() {
                if let Stopped::Failed(why) = &stopped {
                    tracing::error!(reason = %why, "acs rules watch stopped; reloads happen only on reload()");
                }
                let because = match stopped {
                    Stopped::Closed => None,
                    Stopped::Failed(why) => Some(why),
                };
                shared.update_watch_health(|health| health.stop(because));
            }
        })
        .map_err(|e| WatchError::Notify {
            path: directory,
            message: e.to_string(),
        })?;
    Ok(Watcher {
        stop: sender,
        thread: Some(thread),
    })
}

/// Why the watch thread ended.
enum Stopped {
    /// Closed by its handle, or the engine is gone.
    Closed,
    /// Something went wrong; the reason is kept in the engine's status.
    Failed(String),
}

/// The notify watcher and what it watches: the directory holding the rules and the one
/// above it, so that the rules directory itself being replaced is seen.
struct Watched {
    notify: RecommendedWatcher,
    directory: PathBuf,
    parent: Option<PathBuf>,
    /// Device and inode of the directory the watch is on, when it exists.
    identity: Option<(u64, u64)>,
}

impl Watched {
    fn new(notify: RecommendedWatcher, directory: PathBuf) -> Watched {
        let parent = std::path::absolute(&directory)
            .ok()
            .and_then(|d| d.parent().map(Path::to_path_buf));
        Watched {
            notify,
            directory,
            parent,
            identity: None,
        }
    }

    /// Watch the directory as it is now (and the one above). An absent directory is not an
    /// error here: it is watched again when it comes back.
    fn establish(&mut self) -> Result<(), String> {
        let _ = self.notify.unwatch(&self.directory);
        self.identity = identity(&self.directory);
        if self.identity.is_some() {
            self.notify
                .watch(&self.directory, RecursiveMode::NonRecursive)
                .map_err(|e| e.to_string())?;
        }
        if let Some(parent) = &self.parent {
            let _ = self.notify.unwatch(parent);
            // Best effort: without it, a replaced directory is still found by the
            // identity check on every wake-up.
            let _ = self.notify.watch(parent, RecursiveMode::NonRecursive);
        }
        Ok(())
    }

    /// Whether the directory at the watched path is another one than the watch is on (or
    /// went, or came back): then it is watched anew, and `true` says its rules must be read.
    fn follow(&mut self) -> Result<bool, String> {
        if identity(&self.directory) == self.identity {
            return Ok(false);
        }
        tracing::info!(path = %self.directory.display(), "acs rules directory replaced; watching it anew");
        self.establish()?;
        Ok(self.identity.is_some())
    }

    /// Whether an event in the directory above concerns the rules directory itself.
    fn concerns_directory(&self, event: &notify::Event) -> bool {
        let name = self.directory.file_name();
        event.paths.iter().any(|p| {
            p.file_name().is_some_and(|n| Some(n) == name) && p.parent() == self.parent.as_deref()
        })
    }
}

#[cfg(unix)]
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Without inodes, only a directory that disappears or appears is noticed.
#[cfg(not(unix))]
fn identity(path: &Path) -> Option<(u64, u64)> {
    path.is_dir().then_some((0, 0))
}

/// How often the thread checks that the engine still exists and that the directory is
/// the one watched, while nothing happens.
const IDLE_CHECK: Duration = Duration::from_millis(250);

fn run(
    engine: &Weak<Shared>,
    receiver: &Receiver<Message>,
    relevance: &Relevance,
    watched: &mut Watched,
    options: WatchOptions,
) -> Stopped {
    loop {
        // Wait for the first relevant change, or for the directory to be replaced.
        let mut replaced = false;
        match receiver.recv_timeout(IDLE_CHECK) {
            Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return Stopped::Closed,
            Err(RecvTimeoutError::Timeout) => {
                if engine.strong_count() == 0 {
                    return Stopped::Closed;
                }
                match watched.follow() {
                    Ok(true) => replaced = true,
                    Ok(false) => continue,
                    Err(error) => return Stopped::Failed(error),
                }
            }
            Ok(Message::Changed(Err(error))) => {
                saw_event(engine);
                tracing::warn!(%error, "acs rules watch error; reloading to be safe");
            }
            Ok(Message::Changed(Ok(event))) => {
                saw_event(engine);
                if !relevance.concerns_event(&event) && !watched.concerns_directory(&event) {
                    continue;
                }
            }
        }
        // Debounce: wait until no relevant change has come for `quiet`, but no longer
        // than `max_delay` in all. Changes to files the rules do not include neither
        // count nor restart the wait.
        let burst_started = Instant::now();
        let mut last_relevant = burst_started;
        loop {
            let left = options
                .max_delay
                .saturating_sub(burst_started.elapsed())
                .min(options.quiet.saturating_sub(last_relevant.elapsed()));
            if left.is_zero() {
                break;
            }
            match receiver.recv_timeout(left) {
                Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return Stopped::Closed,
                Err(RecvTimeoutError::Timeout) => {}
                Ok(Message::Changed(Ok(event))) => {
                    saw_event(engine);
                    if relevance.concerns_event(&event) || watched.concerns_directory(&event) {
                        last_relevant = Instant::now();
                    }
                }
                Ok(Message::Changed(Err(_))) => {
                    saw_event(engine);
                    last_relevant = Instant::now();
                }
            }
        }
        if !replaced {
            if let Err(error) = watched.follow() {
                return Stopped::Failed(error);
            }
        }
        let Some(shared) = engine.upgrade() else {
            return Stopped::Closed;
        };
        // Read until two reads a quiet period apart agree, so that a writer pausing
        // half-way is not served; errors are recorded in the engine's status and sent
        // to its subscribers.
        let _ = shared.reload_settled(options.quiet);
    }
}

fn saw_event(engine: &Weak<Shared>) {
    if let Some(shared) = engine.upgrade() {
        shared.update_watch_health(|health| health.last_event_at = Some(SystemTime::now()));
    }
}
