//! Seeded randomness for the core: xoshiro256++ seeded through SplitMix64
//! for timers and choices, and [`KeyRng`], a ChaCha20 keystream, for key
//! material. Every node owns its generators, seeded by its driver (the
//! daemon from the OS, the simulator from the run's seed), so a simulation
//! is replayed exactly from its seed. No global or OS randomness is ever
//! read here.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut st = seed;
        Rng {
            s: [
                splitmix(&mut st),
                splitmix(&mut st),
                splitmix(&mut st),
                splitmix(&mut st),
            ],
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [0, n); 0 when n is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// `d` scaled by a uniform factor in [1 - frac, 1 + frac]: timers are
    /// jittered so that neighbours do not synchronise (RFC 8966 §3.1).
    pub fn jitter(&mut self, d: Duration, frac: f64) -> Duration {
        let f = 1.0 - frac + 2.0 * frac * self.f64();
        d.mul_f64(f.max(0.0))
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Random bytes for keys: the ChaCha20 keystream of a 32-byte seed.
///
/// xoshiro is fast and fine for jitter, but its state can be recovered
/// from its output; a key share drawn from it would be guessable by
/// anyone who saw a few of its outputs. A ChaCha20 keystream is a
/// cryptographic generator: with a seed from the OS its output cannot be
/// predicted, and in the simulator a seed from the run keeps it
/// reproducible.
pub struct KeyRng {
    cipher: chacha20::ChaCha20,
}

impl KeyRng {
    pub fn new(seed: [u8; 32]) -> Self {
        use chacha20::cipher::KeyIvInit;
        KeyRng {
            cipher: chacha20::ChaCha20::new(&seed.into(), &[0u8; 12].into()),
        }
    }

    /// A seed for a generator of its own, drawn from `seed` for one
    /// purpose named by `label`: generators of one node never share a
    /// stream, and drawing from one does not shift another (which keeps
    /// seeded runs as they were when a new user of keys appears).
    pub fn derive_seed(label: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update((label.len() as u32).to_be_bytes());
        h.update(label);
        for p in parts {
            h.update((p.len() as u32).to_be_bytes());
            h.update(p);
        }
        h.finalize().into()
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        use chacha20::cipher::StreamCipher;
        out.fill(0);
        self.cipher.apply_keystream(out);
    }

    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        self.fill(&mut b);
        b
    }

    pub fn next_u32(&mut self) -> u32 {
        u32::from_be_bytes(self.bytes())
    }
}

/// `rand_core`'s interface, for libraries that draw their own key
/// material (HPKE's ephemeral keys): they get this seeded stream, never
/// the OS's.
impl rand_core::TryRng for KeyRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.next_u32())
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(u64::from_be_bytes(self.bytes()))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.fill(dst);
        Ok(())
    }
}

/// A ChaCha20 keystream from a secret seed is a cryptographic generator.
impl rand_core::TryCryptoRng for KeyRng {}

impl std::fmt::Debug for KeyRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRng(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
    }

    #[test]
    fn key_rng_is_seeded_and_never_repeats_a_block() {
        let mut a = KeyRng::new([7; 32]);
        let mut b = KeyRng::new([7; 32]);
        let (x, y): ([u8; 32], [u8; 32]) = (a.bytes(), a.bytes());
        assert_eq!(x, b.bytes::<32>());
        assert_ne!(x, y);
        assert_ne!(x, KeyRng::new([8; 32]).bytes::<32>());
    }

    #[test]
    fn derived_seeds_differ_by_label_and_input() {
        let a = KeyRng::derive_seed(b"msg", &[&[1; 32]]);
        assert_eq!(a, KeyRng::derive_seed(b"msg", &[&[1; 32]]));
        assert_ne!(a, KeyRng::derive_seed(b"call", &[&[1; 32]]));
        assert_ne!(a, KeyRng::derive_seed(b"msg", &[&[2; 32]]));
        // Length-prefixed: moving a byte across the boundary changes it.
        assert_ne!(
            KeyRng::derive_seed(b"ab", &[b"c"]),
            KeyRng::derive_seed(b"a", &[b"bc"])
        );
    }

    #[test]
    fn below_is_in_range() {
        let mut r = Rng::new(1);
        for n in 1..200 {
            assert!(r.below(n) < n);
        }
    }
}
