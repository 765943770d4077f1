//! End-to-end sealing and signatures of messages.
//!
//! # Sealing: HPKE, auth mode
//!
//! Each device has one key, Ed25519; its X25519 twin (the birationally
//! equivalent Montgomery point, as libsodium's
//! `crypto_sign_ed25519_pk_to_curve25519`) lets a sender seal to a
//! recipient whose directory record it has, with no key exchange: the
//! recipient may be out of reach for hours.
//!
//! The construction is HPKE (RFC 9180) in auth mode with
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and ChaCha20-Poly1305, from the
//! `hpke` crate (a known-answer test from the RFC is below). Each message
//! gets a fresh ephemeral X25519 key from the node's key generator
//! ([`crate::rng::KeyRng`]: OS-seeded in the daemon, run-seeded in the
//! simulator); the sender's static key enters the key schedule too, so
//! only the holder of the sender's device key could have sealed it. The
//! AEAD's associated data is every other field of the signed [`Body`]
//! (id, sender, recipient, sequence, times, construction), so a sealed
//! text cannot be moved into another envelope.
//!
//! What that gives, honestly:
//! - **Confidentiality and integrity** against relays and custodians: they
//!   carry what they cannot read or change undetected (the AEAD's own
//!   verification, constant time).
//! - **Sender authentication** to the recipient, by the auth mode, on top
//!   of the envelope signature every custodian checks.
//! - **Forward secrecy for the sender side only**: the ephemeral secret is
//!   gone once the message is sealed, so a sender's device stolen later
//!   does not open what it sent. A stolen *recipient* key still opens
//!   every message sealed to it that an attacker recorded (the ephemeral
//!   key meets the recipient's static key; a store-and-forward recipient
//!   that may be offline for hours has no fresh key to offer). A stolen
//!   sender key also lets its holder seal messages that look like that
//!   sender's, as with any signature key; shut it out by revocation.
//!
//! # Layout and versions
//!
//! `Body::sealed` is `enc` (the 32-byte ephemeral public key) followed by
//! the ChaCha20-Poly1305 ciphertext and its 16-byte tag. `Body::seal`
//! names the construction ([`SEAL_HPKE`]). Envelopes made before it
//! existed decode with `seal = 0` (the static-static ChaCha20 + truncated
//! HMAC construction, no longer opened) and are refused by
//! [`verify_envelope`] with [`MsgError::OldSeal`], so a stale store says
//! so instead of yielding garbage.
//!
//! # Signatures
//!
//! The sender signs the envelope body (ciphertext included) with its
//! Ed25519 key, so a custodian rejects forgeries before storing them; the
//! recipient signs its receipt the same way.

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};

use super::MsgError;
use super::wire::{Body, Envelope, Receipt, ReceiptBody};
use crate::identity::{self, Identity, NodeId};
use crate::rng::KeyRng;
use crate::wire::control;

/// `Body::seal` of texts sealed with HPKE auth mode as above.
pub const SEAL_HPKE: u8 = 2;
/// Bytes of the encapsulated (ephemeral public) key before the ciphertext.
pub const ENC_LEN: usize = 32;
/// Bytes of the AEAD tag after the ciphertext.
pub const TAG_LEN: usize = 16;
/// Bytes a sealed text adds to its plaintext.
pub const OVERHEAD: usize = ENC_LEN + TAG_LEN;
/// HPKE `info`: names the protocol and its version, so keys derived here
/// are never those of another use of the same device keys.
const INFO: &[u8] = b"callsign msg v2";

type Suite = X25519HkdfSha256;
type PrivateKey = <Suite as Kem>::PrivateKey;
type PublicKey = <Suite as Kem>::PublicKey;
type EncappedKey = <Suite as Kem>::EncappedKey;

/// The X25519 public key of an Ed25519 public key.
fn x25519_public(ed_pk: &[u8; 32]) -> Result<PublicKey, MsgError> {
    let vk = ed25519_dalek::VerifyingKey::from_bytes(ed_pk).map_err(|_| MsgError::BadKey)?;
    PublicKey::from_bytes(&vk.to_montgomery().to_bytes()).map_err(|_| MsgError::BadKey)
}

fn x25519_secret(me: &Identity) -> Result<PrivateKey, MsgError> {
    PrivateKey::from_bytes(&me.x25519_secret()).map_err(|_| MsgError::BadKey)
}

