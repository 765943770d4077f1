//! End-to-end sealing and signatures of messages.
//!
//! Each device has one key, Ed25519; its X25519 twin (the birationally
//! equivalent Montgomery point, as libsodium's
//! `crypto_sign_ed25519_pk_to_curve25519`) lets a sender seal to a
//! recipient whose directory record it has, with no key exchange: the
//! recipient may be out of reach for hours. The shared secret of the two
//! static keys goes through HKDF-SHA256 salted with the message id (random,
//! never reused) and bound to both public keys in sender-to-recipient
//! order, giving a ChaCha20 key and an HMAC-SHA256 key used for this one
//! message only (so a zero nonce is safe). Tag: 16 bytes of HMAC over id
//! and ciphertext. There is no forward secrecy: a stolen device key opens
//! the messages sealed to it that an attacker recorded.
//!
//! The sender signs the envelope body (ciphertext included) with its
//! Ed25519 key, so a custodian rejects forgeries before storing them; the
//! recipient signs its receipt the same way.

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use hkdf::Hkdf;
use hmac::{KeyInit, Mac};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

use super::wire::{Body, Envelope, Receipt, ReceiptBody};
use super::{MsgError, MsgId};
use crate::identity::{self, Identity, NodeId};
use crate::wire::control;

/// Bytes of tag after the ciphertext.
pub const TAG_LEN: usize = 16;
const INFO: &[u8] = b"callsign msg v1";

type HmacSha256 = hmac::Hmac<Sha256>;

/// The X25519 public key of an Ed25519 public key.
fn x25519_public(ed_pk: &[u8; 32]) -> Result<PublicKey, MsgError> {
    let vk = ed25519_dalek::VerifyingKey::from_bytes(ed_pk).map_err(|_| MsgError::BadKey)?;
    Ok(PublicKey::from(vk.to_montgomery().to_bytes()))
}

/// Cipher and MAC keys of one message from `src_pk` to `dst_pk`;
/// `ours` is the secret of whichever end is computing.
fn keys(
    ours: &Identity,
    theirs: &[u8; 32],
    src_pk: &[u8; 32],
    dst_pk: &[u8; 32],
    id: &MsgId,
) -> Result<([u8; 32], [u8; 32]), MsgError> {
    let secret = StaticSecret::from(ours.x25519_secret());
    let shared = secret.diffie_hellman(&x25519_public(theirs)?);
    if !shared.was_contributory() {
        return Err(MsgError::BadKey);
    }
    let hk = Hkdf::<Sha256>::new(Some(id), shared.as_bytes());
    let mut okm = [0u8; 64];
    // 64 bytes is far below HKDF-SHA256's limit: cannot fail.
    let _ = hk.expand_multi_info(&[INFO, src_pk, dst_pk], &mut okm);
    let mut c = [0u8; 32];
    let mut m = [0u8; 32];
    c.copy_from_slice(&okm[..32]);
    m.copy_from_slice(&okm[32..]);
    Ok((c, m))
}

fn tag(mac_key: &[u8; 32], id: &MsgId, ct: &[u8]) -> [u8; TAG_LEN] {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(mac_key)
        .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()));
    m.update(id);
    m.update(ct);
    let full = m.finalize().into_bytes();
    let mut t = [0u8; TAG_LEN];
    t.copy_from_slice(&full[..TAG_LEN]);
    t
}

/// Seal `plain` from `sender` to the device whose Ed25519 key is `dst_pk`.
pub fn seal(
    sender: &Identity,
    dst_pk: &[u8; 32],
    id: &MsgId,
    plain: &[u8],
) -> Result<Vec<u8>, MsgError> {
    let src_pk = sender.public_key();
    let (ck, mk) = keys(sender, dst_pk, &src_pk, dst_pk, id)?;
    let mut out = plain.to_vec();
    ChaCha20::new(&ck.into(), &[0u8; 12].into()).apply_keystream(&mut out);
    let t = tag(&mk, id, &out);
    out.extend_from_slice(&t);
    Ok(out)
}

/// Open what `src_pk` sealed to `me`. A relay that tries with its own key
/// gets [`MsgError::NotForUs`]: its keys differ, so the tag does not match.
pub fn open(
    me: &Identity,
    src_pk: &[u8; 32],
    id: &MsgId,
    sealed: &[u8],
) -> Result<Vec<u8>, MsgError> {
    if sealed.len() < TAG_LEN {
        return Err(MsgError::NotForUs);
    }
    let (ct, t) = sealed.split_at(sealed.len() - TAG_LEN);
    let (ck, mk) = keys(me, src_pk, src_pk, &me.public_key(), id)?;
    // Constant time is not needed against a tag that is checked once per
    // stored message, but costs nothing.
    let want = tag(&mk, id, ct);
    if want.iter().zip(t).fold(0u8, |a, (x, y)| a | (x ^ y)) != 0 {
        return Err(MsgError::NotForUs);
    }
    let mut out = ct.to_vec();
    ChaCha20::new(&ck.into(), &[0u8; 12].into()).apply_keystream(&mut out);
    Ok(out)
}

/// Sign `body` as an envelope.
pub fn sign_envelope(sender: &Identity, body: &Body) -> Envelope {
    let bytes = control::encode(body);
    let sig = sender.sign(&bytes);
    Envelope { body: bytes, sig }
}

/// The body of a genuine envelope: the signature verifies under
/// `src_key`, and `src` is that key's id.
pub fn verify_envelope(env: &Envelope) -> Result<Body, MsgError> {
    let body: Body = control::decode(&env.body).map_err(|e| MsgError::Malformed(e.to_string()))?;
    if NodeId::from_public_key(&body.src_key) != body.src {
        return Err(MsgError::BadSignature);
    }
    identity::verify(&body.src_key, &env.body, &env.sig).map_err(|_| MsgError::BadSignature)?;
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
