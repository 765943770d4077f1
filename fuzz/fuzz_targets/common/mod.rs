//! Helpers shared by fuzz targets (included with `mod common;`; not a
//! target of its own).

use std::sync::OnceLock;

use callsign::identity::Identity;

/// The identity from secret `[secret; 32]`, for secret 9, 1 or 2. Derived
/// once: a key pair per input (an instrumented scalar multiplication under
/// ASan) cost more than the decoding it fuzzes.
pub fn ident(secret: u8) -> Identity {
    static IDS: OnceLock<[Identity; 3]> = OnceLock::new();
    let ids = IDS.get_or_init(|| [9, 1, 2].map(|s| Identity::from_secret(&[s; 32])));
    let i = [9, 1, 2]
        .iter()
        .position(|s| *s == secret)
        .expect("a known secret");
    ids[i].clone()
}
