//! End-to-end media keys for a 1:1 call.
//!
//! Each side makes an ephemeral X25519 [`KeyShare`] from 32 random bytes the
//! driver supplies, the public halves travel in the call signalling (signed
//! by the device keys, see `session`), and [`MediaKeys::derive`] turns the
//! shared secret into one key pair per direction with HKDF-SHA256, salted
//! with the call id and bound to both public shares.
//!
//! A frame is sealed SRTP-style: ChaCha20 keystream (nonce = flow label ‖
//! 64-bit frame index, so a nonce never repeats within one direction's key)
//! and an HMAC-SHA256 tag truncated to 4 bytes, like SRTP's
//! `AES_CM_128_HMAC_SHA1_32`. A 4-byte tag lets a forger succeed once in
//! 2^32 tries per frame; for 20 ms of audio that is the accepted trade
//! against 12 more bytes on every frame of a narrow radio link.
//!
//! Relays see only ciphertext; flow packets carry no hop MAC in secured mode
//! because this tag already authenticates the payload end to end.

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use hkdf::Hkdf;
use hmac::{KeyInit, Mac};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

use super::VoiceError;

/// Bytes of authentication tag appended to every sealed frame.
pub const TAG_LEN: usize = 4;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Domain separation for the HKDF expansion of each direction.
const INFO_CALLER_TO_CALLEE: &[u8] = b"callsign voice v1 caller->callee";
const INFO_CALLEE_TO_CALLER: &[u8] = b"callsign voice v1 callee->caller";

/// An X25519 ephemeral key for one call, made from caller-supplied random
/// bytes (the core never reads the OS random source).
pub struct KeyShare {
    secret: StaticSecret,
    public: PublicKey,
}

impl std::fmt::Debug for KeyShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyShare")
            .field("public", &self.public.as_bytes())
            .finish_non_exhaustive()
    }
}

impl KeyShare {
    /// `random` must be 32 fresh bytes from a CSPRNG; the scalar is clamped
    /// by X25519 itself.
    pub fn new(random: [u8; 32]) -> Self {
        let secret = StaticSecret::from(random);
        let public = PublicKey::from(&secret);
        KeyShare { secret, public }
    }

    /// The public half, to send to the peer.
    pub fn public(&self) -> [u8; 32] {
        self.public.to_bytes()
    }
}

/// Keys of one direction: ChaCha20 key and HMAC key.
#[derive(Clone)]
struct DirectionKeys {
    cipher: [u8; 32],
    mac: [u8; 32],
}

impl DirectionKeys {
    fn expand(hk: &Hkdf<Sha256>, info: &[u8], caller: &[u8; 32], callee: &[u8; 32]) -> Self {
        let mut okm = [0u8; 64];
        // 64 bytes is far below HKDF-SHA256's 255 * 32 limit: cannot fail.
        let _ = hk.expand_multi_info(&[info, caller, callee], &mut okm);
        let mut cipher = [0u8; 32];
        let mut mac = [0u8; 32];
        cipher.copy_from_slice(&okm[..32]);
        mac.copy_from_slice(&okm[32..]);
        DirectionKeys { cipher, mac }
    }

    fn keystream(&self, label: u32, index: u64, data: &mut [u8]) {
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&label.to_be_bytes());
        nonce[4..].copy_from_slice(&index.to_be_bytes());
        let mut c = ChaCha20::new(&self.cipher.into(), &nonce.into());
        c.apply_keystream(data);
    }

    fn tag(&self, label: u32, index: u64, cipher_text: &[u8]) -> HmacSha256 {
        let mut m = <HmacSha256 as KeyInit>::new_from_slice(&self.mac)
            .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()));
        m.update(&label.to_be_bytes());
        m.update(&index.to_be_bytes());
        m.update(cipher_text);
        m
    }
}

/// The media keys of one call: `tx` seals what we send, `rx` opens what
/// the peer sends.
#[derive(Clone)]
pub struct MediaKeys {
    tx: DirectionKeys,
    rx: DirectionKeys,
}

impl std::fmt::Debug for MediaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediaKeys(..)")
    }
}

impl MediaKeys {
    /// Derive both directions' keys. `we_called` picks which direction is
    /// ours; the two ends of a call pass opposite values and get mirrored
    /// keys. Fails if the peer's share is a low-order point.
    pub fn derive(
        ours: &KeyShare,
        theirs: &[u8; 32],
        call_id: &[u8],
        we_called: bool,
    ) -> Result<Self, VoiceError> {
        let shared = ours.secret.diffie_hellman(&PublicKey::from(*theirs));
        if !shared.was_contributory() {
            return Err(VoiceError::LowOrderPoint);
        }
        let hk = Hkdf::<Sha256>::new(Some(call_id), shared.as_bytes());
        let ours_pub = ours.public();
        let (caller, callee) = if we_called {
            (&ours_pub, theirs)
        } else {
            (theirs, &ours_pub)
        };
        let up = DirectionKeys::expand(&hk, INFO_CALLER_TO_CALLEE, caller, callee);
        let down = DirectionKeys::expand(&hk, INFO_CALLEE_TO_CALLER, caller, callee);
        Ok(if we_called {
            MediaKeys { tx: up, rx: down }
        } else {
            MediaKeys { tx: down, rx: up }
        })
    }

