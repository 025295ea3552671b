//! A deterministic discrete-event kernel in the style of dslab-core: events wait in a heap
//! ordered by (time, sequence number), so two events at the same time are handled in the
//! order they were scheduled, whatever the heap does inside. The caller drives time with
//! `step_until`; the kernel owns no clock, no thread and no randomness.
//!
//! Events are a caller-chosen type (a small `Copy` enum in the engine), so there is no boxing
//! and no dynamic dispatch per event.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

struct Entry<E> {
    time: f64,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, o: &Self) -> Ordering {
        self.time.total_cmp(&o.time).then(self.seq.cmp(&o.seq))
    }
}

/// The event queue and the current time (hours).
pub struct Kernel<E> {
    now: f64,
    seq: u64,
    heap: BinaryHeap<Reverse<Entry<E>>>,
    handled: u64,
}

impl<E> Default for Kernel<E> {
    fn default() -> Self {
        Kernel { now: 0.0, seq: 0, heap: BinaryHeap::new(), handled: 0 }
    }
}

impl<E> Kernel<E> {
    pub fn new() -> Kernel<E> {
        Kernel::default()
    }

    pub fn now(&self) -> f64 {
        self.now
    }

    /// Events handled so far.
    pub fn handled(&self) -> u64 {
        self.handled
    }

    pub fn pending(&self) -> usize {
        self.heap.len()
    }

    /// Schedules `event` at `time`; a time in the past is moved to now (an event never runs
    /// before the one that scheduled it).
    pub fn schedule(&mut self, time: f64, event: E) {
        debug_assert!(time.is_finite(), "event time must be finite");
        let time = if time < self.now { self.now } else { time };
        self.heap.push(Reverse(Entry { time, seq: self.seq, event }));
        self.seq += 1;
    }

    /// Pops the next event at or before `until`, advancing time to it.
    pub fn next_until(&mut self, until: f64) -> Option<(f64, E)> {
        if self.heap.peek().is_some_and(|Reverse(e)| e.time <= until) {
            let Reverse(e) = self.heap.pop().expect("peeked");
            self.now = e.time;
            self.handled += 1;
            Some((e.time, e.event))
        } else {
            None
        }
    }

    /// Handles events in order up to and including `until`; the handler may schedule more.
    /// Time ends at `until` (or stays later if it already was).
    pub fn step_until(&mut self, until: f64, mut handler: impl FnMut(&mut Kernel<E>, f64, E)) {
        while let Some((t, e)) = self.next_until(until) {
            handler(self, t, e);
        }
        if until > self.now && until.is_finite() {
            self.now = until;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_time_events_run_in_scheduling_order() {
        let mut k = Kernel::new();
        k.schedule(2.0, 'c');
        k.schedule(1.0, 'a');
        k.schedule(2.0, 'd');
        k.schedule(1.0, 'b');
        let mut seen = Vec::new();
        k.step_until(f64::INFINITY, |k, t, e| {
            seen.push((t, e));
            if e == 'a' {
                // Scheduled "in the past": runs now, after events already due now.
                k.schedule(0.0, 'x');
            }
        });
        assert_eq!(seen, vec![(1.0, 'a'), (1.0, 'b'), (1.0, 'x'), (2.0, 'c'), (2.0, 'd')]);
    }

    #[test]
    fn step_until_stops_at_the_horizon() {
        let mut k = Kernel::new();
        k.schedule(1.0, 1);
        k.schedule(5.0, 2);
        let mut n = 0;
        k.step_until(3.0, |_, _, _| n += 1);
        assert_eq!((n, k.now(), k.pending()), (1, 3.0, 1));
    }
}
