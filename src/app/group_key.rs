//! Talkgroup keys: what makes a talkgroup private to its members.
//!
//! A talkgroup with a key has a 32-byte secret per key epoch (from a
//! passphrase in open mode, [`passphrase_secret`]). [`EpochKey::new`]
//! expands it with HKDF-SHA256, salted with the talkgroup's flood group and
//! bound to the epoch, into three keys:
//!
//! - Voice frames, sealed like a call's media (`voice::crypto`): the header
//!   (kind, burst, seq, capture clock) stays in clear, the Opus bytes are
//!   XORed with a ChaCha20 keystream, and an HMAC-SHA256 tag over the
//!   talker's node id, the header and the ciphertext is cut to
//!   [`VOICE_TAG`] bytes. A frame costs those 4 bytes and nothing else: no
//!   key id travels, a receiver tries the current key, then the previous
//!   one during a rekey's overlap. The keystream's key is the talker's own
//!   (an HMAC of the voice key and its node id) and its nonce is burst ‖
//!   seq ‖ capture clock, so it is unique per (talker, burst, seq, epoch):
//!   a talker never reuses a burst id within its 2^30 ms (12 days) cycle,
//!   and a reboot would have to grant a burst at the very millisecond of
//!   an earlier one, with the same capture clock, under the same epoch.
//! - Floor messages and loss reports, sealed whole with ChaCha20-Poly1305
//!   (a 12-byte nonce, the sender's clock and 4 random bytes, the full
//!   16-byte tag: they are few), the sender's node id as associated data.
//!
//! What the key does not give: members are not told apart. Any holder of
//! the key can speak as another member of the same talkgroup (it can put
//! any origin on a flood it makes). Replays of sealed packets are the
//! business of [`super::group_fresh`].

use std::time::Duration;

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, Payload};
use hkdf::Hkdf;
use hmac::{KeyInit, Mac};
use sha2::Sha256;

use super::group_wire::{
    GroupRepr, GroupWireError, KIND_FLOOR, KIND_REPORT, KIND_SEALED, KIND_SEALED_VOICE, KIND_VOICE,
    SEALED_NONCE, VOICE_TAG, group_of, voice_header,
};
use crate::identity::NodeId;
use crate::time::Instant;

type HmacSha256 = hmac::Hmac<Sha256>;

/// How long the previous epoch's key is still accepted after a rekey:
/// members learn the new key at slightly different times, and a burst
/// under way when it arrives goes on under the old one.
pub const REKEY_OVERLAP: Duration = Duration::from_secs(60);
/// PBKDF2-HMAC-SHA256 rounds of an open-mode passphrase: OWASP's figure
/// for this PRF (2023). The key is stretched once per talkgroup at start
/// (under 0.1 s on a desktop core), and every guess of an attacker
/// holding recorded traffic costs the same.
pub const PASSPHRASE_ROUNDS: u32 = 600_000;

/// One epoch's key of one talkgroup and the keys derived from it.
#[derive(Clone, PartialEq, Eq)]
pub struct EpochKey {
    group: NodeId,
    epoch: u32,
    secret: [u8; 32],
    voice_cipher: [u8; 32],
    voice_mac: [u8; 32],
    control: [u8; 32],
}

impl std::fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochKey")
            .field("group", &self.group.short())
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// The 32-byte secret of an open-mode passphrase: PBKDF2-HMAC-SHA256 with
/// the talkgroup's name in the salt, so one dictionary does not serve
/// every talkgroup.
pub fn passphrase_secret(name: &str, passphrase: &[u8], rounds: u32) -> [u8; 32] {
    let salt = [
        b"callsign talkgroup passphrase\0".as_slice(),
        name.as_bytes(),
    ]
    .concat();
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(passphrase, &salt, rounds, &mut out);
    out
}

