//! Hot reload: watch the rules path with `notify`, debounce bursts of changes into one
//! reload, and let the engine swap the new plan in (a bad file never replaces a good one).
//!
//! The watch is on the *directory* holding the rules, not on the file's inode, so it
//! survives in-place writes, editors that write a temp file and rename it over the
//! original, delete and re-create, and the Kubernetes ConfigMap layout
//! (`rules.yaml -> ..data/rules.yaml`, `..data -> ..<timestamp>`, swapped atomically).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Weak;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};

use super::{RulesSource, Shared};

/// How the watcher debounces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchOptions {
    /// Reload once no relevant change has been seen for this long.
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
    _notify: RecommendedWatcher,
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
                visible && yaml
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
    drop(shared);
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
    let mut notify = notify::recommended_watcher(move |event| {
        let _ = events.send(Message::Changed(event));
    })
    .map_err(|e| WatchError::Notify {
        path: directory.clone(),
        message: e.to_string(),
    })?;
    notify
        .watch(&directory, RecursiveMode::NonRecursive)
        .map_err(|e| WatchError::Notify {
            path: directory.clone(),
            message: e.to_string(),
        })?;
    tracing::info!(path = %path.display(), "acs watching rules");
    let thread = std::thread::Builder::new()
        .name("acs-rules-watch".into())
        .spawn(move || run(&engine, &receiver, &relevance, options))
        .map_err(|e| WatchError::Notify {
            path: directory,
            message: e.to_string(),
        })?;
    Ok(Watcher {
        stop: sender,
        thread: Some(thread),
        _notify: notify,
    })
}

/// How often the thread checks that the engine still exists while nothing happens.
const IDLE_CHECK: Duration = Duration::from_millis(250);

fn run(
    engine: &Weak<Shared>,
    receiver: &mpsc::Receiver<Message>,
    relevance: &Relevance,
    options: WatchOptions,
) {
    loop {
        // Wait for the first relevant change.
        match receiver.recv_timeout(IDLE_CHECK) {
            Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                if engine.strong_count() == 0 {
                    return;
                }
                continue;
            }
            Ok(Message::Changed(Err(error))) => {
                tracing::warn!(%error, "acs rules watch error; reloading to be safe");
            }
            Ok(Message::Changed(Ok(event))) => {
                if !relevance.concerns_event(&event) {
                    continue;
                }
            }
        }
        // Debounce: wait for quiet, but no longer than `max_delay` in all.
        let burst_started = Instant::now();
        loop {
            let left = options.max_delay.saturating_sub(burst_started.elapsed());
            if left.is_zero() {
                break;
            }
            match receiver.recv_timeout(options.quiet.min(left)) {
                Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => break,
                Ok(Message::Changed(_)) => {}
            }
        }
        let Some(shared) = engine.upgrade() else {
            return;
        };
        // Errors are recorded in the engine's status and sent to its subscribers.
        let _ = shared.reload(false);
    }
}
