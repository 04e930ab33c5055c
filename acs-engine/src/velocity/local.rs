//! The in-process store: sliding windows of 60 slices per key and window, in 16 shards
//! under their own mutexes, idle keys evicted, the number of keys bounded.
//!
//! A window of length `w` is counted in 60 slices of `w / 60`: a count at instant `t`
//! sums the slices from the one holding `t - w + w/60` to the one holding `t`, so it
//! includes every event of the last `w` and, at most, the events of one slice older
//! (the count is exact to within `w / 60` of the window's start). An event older than
//! its window when it arrives (a clock far behind) is not counted.
//!
//! Memory: about 250 bytes per window per key, plus the key's text and the map's own
//! overhead (measured in BENCHMARKS.md); a key untouched for its counter's longest
//! window is dropped by a sweep (every 1,024 records one shard is swept, in turn, so
//! every shard is swept once per 16,384 records), and past
//! [`LocalStoreOptions::max_keys`] the key idle longest is dropped first.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, PoisonError};

use super::{Counts, Record, VelocityError, VelocityMetrics, VelocityStore, Window};

const SLICES: usize = 60;
const SHARDS: usize = 16;
/// Records between two sweeps (of the next shard in turn).
const SWEEP_EVERY: u64 = 1024;

/// How large the in-process store may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalStoreOptions {
    /// Most keys held, all counters together (default 1,000,000).
    pub max_keys: usize,
}

impl Default for LocalStoreOptions {
    fn default() -> Self {
        LocalStoreOptions {
            max_keys: 1_000_000,
        }
    }
}

/// Counts kept in this process: exact for one replica, and for tests and backtests.
pub struct LocalStore {
    shards: Box<[Mutex<Shard>]>,
    max_keys_per_shard: usize,
    hasher: std::hash::RandomState,
    records: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("keys", &self.keys())
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Shard {
    keys: HashMap<(Box<str>, Box<str>), Entry>,
    /// Event ids seen per counter, until their counter's longest window has passed.
    seen: HashMap<(Box<str>, Box<str>), u64>,
}

struct Entry {
    windows: Box<[Ring]>,
    last_ms: u64,
    longest_ms: u64,
}

/// One window's slices: `latest` is the index (instant / slice length) of the newest
/// slice, `counts[i % 60]` the count of slice `i` for the 60 slices up to it.
struct Ring {
    window: Window,
    latest: u64,
    counts: [u32; SLICES],
}

impl Ring {
    fn new(window: Window) -> Ring {
        Ring {
            window,
            latest: 0,
            counts: [0; SLICES],
        }
    }

    fn slice_of(&self, ms: u64) -> u64 {
        ms / (self.window.millis() / SLICES as u64).max(1)
    }

    /// Move the newest slice up to `slice`, emptying the slices that fall out.
    fn advance(&mut self, slice: u64) {
        if slice <= self.latest {
            return;
        }
        let gap = slice - self.latest;
        if gap >= SLICES as u64 {
            self.counts = [0; SLICES];
        } else {
            for i in self.latest + 1..=slice {
                if let Some(count) = self.counts.get_mut((i % SLICES as u64) as usize) {
                    *count = 0;
                }
            }
        }
        self.latest = slice;
    }

    fn add(&mut self, ms: u64) {
        let slice = self.slice_of(ms);
        self.advance(slice);
        if slice + (SLICES as u64) <= self.latest {
            return; // older than the window: not counted
        }
        if let Some(count) = self.counts.get_mut((slice % SLICES as u64) as usize) {
            *count = count.saturating_add(1);
        }
    }

    fn count(&self, ms: u64) -> u64 {
        let now = self.slice_of(ms);
        let oldest = now.saturating_sub(SLICES as u64 - 1);
        let newest = now.min(self.latest);
        if newest < oldest || self.latest + (SLICES as u64) <= oldest {
            return 0;
        }
        (oldest.max(self.latest.saturating_sub(SLICES as u64 - 1))..=newest)
            .map(|i| {
                u64::from(
                    self.counts
                        .get((i % SLICES as u64) as usize)
                        .copied()
                        .unwrap_or(0),
                )
            })
            .sum()
    }
}

impl Entry {
    fn new(windows: &[Window]) -> Entry {
        Entry {
            windows: windows.iter().map(|w| Ring::new(*w)).collect(),
            last_ms: 0,
            longest_ms: windows.iter().map(|w| w.millis()).max().unwrap_or(0),
        }
    }

