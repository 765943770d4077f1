//! The syntax of role, person and talkgroup names, and of the short texts
//! that ride with them: one definition for the directory, the trust
//! layer's role patterns, the SIP layers and the application, so it lives
//! below all of them.

/// Longest name (a DNS label's limit; dotted names count every byte).
pub const MAX_NAME_LEN: usize = 63;
/// Longest agency or unit text.
pub const MAX_TEXT: usize = 48;

/// Lowercase DNS-label-like: `[a-z0-9-]` labels joined by dots, no empty
/// label, no label starting or ending with `-`, 1..=63 bytes in all.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}