impl EpochKey {
    /// The keys of talkgroup `group` at `epoch` from its secret.
    pub fn new(group: NodeId, epoch: u32, secret: [u8; 32]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(&group.0), &secret);
        let sub = |purpose: &[u8]| {
            let mut k = [0u8; 32];
            // 32 bytes is far below HKDF-SHA256's limit: cannot fail.
            let _ = hk.expand_multi_info(
                &[b"callsign talkgroup v1 ", purpose, &epoch.to_be_bytes()],
                &mut k,
            );
            k
        };
        EpochKey {
            group,
            epoch,
            secret,
            voice_cipher: sub(b"voice cipher"),
            voice_mac: sub(b"voice mac"),
            control: sub(b"control"),
        }
    }

    /// Epoch 0 of talkgroup `name` from an open-mode passphrase (slow:
    /// [`PASSPHRASE_ROUNDS`]).
    pub fn from_passphrase(name: &str, passphrase: &[u8]) -> Self {
        EpochKey::new(
            group_of(name),
            0,
            passphrase_secret(name, passphrase, PASSPHRASE_ROUNDS),
        )
    }

    pub fn group(&self) -> NodeId {
        self.group
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The secret, to hand to another member.
    pub fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    fn mac(key: &[u8; 32]) -> HmacSha256 {
        <HmacSha256 as KeyInit>::new_from_slice(key)
            .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()))
    }

    /// XOR `data` with the talker's keystream for the frame `header` heads.
    fn voice_keystream(&self, talker: NodeId, header: &[u8; 9], data: &mut [u8]) {
        // The nonce has room for burst, seq and capture clock but not the
        // talker's 16-byte id, so the id goes into the key.
        let mut m = Self::mac(&self.voice_cipher);
        m.update(&talker.0);
        let k: [u8; 32] = m.finalize().into_bytes().into();
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&header[1..]);
        ChaCha20::new(&k.into(), &nonce.into()).apply_keystream(data);
    }

    fn voice_tag(&self, talker: NodeId, header: &[u8; 9], cipher_text: &[u8]) -> HmacSha256 {
        let mut m = Self::mac(&self.voice_mac);
        m.update(&talker.0);
        m.update(header);
        m.update(cipher_text);
        m
    }

    /// A voice frame of ours, sealed: header, ciphertext, tag.
    pub fn seal_voice(
        &self,
        talker: NodeId,
        burst: u32,
        seq: u16,
        capture_ms: u16,
        opus: &[u8],
    ) -> Vec<u8> {
        let header = voice_header(KIND_SEALED_VOICE, burst, seq, capture_ms);
        let mut out = Vec::with_capacity(header.len() + opus.len() + VOICE_TAG);
        out.extend_from_slice(&header);
        out.extend_from_slice(opus);
        self.voice_keystream(talker, &header, &mut out[header.len()..]);
        let tag = self
            .voice_tag(talker, &header, &out[header.len()..])
            .finalize()
            .into_bytes();
        out.extend_from_slice(&tag[..VOICE_TAG]);
        out
    }

    /// A sealed voice frame's Opus bytes, if its tag checks (constant time).
    fn open_voice(
        &self,
        talker: NodeId,
        header: &[u8; 9],
        sealed: &[u8],
    ) -> Result<Vec<u8>, GroupWireError> {
        let n = sealed
            .len()
            .checked_sub(VOICE_TAG)
            .ok_or(GroupWireError::Unauthentic)?;
        let (body, tag) = sealed.split_at(n);
        self.voice_tag(talker, header, body)
            .verify_truncated_left(tag)
            .map_err(|_| GroupWireError::Unauthentic)?;
        let mut plain = body.to_vec();
        self.voice_keystream(talker, header, &mut plain);
        Ok(plain)
    }

    fn aead(&self) -> ChaCha20Poly1305 {
        <ChaCha20Poly1305 as chacha20poly1305::KeyInit>::new(&self.control.into())
    }

    fn control_aad(sender: NodeId) -> [u8; 17] {
        let mut aad = [0u8; 17];
        aad[0] = KIND_SEALED;
        aad[1..].copy_from_slice(&sender.0);
        aad
    }

    /// A floor message or loss report of ours (its plain packet bytes),
    /// sealed under a fresh `nonce`.
    pub fn seal_control(&self, sender: NodeId, nonce: [u8; SEALED_NONCE], plain: &[u8]) -> Vec<u8> {
        let aad = Self::control_aad(sender);
        // Encryption fails only beyond 256 GiB: an empty box, refused by
        // every receiver, is all that could ever come out of it.
        let sealed = self
            .aead()
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        GroupRepr::Sealed {
            nonce,
            sealed: &sealed,
        }
        .emit()
    }

    fn open_control(
        &self,
        sender: NodeId,
        nonce: &[u8; SEALED_NONCE],
        sealed: &[u8],
    ) -> Result<Vec<u8>, GroupWireError> {
        let aad = Self::control_aad(sender);
        self.aead()
            .decrypt(
                &(*nonce).into(),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| GroupWireError::Unauthentic)
    }
}

