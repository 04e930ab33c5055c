//! Velocity in a backtest, in time order. Every event the input makes in the rules'
//! counters is gathered first ([`Timeline::add`]); sealing sorts each counter's events
//! per key by instant, then line, and drops repeated event ids as a live store would.
//! Each line is then decided reading the counts of the events at or before it
//! ([`SealedTimeline::at_line`]): the counts production would have seen, whatever the
//! input's order and however many threads decide.
//!
//! A counter without `time:` has no instants: its events count in input order, every
//! earlier line inside each window. Memory grows with the counted events (77 bytes each,
//! keys included, at 10 events per key: BENCHMARKS.md): the price of reading counts in
//! time order.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::plan::Plan;
use crate::velocity::{
    CountedEvent, Counts, Record, SharedStore, VelocityError, VelocityStore, Window,
};

/// What the timeline knows of one counter, from the backtest's rule sets.
#[derive(Debug, Clone, Default)]
struct CounterInfo {
    /// Every window either rule set declares, shortest first.
    windows: Vec<Window>,
    /// Whether the counter reads instants (`time:`).
    timed: bool,
}

/// One counted event of one counter and key.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Its instant; 0 for a counter without `time:` (the line orders them).
    at: f64,
    line: u64,
    /// A hash of its event id: a repeat inside the counter's longest window is not
    /// counted.
    id: Option<u64>,
    counted: bool,
    /// Counted entries before this one in the sealed order.
    before: u32,
}

/// The events of a backtest's input, gathered before any line is decided.
#[derive(Debug, Default)]
pub struct Timeline {
    counters: FxHashMap<String, CounterInfo>,
    /// Counter, then key: the group of its events (looked up by `&str`, without copying).
    groups: FxHashMap<Box<str>, FxHashMap<Box<str>, u32>>,
    entries: Vec<Vec<Entry>>,
    names: Vec<(Box<str>, Box<str>)>,
    /// Counts lines read without counting in them: line, counter, key, instant.
    reads: Vec<(u64, Box<str>, Box<str>, f64)>,
}

/// A timeline ready to answer counts: shared by the threads that decide.
#[derive(Debug)]
pub struct SealedTimeline {
    timeline: Timeline,
    /// `(line, group, position)` of every entry, sorted: a line's own events.
    by_line: Vec<(u64, u32, u32)>,
}