/// The associated data: every field of `body` but the sealed bytes, in a
/// fixed layout (the CBOR of the body itself would contain them).
fn aad(body: &Body) -> Vec<u8> {
    let mut a = Vec::with_capacity(1 + 16 + 16 + 32 + 16 + 24);
    a.push(body.seal);
    a.extend_from_slice(&body.id);
    a.extend_from_slice(&body.src.0);
    a.extend_from_slice(&body.src_key);
    a.extend_from_slice(&body.dst.0);
    a.extend_from_slice(&body.seq.to_be_bytes());
    a.extend_from_slice(&body.created_ms.to_be_bytes());
    a.extend_from_slice(&body.expires_ms.to_be_bytes());
    a
}

/// Seal `plain` from `sender` to the device whose Ed25519 key is `dst_pk`,
/// into `body.sealed` (every other field of `body` filled in first: they
/// are bound to the ciphertext). The ephemeral key comes from `keys`.
pub fn seal(
    sender: &Identity,
    dst_pk: &[u8; 32],
    body: &mut Body,
    plain: &[u8],
    keys: &mut KeyRng,
) -> Result<(), MsgError> {
    body.seal = SEAL_HPKE;
    let pk_r = x25519_public(dst_pk)?;
    let sk_s = x25519_secret(sender)?;
    let pk_s = Suite::sk_to_pk(&sk_s);
    let mode = OpModeS::Auth((sk_s, pk_s));
    let (enc, ct) = hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, Suite>(
        &mode,
        &pk_r,
        INFO,
        plain,
        &aad(body),
        keys,
    )
    // Only a low-order recipient key makes encapsulation fail.
    .map_err(|_| MsgError::BadKey)?;
    let mut out = Vec::with_capacity(ENC_LEN + ct.len());
    out.extend_from_slice(&enc.to_bytes());
    out.extend_from_slice(&ct);
    body.sealed = out;
    Ok(())
}

/// Open what `body.src_key` sealed to `me`. A relay that tries with its
/// own key, and anything changed on the way, gets [`MsgError::NotForUs`]:
/// the AEAD does not verify.
pub fn open(me: &Identity, body: &Body) -> Result<Vec<u8>, MsgError> {
    if body.seal != SEAL_HPKE {
        return Err(MsgError::OldSeal(body.seal));
    }
    if body.sealed.len() < OVERHEAD {
        return Err(MsgError::NotForUs);
    }
    let (enc, ct) = body.sealed.split_at(ENC_LEN);
    let enc = EncappedKey::from_bytes(enc).map_err(|_| MsgError::NotForUs)?;
    let sk_r = x25519_secret(me)?;
    let pk_s = x25519_public(&body.src_key)?;
    hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Suite>(
        &OpModeR::Auth(pk_s),
        &sk_r,
        &enc,
        INFO,
        ct,
        &aad(body),
    )
    .map_err(|_| MsgError::NotForUs)
}

/// Sign `body` as an envelope.
pub fn sign_envelope(sender: &Identity, body: &Body) -> Envelope {
    let bytes = control::encode(body);
    let sig = sender.sign(&bytes);
    Envelope { body: bytes, sig }
}

/// The body of a genuine envelope: the signature verifies under
/// `src_key`, `src` is that key's id, and the text is sealed with the
/// construction this version opens.
pub fn verify_envelope(env: &Envelope) -> Result<Body, MsgError> {
    let body: Body = control::decode(&env.body).map_err(|e| MsgError::Malformed(e.to_string()))?;
    if NodeId::from_public_key(&body.src_key) != body.src {
        return Err(MsgError::BadSignature);
    }
    identity::verify(&body.src_key, &env.body, &env.sig).map_err(|_| MsgError::BadSignature)?;
    if body.seal != SEAL_HPKE {
        return Err(MsgError::OldSeal(body.seal));
    }
    Ok(body)
}

pub fn sign_receipt(recipient: &Identity, body: &ReceiptBody) -> Receipt {
    let bytes = control::encode(body);
    let sig = recipient.sign(&bytes);
    Receipt { body: bytes, sig }
}

pub fn verify_receipt(r: &Receipt) -> Result<ReceiptBody, MsgError> {
    let body: ReceiptBody =
        control::decode(&r.body).map_err(|e| MsgError::Malformed(e.to_string()))?;
    if NodeId::from_public_key(&body.dst_key) != body.dst {
        return Err(MsgError::BadSignature);
    }
    identity::verify(&body.dst_key, &r.body, &r.sig).map_err(|_| MsgError::BadSignature)?;
    Ok(body)
}

#[cfg(test)]
#[path = "seal_tests.rs"]
mod tests;
