//! Role patterns: what a certificate permits, how it matches a name, and
//! how it is written into a certificate so that X.509 name constraints
//! apply to it.
//!
//! # Patterns
//!
//! A pattern is a role name ([`crate::wire::name::valid_name`]: dotted
//! lowercase labels) whose *first* label may be a wildcard:
//!
//! | pattern | permits | does not permit |
//! |---|---|---|
//! | `command` | `command` | `command-2`, `x.command` |
//! | `engine-*` | `engine-3`, `engine-12` | `medic-3`, `engine-`, `engine-3.x`, `x.engine-3` |
//! | `*.engine-7` | `captain.engine-7` | `engine-7`, `a.b.engine-7` |
//! | `*` | any one-label role | `captain.engine-7` |
//!
//! A wildcard stands for exactly one label (or, as `stem*`, for the rest
//! of one label, at least one character), as a DNS wildcard does. That is
//! deliberate: it is the meaning X.509 name constraint checking gives a
//! wildcard name, so what a name-constrained sub-CA may issue and what
//! the issued pattern permits are the same set.
//!
//! # Encoding in a certificate
//!
//! Each pattern is one DNS subject alternative name under [`ROLE_DOMAIN`]:
//! `command` is `command.roles.callsign.mesh`, `*.engine-7` is
//! `*.engine-7.roles.callsign.mesh`. A prefix wildcard cannot be written
//! in a DNS name (`engine-*` is not a label), so its `*` is written `_`,
//! which role names never contain: `engine-*` is
//! `engine-_.roles.callsign.mesh`. A sub-CA whose certificate permits the
//! DNS subtree `engine-7.roles.callsign.mesh` can therefore issue
//! `engine-7`, `captain.engine-7` and `*.engine-7`, and nothing broader;
//! a permitted subtree never admits a prefix pattern wider than itself,
//! because the prefix sits in the leftmost label. Constrain sub-CAs with
//! *permitted* subtrees: an *excluded* subtree does not catch a prefix
//! pattern that could expand into it (`comm_` is not inside `command`).

use crate::wire::name::{MAX_NAME_LEN, valid_name};

/// The DNS suffix under which role patterns are written.
pub const ROLE_DOMAIN: &str = "roles.callsign.mesh";
/// The DNS suffix under which talkgroup patterns are written: the same
/// patterns and encoding, naming the talkgroups a device may join (issue
/// with `callsign ca issue --talkgroups`).
pub const TALKGROUP_DOMAIN: &str = "talkgroups.callsign.mesh";
/// Most role patterns one certificate may carry (bounds the certificate
/// size and the cache).
pub const MAX_ROLES: usize = 16;

/// Whether `pattern` is a well-formed role pattern (see the module doc).
pub fn valid_pattern(pattern: &str) -> bool {
    if pattern.len() > MAX_NAME_LEN {
        return false;
    }
    let (first, rest) = match pattern.split_once('.') {
        Some((f, r)) => (f, Some(r)),
        None => (pattern, None),
    };
    if rest.is_some_and(|r| !valid_name(r)) {
        return false;
    }
    match first.strip_suffix('*') {
        Some("") => true,
        // The stem must be a valid start of a label: checked by pretending
        // it is followed by one more character.
        Some(stem) => !stem.contains('*') && valid_name(&format!("{stem}0")),
        None => valid_name(first),
    }
}

/// Whether `pattern` permits the role `name`. Both are expected valid; an
/// invalid pattern or name permits nothing.
pub fn permits(pattern: &str, name: &str) -> bool {
    if !valid_pattern(pattern) || !valid_name(name) {
        return false;
    }
    let (p_first, p_rest) = split_first(pattern);
    let (n_first, n_rest) = split_first(name);
    if p_rest != n_rest {
        return false;
    }
    match p_first.strip_suffix('*') {
        Some(stem) => n_first.len() > stem.len() && n_first.starts_with(stem),
        None => p_first == n_first,
    }
}

fn split_first(s: &str) -> (&str, Option<&str>) {
    match s.split_once('.') {
        Some((f, r)) => (f, Some(r)),
        None => (s, None),
    }
}

/// The DNS name that carries `pattern` in a certificate, or `None` for an
/// invalid pattern.
pub fn to_dns(pattern: &str) -> Option<String> {
    to_dns_in(pattern, ROLE_DOMAIN)
}