impl Timeline {
    /// An empty timeline of the counters `plans` declare (a counter both declare counts
    /// once, with the windows of both).
    pub(crate) fn new<'p>(plans: impl IntoIterator<Item = &'p Plan>) -> Self {
        let mut counters: FxHashMap<String, CounterInfo> = FxHashMap::default();
        for plan in plans {
            let Some(velocity) = plan.velocity.as_deref() else {
                continue;
            };
            for counter in velocity.counters.iter().map(|c| &c.counter) {
                let info = counters.entry(counter.name.clone()).or_default();
                info.windows.extend(counter.windows.iter().copied());
                info.windows.sort_unstable();
                info.windows.dedup();
                info.timed |= counter.time.is_some();
            }
        }
        Timeline {
            counters,
            ..Timeline::default()
        }
    }

    /// Add the events line `line` makes (from [`crate::backtest::Backtest::events`]). An
    /// event of a counter the rules do not declare is ignored.
    pub fn add(&mut self, line: u64, events: impl IntoIterator<Item = CountedEvent>) {
        for event in events {
            self.insert(
                line,
                &event.counter,
                event.key,
                event.id.as_deref(),
                event.at,
            );
        }
    }

    /// Add a count line `line` reads without counting in it (from
    /// [`crate::backtest::Backtest::reads`]): [`SealedTimeline::each_event`] gives its
    /// counts too. One of a counter the rules do not declare is ignored.
    pub fn add_read(&mut self, line: u64, read: CountedEvent) {
        let Some(info) = self.counters.get(&read.counter) else {
            return;
        };
        let at = if info.timed {
            read.at.unwrap_or(0.0)
        } else {
            0.0
        };
        self.reads
            .push((line, read.counter.into(), read.key.into(), at));
    }

    /// Add the events line `line` makes in `plan`'s counters, by counter index.
    pub(crate) fn add_found(&mut self, line: u64, plan: &Plan, found: crate::eval::VelocityFound) {
        let Some(velocity) = plan.velocity.as_deref() else {
            return;
        };
        for (index, key, id, at) in found {
            if let Some(counter) = velocity.counters.get(index as usize) {
                self.insert(line, &counter.counter.name, key, id.as_deref(), at);
            }
        }
    }

    fn insert(&mut self, line: u64, counter: &str, key: String, id: Option<&str>, at: Option<f64>) {
        let Some(info) = self.counters.get(counter) else {
            return;
        };
        let at = if info.timed { at.unwrap_or(0.0) } else { 0.0 };
        let next = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        let keys = match self.groups.get_mut(counter) {
            Some(keys) => keys,
            None => self.groups.entry(Box::from(counter)).or_default(),
        };
        let group = match keys.get(key.as_str()) {
            Some(&group) => group,
            None => {
                let key: Box<str> = Box::from(key);
                keys.insert(key.clone(), next);
                self.entries.push(Vec::new());
                self.names.push((Box::from(counter), key));
                next
            }
        };
        let id = id.map(|id| {
            let mut hasher = DefaultHasher::new();
            id.hash(&mut hasher);
            hasher.finish()
        });
        if let Some(entries) = self.entries.get_mut(group as usize) {
            entries.push(Entry {
                at,
                line,
                id,
                counted: true,
                before: 0,
            });
        }
    }

    /// Events gathered so far.
    pub fn len(&self) -> usize {
        self.entries.iter().map(Vec::len).sum()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sort each key's events by instant then line, drop what a live store would not
    /// count (the same line twice, an event id seen inside the counter's longest
    /// window), and index the lines.
    pub fn seal(mut self) -> Arc<SealedTimeline> {
        let mut by_line = Vec::with_capacity(self.len());
        for (group, entries) in self.entries.iter_mut().enumerate() {
            entries.sort_by(|a, b| a.at.total_cmp(&b.at).then(a.line.cmp(&b.line)));
            entries.dedup_by(|later, earlier| later.line == earlier.line);
            let longest = self
                .names
                .get(group)
                .and_then(|(counter, _)| self.counters.get(&**counter))
                .and_then(|info| info.windows.last())
                .map_or(0.0, |w| w.millis() as f64);
            let mut seen: FxHashMap<u64, f64> = FxHashMap::default();
            let mut counted = 0u32;
            for (position, entry) in entries.iter_mut().enumerate() {
                if let Some(id) = entry.id {
                    match seen.get(&id) {
                        Some(&until) if until >= entry.at => entry.counted = false,
                        _ => {
                            seen.insert(id, entry.at + longest);
                        }
                    }
                }
                entry.before = counted;
                counted += u32::from(entry.counted);
                let group = u32::try_from(group).unwrap_or(u32::MAX);
                let position = u32::try_from(position).unwrap_or(u32::MAX);
                by_line.push((entry.line, group, position));
            }
        }
        by_line.sort_unstable();
        Arc::new(SealedTimeline {
            timeline: self,
            by_line,
        })
    }
}

/// Counted entries among `entries[..end]`.
fn counted_before(entries: &[Entry], end: usize) -> u32 {
    match end.checked_sub(1).and_then(|last| entries.get(last)) {
        Some(last) => last.before + u32::from(last.counted),
        None => 0,
    }
}

/// Counted entries among `entries[..end]` inside `window` ending at `at`.
fn count(entries: &[Entry], end: usize, at: f64, window: Window) -> u64 {
    let head = entries.get(..end).unwrap_or(entries);
    let lower = at - window.millis() as f64;
    let start = head.partition_point(|e| e.at <= lower);
    u64::from(counted_before(entries, end.min(entries.len())) - counted_before(entries, start))
}

impl SealedTimeline {
    /// The store line `line` reads its counts from: its own events counted where they
    /// fall in time, the other keys' counts at its instant.
    pub fn at_line(self: &Arc<Self>, line: u64) -> SharedStore {
        Arc::new(LineView {
            timeline: Arc::clone(self),
            line,
        })
    }