    /// Encrypt and tag one frame: ciphertext (same length as `plain`) then
    /// a [`TAG_LEN`]-byte tag. `index` must never repeat for one `label`.
    pub fn seal(&self, label: u32, index: u64, plain: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plain.len() + TAG_LEN);
        out.extend_from_slice(plain);
        self.tx.keystream(label, index, &mut out);
        let tag = self.tx.tag(label, index, &out).finalize().into_bytes();
        out.extend_from_slice(&tag[..TAG_LEN]);
        out
    }

    /// Check the tag (constant time) and decrypt a frame sealed by the peer.
    pub fn open(&self, label: u32, index: u64, sealed: &[u8]) -> Result<Vec<u8>, VoiceError> {
        let body_len = sealed
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(VoiceError::ShortSealed(sealed.len()))?;
        let (body, tag) = sealed.split_at(body_len);
        self.rx
            .tag(label, index, body)
            .verify_truncated_left(tag)
            .map_err(|_| VoiceError::BadTag)?;
        let mut plain = body.to_vec();
        self.rx.keystream(label, index, &mut plain);
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pair() -> (MediaKeys, MediaKeys) {
        let a = KeyShare::new([1; 32]);
        let b = KeyShare::new([2; 32]);
        let ka = MediaKeys::derive(&a, &b.public(), b"call-1", true).unwrap();
        let kb = MediaKeys::derive(&b, &a.public(), b"call-1", false).unwrap();
        (ka, kb)
    }

    #[test]
    fn round_trip_both_directions() {
        let (a, b) = pair();
        let s = a.seal(7, 42, b"opus bytes");
        assert_eq!(s.len(), 10 + TAG_LEN);
        assert_ne!(&s[..10], b"opus bytes");
        assert_eq!(b.open(7, 42, &s).unwrap(), b"opus bytes");
        let s = b.seal(9, 1, b"reply");
        assert_eq!(a.open(9, 1, &s).unwrap(), b"reply");
        // An empty frame still carries a tag.
        assert_eq!(b.open(7, 0, &a.seal(7, 0, b"")).unwrap(), b"");
    }

    #[test]
    fn directions_use_different_keys() {
        let (a, b) = pair();
        // Our own frames do not open with our receive key (no reflection).
        let s = a.seal(7, 42, b"hello");
        assert_eq!(a.open(7, 42, &s), Err(VoiceError::BadTag));
        assert_ne!(a.seal(7, 42, b"hello"), b.seal(7, 42, b"hello"));
    }

    #[test]
    fn tamper_is_rejected() {
        let (a, b) = pair();
        let s = a.seal(7, 42, b"opus bytes");
        for i in 0..s.len() {
            let mut t = s.clone();
            t[i] ^= 0x01;
            assert_eq!(b.open(7, 42, &t), Err(VoiceError::BadTag), "byte {i}");
        }
        // Wrong index or label: the nonce and the tag input differ.
        assert_eq!(b.open(7, 43, &s), Err(VoiceError::BadTag));
        assert_eq!(b.open(8, 42, &s), Err(VoiceError::BadTag));
        assert_eq!(b.open(7, 42, &s[..3]), Err(VoiceError::ShortSealed(3)));
    }

    #[test]
    fn wrong_key_is_rejected() {
        let (a, _) = pair();
        let c = KeyShare::new([3; 32]);
        let a_pub = KeyShare::new([1; 32]).public();
        let kc = MediaKeys::derive(&c, &a_pub, b"call-1", false).unwrap();
        assert_eq!(kc.open(7, 1, &a.seal(7, 1, b"x")), Err(VoiceError::BadTag));
        // Same shares, another call id: other keys.
        let a2 = KeyShare::new([1; 32]);
        let b2 = KeyShare::new([2; 32]);
        let kb_other = MediaKeys::derive(&b2, &a2.public(), b"call-2", false).unwrap();
        assert_eq!(
            kb_other.open(7, 1, &a.seal(7, 1, b"x")),
            Err(VoiceError::BadTag)
        );
    }

    #[test]
    fn low_order_points_are_refused() {
        let ours = KeyShare::new([5; 32]);
        // The identity and a point of order 8 on Curve25519.
        let mut order8 = [0u8; 32];
        order8[..8].copy_from_slice(&[0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae]);
        order8[8..16].copy_from_slice(&[0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a]);
        order8[16..24].copy_from_slice(&[0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd]);
        order8[24..].copy_from_slice(&[0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00]);
        let mut one = [0u8; 32];
        one[0] = 1;
        for bad in [[0u8; 32], one, order8] {
            assert_eq!(
                MediaKeys::derive(&ours, &bad, b"c", true).err(),
                Some(VoiceError::LowOrderPoint)
            );
        }
    }

    proptest! {
        #[test]
        fn open_is_total(label in any::<u32>(), index in any::<u64>(), bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let (_, b) = pair();
            prop_assert!(b.open(label, index, &bytes).is_err());
        }

        #[test]
        fn seal_open_round_trip(label in any::<u32>(), index in any::<u64>(), plain in proptest::collection::vec(any::<u8>(), 0..200)) {
            let (a, b) = pair();
            prop_assert_eq!(b.open(label, index, &a.seal(label, index, &plain)), Ok(plain));
        }
    }
}
