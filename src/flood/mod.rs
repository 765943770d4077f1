//! Mesh-wide group delivery.
//!
//! A flooded packet is rebroadcast only by the neighbours its sender chose as
//! multipoint relays (MPRs, RFC 3626 §3.4: a small set of one-hop neighbours
//! that covers every two-hop neighbour), and each node handles a packet once:
//! a bounded cache of `(source, sequence)` suppresses duplicates. MPR
//! selection itself lives in [`crate::link::select_mprs`], next to the
//! neighbour table whose IHU lists feed it.

pub mod repair;

use std::collections::{BTreeSet, VecDeque};

use crate::identity::NodeId;

/// Most `(source, sequence)` pairs remembered; the oldest is forgotten first.
/// At 50 voice frames/s from 10 talkers that is 8 s of history.
pub const DUP_CACHE: usize = 4096;
/// The same for voice floods, which have a sequence of their own: copies
/// of a frame arrive within milliseconds, so 20 s of one talker (5 s of
/// four) is plenty.
pub const VOICE_DUP_CACHE: usize = 1024;

/// Bounded duplicate cache with FIFO eviction.
#[derive(Debug, Default)]
pub struct DupCache {
    set: BTreeSet<(NodeId, u32)>,
    order: VecDeque<(NodeId, u32)>,
    cap: usize,
}

impl DupCache {
    pub fn new(cap: usize) -> Self {
        DupCache {
            set: BTreeSet::new(),
            order: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    /// Insert; returns false if it was already there (a duplicate).
    pub fn insert(&mut self, src: NodeId, seq: u32) -> bool {
        if !self.set.insert((src, seq)) {
            return false;
        }
        self.order.push_back((src, seq));
        if self.order.len() > self.cap
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }

    pub fn contains(&self, src: NodeId, seq: u32) -> bool {
        self.set.contains(&(src, seq))
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_suppressed_and_cache_is_bounded() {
        let mut c = DupCache::new(3);
        let a = NodeId([1; 16]);
        assert!(c.insert(a, 1));
        assert!(!c.insert(a, 1));
        for s in 2..10 {
            assert!(c.insert(a, s));
        }
        assert_eq!(c.len(), 3);
        assert!(!c.contains(a, 1));
        assert!(c.contains(a, 9));
    }
}
