//! Private talkgroups in the application: the keys a talkgroup is given,
//! sealing what it sends, and opening what it receives before the floor
//! or the playout sees it ([`super::group_key`] says the construction,
//! [`super::group_fresh`] the replay checks).
//!
//! A packet that does not open with the talkgroup's key, or comes plain on
//! a keyed talkgroup, is dropped and counted in [`super::AppStats`]
//! (`tg_refused_*`); one that opens but is stale is counted as replayed;
//! a sealed one on a talkgroup we hold no key for as `tg_no_key`. None of
//! them is played, shown to the floor or planned for.

use std::borrow::Cow;

use super::App;
use super::group_fresh::clock_ms;
use super::group_key::EpochKey;
use super::group_wire::{GroupPacket, KIND_SEALED, KIND_SEALED_VOICE, KIND_VOICE, group_of};
use crate::identity::NodeId;
use crate::time::Instant;

impl App {
    /// Make a talkgroup private under `key`, or move it to a newer epoch
    /// (the old key stays readable for [`super::group_key::REKEY_OVERLAP`]).
    /// False if refused: an older epoch, the key it has, or too many keys.
    pub fn set_talkgroup_key(&mut self, now: Instant, key: EpochKey) -> bool {
        self.groups.install_key(now, key)
    }

    /// The key a talkgroup seals with, if it has one.
    pub fn talkgroup_key(&self, name: &str) -> Option<&EpochKey> {
        self.groups.keys.get(&group_of(name)).map(|k| k.current())
    }

    /// A floor message or loss report (its plain bytes) as it goes out on
    /// `group`: sealed when the talkgroup has a key. The nonce is our
    /// clock (for [`super::group_fresh`]) and four random bytes.
    pub(super) fn seal_control(&mut self, now: Instant, group: NodeId, plain: Vec<u8>) -> Vec<u8> {
        match self.groups.keys.get(&group) {
            Some(k) => {
                let r = self.keys.next_u32();
                let mut n = [0u8; 12];
                n[..8].copy_from_slice(&clock_ms(now).to_be_bytes());
                n[8..].copy_from_slice(&r.to_be_bytes());
                k.current().seal_control(self.node.id(), n, &plain)
            }
            None => plain,
        }
    }

    /// A voice frame of ours on `group`: sealed when the talkgroup has a
    /// key, else `None` (the caller emits it plain).
    pub(super) fn seal_voice(
        &self,
        group: NodeId,
        burst: u32,
        seq: u16,
        capture_ms: u16,
        body: &[u8],
    ) -> Option<Vec<u8>> {
        let k = self.groups.keys.get(&group)?;
        Some(
            k.current()
                .seal_voice(self.node.id(), burst, seq, capture_ms, body),
        )
    }

    /// A flood on one of our talkgroups, as the rest of this layer may see
    /// it: opened (a keyed talkgroup), as it came (an open one), or `None`
    /// when refused (and counted).
    pub(super) fn open_group_packet<'a>(
        &mut self,
        now: Instant,
        src: NodeId,
        g: NodeId,
        payload: &'a [u8],
    ) -> Option<Cow<'a, [u8]>> {
        let Some(k) = self.groups.keys.get(&g) else {
            if matches!(payload.first(), Some(&(KIND_SEALED | KIND_SEALED_VOICE))) {
                self.stats.tg_no_key += 1;
                return None;
            }
            return Some(Cow::Borrowed(payload));
        };
        match k.open(now, src, payload) {
            Ok(p) => self.fresh(now, src, payload).then_some(Cow::Owned(p)),
            Err(e) => {
                let s = &mut self.stats;
                match payload.first() {
                    Some(&(KIND_VOICE | KIND_SEALED_VOICE)) => s.tg_refused_voice += 1,
                    _ => s.tg_refused_floor += 1,
                }
                tracing::debug!(from = %src.short(), "talkgroup packet refused: {e}");
                None
            }
        }
    }

    /// A loss report's unicast, opened: the keyed talkgroup it opened for
    /// (a sealed one opens with the key of a talkgroup we talk on) and the
    /// plain report, or `None` when refused (and counted).
    pub(super) fn open_report(
        &mut self,
        now: Instant,
        src: NodeId,
        payload: &[u8],
    ) -> Option<(Option<NodeId>, Vec<u8>)> {
        if payload.first() != Some(&KIND_SEALED) {
            return Some((None, payload.to_vec()));
        }
        let opened = self.groups.groups.iter().find_map(|(g, t)| {
            t.talking_burst()?;
            let k = self.groups.keys.get(g)?;
            k.open(now, src, payload).ok().map(|p| (*g, p))
        });
        match opened {
            Some((g, p)) => self.fresh(now, src, payload).then_some((Some(g), p)),
            None => {
                self.stats.tg_refused_report += 1;
                None
            }
        }
    }

    /// An authenticated sealed packet from `src`: is it fresh? (A replay
    /// is counted.)
    fn fresh(&mut self, now: Instant, src: NodeId, sealed: &[u8]) -> bool {
        let Ok(p) = GroupPacket::new_checked(sealed) else {
            return false;
        };
        let fresh = match p.kind() {
            KIND_SEALED => {
                let mut c = [0u8; 8];
                c.copy_from_slice(&p.nonce()[..8]);
                self.groups.fresh.control(now, src, u64::from_be_bytes(c))
            }
            _ => self.groups.fresh.voice(now, src, p.burst(), p.seq()),
        };
        if !fresh {
            self.stats.tg_replayed += 1;
            tracing::debug!(from = %src.short(), "talkgroup packet replayed or stale");
        }
        fresh
    }
}