    fn fits(&self, windows: &[Window]) -> bool {
        self.windows.len() == windows.len()
            && self
                .windows
                .iter()
                .zip(windows)
                .all(|(r, w)| r.window == *w)
    }

    fn counts(&self, ms: u64) -> Counts {
        self.windows.iter().map(|ring| ring.count(ms)).collect()
    }
}

/// Epoch milliseconds as an integer (a negative or NaN instant is 0).
fn millis(now_ms: f64) -> u64 {
    if now_ms.is_finite() && now_ms > 0.0 {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked above; saturates"
        )]
        let ms = now_ms as u64;
        ms
    } else {
        0
    }
}

impl Default for LocalStore {
    fn default() -> Self {
        LocalStore::new(LocalStoreOptions::default())
    }
}

impl LocalStore {
    /// An empty store.
    pub fn new(options: LocalStoreOptions) -> LocalStore {
        LocalStore {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            max_keys_per_shard: options.max_keys.div_ceil(SHARDS).max(1),
            hasher: std::hash::RandomState::new(),
            records: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Keys held now, all counters together.
    pub fn keys(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).keys.len())
            .sum()
    }

    /// The shard of a key (always one: the index is below the number of shards).
    fn shard(&self, counter: &str, key: &str) -> Result<&Mutex<Shard>, VelocityError> {
        let index = (self.hasher.hash_one((counter, key)) % SHARDS as u64) as usize;
        self.shards
            .get(index)
            .ok_or_else(|| VelocityError("no shard".to_owned()))
    }
}

impl Shard {
    fn sweep(&mut self, now: u64) {
        self.keys
            .retain(|_, entry| entry.last_ms.saturating_add(entry.longest_ms) >= now);
        self.seen.retain(|_, expires| *expires >= now);
    }

    fn make_room(&mut self, now: u64, max: usize) {
        if self.keys.len() < max {
            return;
        }
        self.sweep(now);
        while self.keys.len() >= max {
            let idlest = self
                .keys
                .iter()
                .min_by_key(|(_, entry)| entry.last_ms)
                .map(|(key, _)| key.clone());
            match idlest {
                Some(key) => {
                    self.keys.remove(&key);
                }
                None => break,
            }
        }
    }
}

impl VelocityStore for LocalStore {
    fn record(&self, records: &[Record<'_>], now_ms: f64) -> Result<Vec<Counts>, VelocityError> {
        let now = millis(now_ms);
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let n = self
                .records
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n % SWEEP_EVERY == SWEEP_EVERY - 1 {
                // A shard busy elsewhere is swept on its next turn.
                let turn = ((n / SWEEP_EVERY) % SHARDS as u64) as usize;
                if let Some(Ok(mut shard)) = self.shards.get(turn).map(Mutex::try_lock) {
                    shard.sweep(now);
                }
            }
            let mut shard = self
                .shard(record.counter, record.key)?
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let longest = record.windows.iter().map(|w| w.millis()).max().unwrap_or(0);
            let first_time = match record.event_id {
                None => true,
                Some(id) => {
                    let seen = (Box::from(record.counter), Box::from(id));
                    match shard.seen.get(&seen) {
                        Some(expires) if *expires >= now => false,
                        _ => {
                            shard.seen.insert(seen, now.saturating_add(longest));
                            true
                        }
                    }
                }
            };
            let id = (Box::from(record.counter), Box::from(record.key));
            if !shard.keys.contains_key(&id) {
                shard.make_room(now, self.max_keys_per_shard);
            }
            let entry = shard
                .keys
                .entry(id)
                .or_insert_with(|| Entry::new(record.windows));
            if !entry.fits(record.windows) {
                // The counter's windows changed with a reload: its counts start anew.
                *entry = Entry::new(record.windows);
            }
            if first_time {
                for ring in entry.windows.iter_mut() {
                    ring.add(now);
                }
            }
            entry.last_ms = entry.last_ms.max(now);
            out.push(entry.counts(now));
        }
        Ok(out)
    }

