//! Open-mode talkgroup passphrases: `--talkgroup-key TG=PASSPHRASE`, the
//! config file's `talkgroup_key = ["TG=PASSPHRASE"]`, and
//! `--talkgroup-key-file FILE` (lines of `TG = "passphrase"`, so the
//! passphrase is neither in `ps` nor in a config file others may read).
//! Each is stretched into the talkgroup's key here, once, at start
//! (`app::group_key::PASSPHRASE_ROUNDS` of PBKDF2).

use std::collections::BTreeMap;
use std::path::Path;

use super::config::Error;
use crate::app::group_key::EpochKey;
use crate::app::talkgroups::MAX_KEYS;

/// An entry `TG=PASSPHRASE` (the passphrase may itself hold `=`).
pub fn parse_entry(s: &str) -> Result<(String, String), Error> {
    let Some((tg, pass)) = s.split_once('=') else {
        return Err("--talkgroup-key: expected TG=PASSPHRASE".into());
    };
    check(tg, pass)?;
    Ok((tg.to_string(), pass.to_string()))
}

fn check(tg: &str, pass: &str) -> Result<(), Error> {
    if !crate::wire::name::valid_name(tg) {
        return Err(format!("--talkgroup-key: {tg:?} is not a talkgroup name").into());
    }
    if pass.is_empty() {
        return Err(format!("--talkgroup-key {tg}: empty passphrase").into());
    }
    Ok(())
}

/// The passphrases of a key file.
pub fn load_file(p: &Path) -> Result<BTreeMap<String, String>, Error> {
    let text = std::fs::read_to_string(p)
        .map_err(|e| format!("cannot read talkgroup keys {}: {e}", p.display()))?;
    let map: BTreeMap<String, String> = toml::from_str(&text).map_err(|e| {
        format!(
            "talkgroup keys {}: {e}(expected lines of talkgroup = \"passphrase\")",
            p.display()
        )
    })?;
    for (tg, pass) in &map {
        check(tg, pass).map_err(|e| format!("talkgroup keys {}: {e}", p.display()))?;
    }
    Ok(map)
}

/// The keys of every talkgroup given a passphrase: the config file's
/// entries, then the key file's, then the flags' (a later one wins).
pub fn talkgroup_keys(
    file_entries: &[String],
    key_file: Option<&Path>,
    flags: &[String],
) -> Result<Vec<EpochKey>, Error> {
    let mut all = BTreeMap::new();
    for e in file_entries {
        let (tg, pass) = parse_entry(e)?;
        all.insert(tg, pass);
    }
    if let Some(p) = key_file {
        all.extend(load_file(p)?);
    }
    for e in flags {
        let (tg, pass) = parse_entry(e)?;
        all.insert(tg, pass);
    }
    if all.len() > MAX_KEYS {
        return Err(format!("{} talkgroup keys: at most {MAX_KEYS}", all.len()).into());
    }
    Ok(all
        .iter()
        .map(|(tg, pass)| EpochKey::from_passphrase(tg, pass.as_bytes()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::group_wire::group_of;

    #[test]
    fn entries_files_and_flags() {
        assert!(parse_entry("fireground-1").is_err());
        assert!(parse_entry("fireground-1=").is_err());
        assert!(parse_entry("not a name=x").is_err());
        assert_eq!(
            parse_entry("fireground-1=a=b").unwrap(),
            ("fireground-1".into(), "a=b".into())
        );
        let dir = std::env::temp_dir().join(format!("callsign-tgkeys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("keys.toml");
        std::fs::write(&p, "fireground-1 = \"from file\"\ncommand = \"cmd\"\n").unwrap();
        let keys = talkgroup_keys(
            &["fireground-1=from config".into()],
            Some(&p),
            &["command=from flag".into()],
        )
        .unwrap();
        assert_eq!(keys.len(), 2);
        let by = |tg: &str| keys.iter().find(|k| k.group() == group_of(tg)).unwrap();
        // The key file wins over the config file, a flag over both.
        assert_eq!(
            by("fireground-1"),
            &EpochKey::from_passphrase("fireground-1", b"from file")
        );
        assert_eq!(
            by("command"),
            &EpochKey::from_passphrase("command", b"from flag")
        );
        std::fs::write(&p, "\"bad name\" = \"x\"\n").unwrap();
        assert!(talkgroup_keys(&[], Some(&p), &[]).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