    /// Every counted event, each with the counts its line reads (the windows of its
    /// counter, shortest first), then every read added with [`Timeline::add_read`] with
    /// its counts: how a host that spreads the work (Spark) turns the timeline into a
    /// column of counts per line.
    pub fn each_event(&self, mut each: impl FnMut(EventCounts<'_>)) {
        let timeline = &self.timeline;
        for ((entries, (counter, key)), position) in timeline
            .entries
            .iter()
            .zip(&timeline.names)
            .flat_map(|(entries, name)| (0..entries.len()).map(move |p| ((entries, name), p)))
        {
            let Some(entry) = entries.get(position) else {
                continue;
            };
            let windows = timeline
                .counters
                .get(&**counter)
                .map_or(&[][..], |info| &info.windows);
            let counts = windows
                .iter()
                .map(|&w| count(entries, position + 1, entry.at, w))
                .collect();
            each(EventCounts {
                line: entry.line,
                counter,
                key,
                windows,
                counts,
            });
        }
        for (line, counter, key, at) in &timeline.reads {
            let windows = timeline
                .counters
                .get(&**counter)
                .map_or(&[][..], |info| &info.windows);
            let counts = self.read(*line, counter, key, windows, *at);
            each(EventCounts {
                line: *line,
                counter,
                key,
                windows,
                counts,
            });
        }
    }

    fn group(&self, counter: &str, key: &str) -> Option<(u32, &[Entry])> {
        let timeline = &self.timeline;
        let group = *timeline.groups.get(counter)?.get(key)?;
        Some((group, timeline.entries.get(group as usize)?))
    }

    /// The counts `line` reads of `counter` and `key` at `at` (when it made no event of
    /// its own there): the events before it in time, or at its instant on an earlier line.
    fn read(&self, line: u64, counter: &str, key: &str, windows: &[Window], at: f64) -> Counts {
        let timed = self
            .timeline
            .counters
            .get(counter)
            .is_some_and(|info| info.timed);
        let at = if timed { at } else { 0.0 };
        let Some((_, entries)) = self.group(counter, key) else {
            return vec![0; windows.len()];
        };
        let end = entries.partition_point(|e| e.at < at || (e.at == at && e.line <= line));
        windows
            .iter()
            .map(|&w| count(entries, end, at, w))
            .collect()
    }

    /// The counts of `line`'s own event in `counter` under `key`, if it made one.
    fn own(&self, line: u64, counter: &str, key: &str, windows: &[Window]) -> Option<Counts> {
        let (group, entries) = self.group(counter, key)?;
        let index = self
            .by_line
            .binary_search_by(|&(l, g, _)| l.cmp(&line).then(g.cmp(&group)))
            .ok()?;
        let (_, _, position) = *self.by_line.get(index)?;
        let position = position as usize;
        let entry = entries.get(position)?;
        Some(
            windows
                .iter()
                .map(|&w| count(entries, position + 1, entry.at, w))
                .collect(),
        )
    }
}

/// One counted event and the counts its line reads ([`SealedTimeline::each_event`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EventCounts<'t> {
    /// The line that made the event.
    pub line: u64,
    /// The counter's name.
    pub counter: &'t str,
    /// The key's text.
    pub key: &'t str,
    /// The counter's windows, shortest first.
    pub windows: &'t [Window],
    /// The counts in each window, the event included (when it counted).
    pub counts: Counts,
}

/// The timeline as one line sees it.
struct LineView {
    timeline: Arc<SealedTimeline>,
    line: u64,
}