    fn read(
        &self,
        counter: &str,
        key: &str,
        windows: &[Window],
        now_ms: f64,
    ) -> Result<Counts, VelocityError> {
        let now = millis(now_ms);
        let shard = self
            .shard(counter, key)?
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let id = (Box::from(counter), Box::from(key));
        Ok(match shard.keys.get(&id) {
            Some(entry) if entry.fits(windows) => entry.counts(now),
            _ => vec![0; windows.len()],
        })
    }

    fn metrics(&self) -> Option<VelocityMetrics> {
        Some(VelocityMetrics {
            backend: "local".to_owned(),
            round_trips: self.records.load(std::sync::atomic::Ordering::Relaxed),
            timeouts: 0,
            errors: 0,
            fallbacks: 0,
            latency_sum_seconds: 0.0,
            latency_buckets: Vec::new(),
            keys: u64::try_from(self.keys()).ok(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: f64 = 60_000.0;

    fn minute_and_hour() -> [Window; 2] {
        [Window::parse("1m").unwrap(), Window::parse("1h").unwrap()]
    }

    fn record(store: &LocalStore, key: &str, id: Option<&str>, at: f64) -> Counts {
        let windows = minute_and_hour();
        let counts = store
            .record(
                &[Record {
                    counter: "c",
                    key,
                    windows: &windows,
                    event_id: id,
                }],
                at,
            )
            .unwrap();
        counts.into_iter().next().unwrap()
    }

    #[test]
    fn counts_include_the_event_and_slide_out_after_the_window() {
        let store = LocalStore::default();
        let start = 1_700_000_000_000.0;
        for i in 0..20_u32 {
            let n = u64::from(i) + 1;
            assert_eq!(
                record(&store, "u1", None, start + f64::from(i) * 1000.0),
                [n, n]
            );
        }
        assert_eq!(record(&store, "u2", None, start), [1, 1], "keys apart");
        // Two minutes on: the minute window is empty again but for the new event.
        assert_eq!(record(&store, "u1", None, start + 2.0 * MINUTE), [1, 21]);
        // Reading records nothing.
        let windows = minute_and_hour();
        assert_eq!(
            store
                .read("c", "u1", &windows, start + 2.0 * MINUTE)
                .unwrap(),
            [1, 21]
        );
        assert_eq!(store.read("c", "nobody", &windows, start).unwrap(), [0, 0]);
        // Two hours on, everything has slid out.
        assert_eq!(
            store
                .read("c", "u1", &windows, start + 130.0 * MINUTE)
                .unwrap(),
            [0, 0]
        );
    }

    #[test]
    fn an_event_id_counts_once() {
        let store = LocalStore::default();
        assert_eq!(record(&store, "u", Some("e1"), 1e12), [1, 1]);
        assert_eq!(
            record(&store, "u", Some("e1"), 1e12 + 10.0),
            [1, 1],
            "a retry"
        );
        assert_eq!(record(&store, "u", Some("e2"), 1e12 + 20.0), [2, 2]);
        assert_eq!(record(&store, "u", None, 1e12 + 30.0), [3, 3]);
    }

    #[test]
    fn idle_keys_are_swept_and_the_number_of_keys_is_bounded() {
        let store = LocalStore::new(LocalStoreOptions { max_keys: 64 });
        for i in 0..10_000 {
            record(&store, &format!("k{i}"), None, 1e12 + f64::from(i));
        }
        assert!(store.keys() <= 64, "{}", store.keys());
        // Hours later, a sweep drops every idle key.
        for i in 0..(SWEEP_EVERY as usize * SHARDS + 1) {
            record(&store, "busy", None, 1e12 + 3.0 * 3_600_000.0 + i as f64);
        }
        assert_eq!(store.keys(), 1);
    }

    #[test]
    fn an_event_far_in_the_past_is_not_counted() {
        let store = LocalStore::default();
        record(&store, "u", None, 1e12);
        // Counted in the hour (as of its own instant), not in the minute.
        assert_eq!(record(&store, "u", None, 1e12 - 10.0 * MINUTE), [0, 1]);
    }
}