/// The keys of one talkgroup: the current epoch's, and the previous one's
/// until its overlap ends.
#[derive(Debug, Clone)]
pub struct GroupKeys {
    current: EpochKey,
    previous: Option<(EpochKey, Instant)>,
}

impl GroupKeys {
    pub fn new(key: EpochKey) -> Self {
        GroupKeys {
            current: key,
            previous: None,
        }
    }

    /// The key we seal with.
    pub fn current(&self) -> &EpochKey {
        &self.current
    }

    /// Move to `key`, keeping the current one readable for
    /// [`REKEY_OVERLAP`]. An older epoch is refused; the same key changes
    /// nothing. Returns whether the key was taken.
    pub fn install(&mut self, now: Instant, key: EpochKey) -> bool {
        if key.group != self.current.group || key.epoch < self.current.epoch || key == self.current
        {
            return false;
        }
        let old = std::mem::replace(&mut self.current, key);
        self.previous = Some((old, now + REKEY_OVERLAP));
        true
    }

    /// The keys a received packet may be sealed with, newest first.
    fn readable(&self, now: Instant) -> impl Iterator<Item = &EpochKey> {
        std::iter::once(&self.current).chain(
            self.previous
                .as_ref()
                .filter(|(_, until)| now < *until)
                .map(|(k, _)| k),
        )
    }

    /// A packet `sender` sent on this talkgroup, opened: the plain packet
    /// bytes (a kind 0x01, 0x02 or 0x03 packet, for [`GroupRepr::parse`]).
    /// Plain packets are refused: on a keyed talkgroup they come from
    /// outside it.
    pub fn open(
        &self,
        now: Instant,
        sender: NodeId,
        bytes: &[u8],
    ) -> Result<Vec<u8>, GroupWireError> {
        match GroupRepr::parse(bytes)? {
            GroupRepr::SealedVoice {
                burst,
                seq,
                capture_ms,
                sealed,
            } => {
                let header = voice_header(KIND_SEALED_VOICE, burst, seq, capture_ms);
                for k in self.readable(now) {
                    if let Ok(opus) = k.open_voice(sender, &header, sealed) {
                        let mut v = voice_header(KIND_VOICE, burst, seq, capture_ms).to_vec();
                        v.extend_from_slice(&opus);
                        return Ok(v);
                    }
                }
                Err(GroupWireError::Unauthentic)
            }
            GroupRepr::Sealed { nonce, sealed } => {
                let plain = self
                    .readable(now)
                    .find_map(|k| k.open_control(sender, &nonce, sealed).ok())
                    .ok_or(GroupWireError::Unauthentic)?;
                match plain.first().copied() {
                    Some(KIND_FLOOR | KIND_REPORT) => Ok(plain),
                    k => Err(GroupWireError::BadSealedKind(k.unwrap_or(0))),
                }
            }
            _ => Err(GroupWireError::Unauthentic),
        }
    }
}

#[cfg(test)]
#[path = "group_key_tests.rs"]
mod tests;
