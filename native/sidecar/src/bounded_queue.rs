//! A bounded lock-free queue whose memory follows what it holds.
//!
//! [`crossbeam_queue::ArrayQueue`] allocates and initialises every slot up
//! front: the telemetry queues (4,096 spans and 4,096 decision records)
//! held about 2 MB resident in an idle sidecar. This is crossbeam's
//! [`SegQueue`] (blocks of slots allocated as records arrive and freed once
//! read) with a length bound: a push beyond the bound is refused, as
//! `ArrayQueue::push` refuses it, so the call path still never blocks and
//! never grows the queue past its bound.

use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_queue::SegQueue;

/// A multi-producer, multi-consumer FIFO queue of at most `capacity` items.
pub struct BoundedQueue<T> {
    items: SegQueue<T>,
    len: AtomicUsize,
    capacity: usize,
}

impl<T> BoundedQueue<T> {
    /// An empty queue that holds at most `capacity` items (at least one).
    pub fn new(capacity: usize) -> BoundedQueue<T> {
        BoundedQueue {
            items: SegQueue::new(),
            len: AtomicUsize::new(0),
            capacity: capacity.max(1),
        }
    }

    /// Adds `item` at the back, or gives it back when the queue is full.
    pub fn push(&self, item: T) -> Result<(), T> {
        // Reserve a place first, so concurrent pushes never exceed the bound.
        if self.len.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.len.fetch_sub(1, Ordering::AcqRel);
            return Err(item);
        }
        self.items.push(item);
        Ok(())
    }

    /// Takes the item at the front, if any.
    pub fn pop(&self) -> Option<T> {
        let item = self.items.pop()?;
        self.len.fetch_sub(1, Ordering::AcqRel);
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_beyond_its_capacity_and_frees_places_as_items_leave() {
        let q = BoundedQueue::new(2);
        assert!(q.push(1).is_ok());
        assert!(q.push(2).is_ok());
        assert_eq!(q.push(3), Err(3));
        assert_eq!(q.pop(), Some(1));
        assert!(q.push(4).is_ok());
        assert_eq!((q.pop(), q.pop(), q.pop()), (Some(2), Some(4), None));
    }

    #[test]
    fn concurrent_producers_never_exceed_the_bound() {
        let q = std::sync::Arc::new(BoundedQueue::new(1000));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let q = q.clone();
                std::thread::spawn(move || {
                    (0..1000).filter(|i| q.push(t * 1000 + i).is_ok()).count()
                })
            })
            .collect();
        let accepted: usize = threads.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(accepted, 1000);
        let mut n = 0;
        while q.pop().is_some() {
            n += 1;
        }
        assert_eq!(n, 1000);
    }
}