/// The pattern a DNS name carries, or `None` when the name is not a role
/// name (other SANs are ignored) or is malformed (it then permits nothing).
pub fn from_dns(dns: &str) -> Option<String> {
    from_dns_in(dns, ROLE_DOMAIN)
}

/// [`to_dns`] under another suffix ([`TALKGROUP_DOMAIN`]).
pub fn to_dns_in(pattern: &str, domain: &str) -> Option<String> {
    if !valid_pattern(pattern) {
        return None;
    }
    let (first, rest) = split_first(pattern);
    let first = match first.strip_suffix('*') {
        Some(stem) if !stem.is_empty() => format!("{stem}_"),
        _ => first.to_string(),
    };
    Some(match rest {
        Some(r) => format!("{first}.{r}.{domain}"),
        None => format!("{first}.{domain}"),
    })
}

/// [`from_dns`] under another suffix ([`TALKGROUP_DOMAIN`]).
pub fn from_dns_in(dns: &str, domain: &str) -> Option<String> {
    let body = dns.strip_suffix(domain)?.strip_suffix('.')?;
    let (first, rest) = split_first(body);
    let first = match first.strip_suffix('_') {
        Some(stem) if !stem.is_empty() => format!("{stem}*"),
        _ => first.to_string(),
    };
    let pattern = match rest {
        Some(r) => format!("{first}.{r}"),
        None => first,
    };
    valid_pattern(&pattern).then_some(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_patterns_match_as_documented() {
        let cases = [
            ("command", "command", true),
            ("command", "command-2", false),
            ("command", "x.command", false),
            ("engine-*", "engine-3", true),
            ("engine-*", "engine-12", true),
            ("engine-*", "medic-3", false),
            ("engine-*", "engine-3.x", false),
            ("engine-*", "x.engine-3", false),
            ("engine-*", "engine", false),
            ("*.engine-7", "captain.engine-7", true),
            ("*.engine-7", "engine-7", false),
            ("*.engine-7", "a.b.engine-7", false),
            ("*", "medic-3", true),
            ("*", "captain.engine-7", false),
            ("captain.engine-7", "captain.engine-7", true),
            ("captain.engine-7", "captain.engine-8", false),
            ("cap*.engine-7", "captain.engine-7", true),
            ("cap*.engine-7", "captain.engine-8", false),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(permits(pattern, name), want, "{pattern} vs {name}");
        }
    }

    #[test]
    fn trust_invalid_patterns_are_refused_and_permit_nothing() {
        for bad in [
            "", "*engine", "en*ne", "engine.*", "-*", "**", "a.*.b", "Engine", "a..b", "e_",
        ] {
            assert!(!valid_pattern(bad), "{bad:?}");
            assert!(!permits(bad, "engine"), "{bad:?}");
            assert_eq!(to_dns(bad), None, "{bad:?}");
        }
        assert!(!permits("*", "Bad_Name"));
    }

    #[test]
    fn trust_patterns_round_trip_through_dns_names() {
        for p in [
            "command",
            "engine-*",
            "*.engine-7",
            "*",
            "captain.engine-7",
            "cap*.e",
        ] {
            let dns = to_dns(p).expect("valid");
            assert!(dns.ends_with(".roles.callsign.mesh"), "{dns}");
            assert!(!dns.contains('*') || dns.starts_with("*."), "{dns}");
            assert_eq!(from_dns(&dns).as_deref(), Some(p), "{dns}");
        }
        assert_eq!(
            to_dns("engine-*").as_deref(),
            Some("engine-_.roles.callsign.mesh")
        );
        assert_eq!(from_dns("example.com"), None);
        assert_eq!(from_dns("roles.callsign.mesh"), None);
        assert_eq!(from_dns("xroles.callsign.mesh"), None);
        assert_eq!(from_dns("a_b.roles.callsign.mesh"), None);
        assert_eq!(from_dns("_.roles.callsign.mesh"), None);
        // Talkgroup patterns live under their own suffix: neither reads
        // as the other.
        let tg = to_dns_in("division-*", TALKGROUP_DOMAIN).expect("valid");
        assert_eq!(tg, "division-_.talkgroups.callsign.mesh");
        assert_eq!(
            from_dns_in(&tg, TALKGROUP_DOMAIN).as_deref(),
            Some("division-*")
        );
        assert_eq!(from_dns(&tg), None);
        assert_eq!(
            from_dns_in("command.roles.callsign.mesh", TALKGROUP_DOMAIN),
            None
        );
    }
}