impl VelocityStore for LineView {
    fn record(&self, records: &[Record<'_>], now_ms: f64) -> Result<Vec<Counts>, VelocityError> {
        Ok(records
            .iter()
            .map(|r| {
                self.timeline
                    .own(self.line, r.counter, r.key, r.windows)
                    .unwrap_or_else(|| {
                        self.timeline
                            .read(self.line, r.counter, r.key, r.windows, now_ms)
                    })
            })
            .collect())
    }

    fn read(
        &self,
        counter: &str,
        key: &str,
        windows: &[Window],
        now_ms: f64,
    ) -> Result<Counts, VelocityError> {
        Ok(self.timeline.read(self.line, counter, key, windows, now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeline(timed: bool, windows: &[&str]) -> Timeline {
        let mut counters = FxHashMap::default();
        counters.insert(
            "c".to_owned(),
            CounterInfo {
                windows: windows.iter().filter_map(|w| Window::parse(w)).collect(),
                timed,
            },
        );
        Timeline {
            counters,
            ..Timeline::default()
        }
    }

    fn event(key: &str, at: f64, id: Option<&str>) -> CountedEvent {
        CountedEvent::new("c", key, id.map(str::to_owned), Some(at))
    }

    fn own(sealed: &SealedTimeline, line: u64, key: &str) -> Counts {
        let windows = sealed.timeline.counters["c"].windows.clone();
        sealed.own(line, "c", key, &windows).unwrap()
    }

    #[test]
    fn each_line_counts_what_came_before_it_in_time_and_ties_by_line() {
        let mut timeline = timeline(true, &["1m", "1h"]);
        // Lines out of time order; lines 3 and 4 at one instant.
        for (line, at) in [
            (1, 120_000.0),
            (2, 0.0),
            (3, 60_000.0),
            (4, 60_000.0),
            (5, 59_999.0),
        ] {
            timeline.add(line, [event("K", at, None)]);
        }
        timeline.add(6, [event("other", 0.0, None)]);
        let sealed = timeline.seal();
        assert_eq!(own(&sealed, 2, "K"), [1, 1]);
        assert_eq!(own(&sealed, 5, "K"), [2, 2]);
        assert_eq!(
            own(&sealed, 3, "K"),
            [2, 3],
            "the minute excludes its start"
        );
        assert_eq!(
            own(&sealed, 4, "K"),
            [3, 4],
            "a tie counts the earlier line"
        );
        assert_eq!(
            own(&sealed, 1, "K"),
            [1, 5],
            "a minute after line 4's instant"
        );
        assert_eq!(own(&sealed, 6, "other"), [1, 1]);
        let minute = [Window::parse("1m").unwrap()];
        assert_eq!(sealed.read(6, "c", "K", &minute, 60_000.0), [3]);
        assert_eq!(sealed.read(3, "c", "K", &minute, 60_000.0), [2]);
        assert_eq!(sealed.read(1, "c", "nobody", &minute, 60_000.0), [0]);
        let mut each = Vec::new();
        sealed.each_event(|e| {
            let (counter, key) = (e.counter.to_owned(), e.key.to_owned());
            each.push((e.line, counter, key, e.windows.len(), e.counts));
        });
        each.sort_by_key(|e| e.0);
        assert_eq!(each.len(), 6);
        assert_eq!(each[0], (1, "c".to_owned(), "K".to_owned(), 2, vec![1, 5]));
    }

    #[test]
    fn a_repeated_id_counts_once_inside_the_longest_window() {
        let mut timeline = timeline(true, &["1m"]);
        timeline.add(1, [event("K", 0.0, Some("E1"))]);
        timeline.add(2, [event("K", 30_000.0, Some("E1"))]);
        timeline.add(3, [event("K", 90_000.0, Some("E1"))]);
        timeline.add(4, [event("K", 40_000.0, Some("E2"))]);
        let sealed = timeline.seal();
        assert_eq!(own(&sealed, 1, "K"), [1]);
        assert_eq!(own(&sealed, 2, "K"), [1], "a retry is not counted again");
        assert_eq!(own(&sealed, 4, "K"), [2]);
        assert_eq!(
            own(&sealed, 3, "K"),
            [2],
            "remembered for a minute only: counted again, beside E2"
        );
    }

    #[test]
    fn a_read_of_another_key_counts_that_keys_events_up_to_its_instant() {
        let mut timeline = timeline(true, &["1m"]);
        timeline.add(1, [event("friend", 0.0, None)]);
        timeline.add(2, [event("friend", 50_000.0, None)]);
        timeline.add(4, [event("friend", 30_000.0, None)]);
        timeline.add_read(3, event("friend", 40_000.0, None));
        timeline.add_read(5, CountedEvent::new("undeclared", "friend", None, None));
        let sealed = timeline.seal();
        let mut read = Vec::new();
        sealed.each_event(|e| {
            if e.line == 3 {
                read.push(e.counts);
            }
        });
        assert_eq!(
            read,
            [vec![2]],
            "lines 1 and 4 are before 40 s; line 2 after"
        );
    }

    #[test]
    fn a_counter_without_instants_counts_in_line_order() {
        let mut timeline = timeline(false, &["1m"]);
        for line in [3, 1, 2] {
            timeline.add(line, [CountedEvent::new("c", "K", None, None)]);
        }
        timeline.add(4, [CountedEvent::new("unknown", "K", None, None)]);
        let sealed = timeline.seal();
        assert_eq!(own(&sealed, 1, "K"), [1]);
        assert_eq!(own(&sealed, 3, "K"), [3]);
        assert_eq!(sealed.timeline.len(), 3, "an undeclared counter is ignored");
        let minute = [Window::parse("1m").unwrap()];
        assert_eq!(sealed.read(2, "c", "K", &minute, 1e12), [2]);
    }
}
