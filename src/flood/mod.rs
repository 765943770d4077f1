//! Mesh-wide group delivery.
//!
//! A flooded packet is rebroadcast only by the neighbours its sender chose as
//! multipoint relays (MPRs, RFC 3626 §3.4: a small set of one-hop neighbours
//! that covers every two-hop neighbour), and each node handles a packet once:
//! a bounded cache of `(source, sequence)` suppresses duplicates. MPR
//! selection itself lives in [`crate::link::select_mprs`], next to the
//! neighbour table whose IHU lists feed it.

pub mod repair;

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use crate::identity::NodeId;

/// Most `(source, sequence)` pairs remembered; the oldest is forgotten first.
/// At 50 voice frames/s from 10 talkers that is 8 s of history.
pub const DUP_CACHE: usize = 4096;
/// The same for voice floods, which have a sequence of their own: copies
/// of a frame arrive within milliseconds, so 20 s of one talker (5 s of
/// four) is plenty.
pub const VOICE_DUP_CACHE: usize = 1024;

/// A small, fixed (unseeded, so runs repeat) hasher for keys made of node
/// ids and counters. Node ids are already hashes of public keys, so a
/// multiply-and-rotate mix spreads them well; the default SipHash cost
/// more than the lookups it served.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl IdHasher {
    fn mix(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`IdHasher`]s, for hash sets and maps that are looked up and
/// never walked, so their order cannot leak into what a node does.
pub type IdHash = BuildHasherDefault<IdHasher>;

/// Bounded duplicate cache with FIFO eviction. Looked up on every flood
/// copy heard: a hash set, since nothing walks it in order.
#[derive(Debug, Default)]
pub struct DupCache {
    set: HashSet<(NodeId, u32), IdHash>,
    order: VecDeque<(NodeId, u32)>,
    cap: usize,
}

impl DupCache {
    pub fn new(cap: usize) -> Self {
        DupCache {
            set: HashSet::default(),
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
