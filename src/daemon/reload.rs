//! SIGHUP: read the config again and apply what can change without a
//! restart — the names this node claims and the talkgroups it is in —
//! through the same engine commands the API sends (claim, release, join,
//! leave), so the engine needs no reload path of its own. What else
//! changed (interfaces, port, trust) is named in the log as needing a
//! restart; a config that no longer parses is refused and the running
//! one kept.

use tokio::sync::{mpsc, oneshot};

use super::cli::UpArgs;
use super::config::Settings;
use super::dto;
use super::engine::{Command, NamesCommand, TalkgroupCommand};
use super::notify::notify;
use super::settings::settings;

/// What is in `new` and not in `old`, and the other way round, in order.
pub fn diff(old: &[String], new: &[String]) -> (Vec<String>, Vec<String>) {
    let added = new.iter().filter(|n| !old.contains(n)).cloned().collect();
    let removed = old.iter().filter(|o| !new.contains(o)).cloned().collect();
    (added, removed)
}

/// Settings that only a restart applies, by name, where they differ.
pub fn needs_restart(old: &Settings, new: &Settings) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |name, a: String, b: String| {
        if a != b {
            out.push(name);
        }
    };
    check(
        "iface",
        format!("{:?}", old.ifaces),
        format!("{:?}", new.ifaces),
    );
    check(
        "radio profiles",
        format!("{:?}", old.radios),
        format!("{:?}", new.radios),
    );
    check("api", old.api.to_string(), new.api.to_string());
    check("cot", format!("{:?}", old.cot), format!("{:?}", new.cot));
    check("port", old.port.to_string(), new.port.to_string());
    check(
        "data_dir",
        format!("{:?}", old.data_dir),
        format!("{:?}", new.data_dir),
    );
    check(
        "base_station",
        old.base_station.to_string(),
        new.base_station.to_string(),
    );
    check(
        "trust",
        format!(
            "{:?}{:?}{:?}",
            old.trust_roots, old.cert, old.incident_secret_file
        ),
        format!(
            "{:?}{:?}{:?}",
            new.trust_roots, new.cert, new.incident_secret_file
        ),
    );
    check("sip", format!("{:?}", old.sip), format!("{:?}", new.sip));
    check(
        "timers",
        format!("{:?}", old.timers),
        format!("{:?}", new.timers),
    );
    check(
        "cost weights",
        format!("{:?}{}", old.iface_weights, old.cost_weight),
        format!("{:?}{}", new.iface_weights, new.cost_weight),
    );
    check("gpsd", format!("{:?}", old.gpsd), format!("{:?}", new.gpsd));
    out
}

async fn ask<T>(
    cmds: &mpsc::Sender<Command>,
    make: impl FnOnce(oneshot::Sender<T>) -> Command,
) -> Option<T> {
    let (tx, rx) = oneshot::channel();
    cmds.send(make(tx)).await.ok()?;
    rx.await.ok()
}

/// Apply the difference in names and talkgroups; returns what was done.
async fn apply(cmds: &mpsc::Sender<Command>, old: &Settings, new: &Settings) -> Vec<String> {
    let mut done = Vec::new();
    let (claim, release) = diff(&old.names, &new.names);
    for name in claim {
        let req = dto::ClaimRequest {
            name: name.clone(),
            exclusive: false,
        };
        match ask(cmds, |tx| Command::Names(NamesCommand::Claim(req, tx))).await {
            Some(Ok(_)) => done.push(format!("claimed {name}")),
            Some(Err(e)) => tracing::warn!(%name, "reload: cannot claim: {e}"),
            None => return done,
        }
    }
    for name in release {
        let req = dto::ReleaseRequest { name: name.clone() };
        match ask(cmds, |tx| Command::Names(NamesCommand::Release(req, tx))).await {
            Some(Ok(_)) => done.push(format!("released {name}")),
            Some(Err(e)) => tracing::warn!(%name, "reload: cannot release: {e}"),
            None => return done,
        }
    }
    let (join, leave) = diff(&old.talkgroups, &new.talkgroups);
    for tg in join {
        let req = dto::ListenRequest {
            record: None,
            audio_out: None,
        };
        let name = tg.clone();
        match ask(cmds, |tx| {
            Command::Talkgroups(TalkgroupCommand::Join(name, req, tx))
        })
        .await
        {
            Some(Ok(_)) => done.push(format!("joined {tg}")),
            Some(Err((_, e))) => tracing::warn!(talkgroup = %tg, "reload: cannot join: {e}"),
            None => return done,
        }
    }
    for tg in leave {
        let name = tg.clone();
        match ask(cmds, |tx| {
            Command::Talkgroups(TalkgroupCommand::Leave(name, tx))
        })
        .await
        {
            Some(Ok(_)) => done.push(format!("left {tg}")),
            Some(Err((_, e))) => tracing::warn!(talkgroup = %tg, "reload: cannot leave: {e}"),
            None => return done,
        }
    }
    done
}

/// Wait for SIGHUP forever; on each, reload.
pub async fn watch(args: UpArgs, mut current: Settings, cmds: mpsc::Sender<Command>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot watch SIGHUP (no config reload): {e}");
            return;
        }
    };
    while hup.recv().await.is_some() {
        notify("RELOADING=1");
        let from = current
            .config_path
            .as_ref()
            .map_or("flags only".into(), |p| p.display().to_string());
        match settings(&args) {
            Err(e) => {
                tracing::error!(config = %from, "SIGHUP: config refused, the running one is kept: {e}")
            }
            Ok(new) => {
                let done = apply(&cmds, &current, &new).await;
                let restart = needs_restart(&current, &new);
                tracing::info!(config = %from, changes = ?done, "SIGHUP: config reloaded");
                if !restart.is_empty() {
                    tracing::warn!(settings = ?restart, "SIGHUP: these changed and need a restart to apply");
                }
                current.names = new.names;
                current.talkgroups = new.talkgroups;
            }
        }
        notify("READY=1");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn diff_keeps_order_and_ignores_the_unchanged() {
        let (a, r) = diff(
            &v(&["engine-3", "command"]),
            &v(&["engine-3", "medic-12", "ladder-1"]),
        );
        assert_eq!(a, v(&["medic-12", "ladder-1"]));
        assert_eq!(r, v(&["command"]));
        let (a, r) = diff(&v(&["x"]), &v(&["x"]));
        assert!(a.is_empty() && r.is_empty());
    }

    #[test]
    fn restart_only_settings_are_named() {
        let args = UpArgs {
            config: Some(std::path::PathBuf::from("/dev/null")),
            ..UpArgs::default()
        };
        let a = settings(&args).expect("settings");
        let mut b = a.clone();
        b.names = v(&["engine-3"]);
        b.talkgroups = v(&["fireground-1"]);
        assert!(needs_restart(&a, &b).is_empty());
        b.port += 1;
        b.iface_weights.insert("wlan0".into(), 128);
        assert_eq!(needs_restart(&a, &b), ["port", "cost weights"]);
    }
}
