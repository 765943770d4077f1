//! The tokio daemon (`callsign up`) and the CLI clients that talk to it.
//!
//! | file | holds |
//! |---|---|
//! | `cli` | the subcommands and flag parsing |
//! | `settings` | flags over the config file over defaults, for `up` and SIGHUP |
//! | `config` | the config file, radio profile, defaults |
//! | `radio`, `radio_run` | radio set-up from profiles: plans of `iw` commands, run or printed |
//! | `notify` | systemd readiness (`sd_notify`) |
//! | `reload` | SIGHUP: names and talkgroups from the config again |
//! | `health` | the loud warning when no interface is usable |
//! | `gpsd` | positions from gpsd |
//! | `store` | the data dir: device key, OS randomness |
//! | `clock` | CLOCK_BOOTTIME as the core's `Instant`; the wall clock (with a test-only offset) |
//! | `ifaces` | which interfaces are usable |
//! | `net` | the UDP sockets of one interface |
//! | `sip_net` | the SIP front's sockets: SIP over UDP and TCP, RTP |
//! | `engine` | the task that drives the `Node` |
//! | `api` | the local HTTP API (axum) |
//! | `auth` | who may use it: Host and Origin checks, the API token |
//! | `serve`, `api_body` | its limits: connections, slow clients, bodies |
//! | `dto` | the API's JSON types (docs/API.md) |
//! | `client` | a small HTTP/1.1 client and the CLI's output |
//! | `events` | `callsign events`: the event stream for a terminal |
//! | `enrol` | `callsign id` and `callsign enrol`: device side of enrolment |
//! | `qr` | QR codes in the terminal |
//! | `docgen` | man pages and shell completions at package time |
//! | `names_client` | the directory's CLI clients |
//! | `msgstore` | SQLite: stored messages and the incident log |
//! | `msg_api`, `msg_dto`, `msg_client` | the API, JSON and CLI of messages and the log |
//! | `voice_api`, `voice_client` | the API and CLI of calls and talkgroups |
//! | `sound` | sound cards (cpal): device list, capture, playback |
//! | `speaker` | the daemon's speaker: joined talkgroups, calls, the ring tone, mixed |
//! | `ptt_key` | a push-to-talk button on an input device (evdev) |
//! | `hold` | `callsign ptt --hold`: Space held in a terminal, judged from key repeat |

mod api;
mod api_body;
mod audio_log;
mod auth;
mod boot;
mod browser_audio;
pub mod cli;
mod client;
mod clock;
pub mod config;
mod console_api;
mod console_client;
pub mod console_dto;
mod cot;
pub mod docgen;
pub mod dto;
mod engine;
pub mod enrol;
pub mod events;
pub mod gpsd;
mod health;
mod hold;
mod ifaces;
mod log_text;
mod msg_api;
mod msg_client;
pub mod msg_dto;
pub mod msgstore;
mod names_client;
mod net;
mod notify;
pub mod ptt_key;
mod qr;
pub mod radio;
pub mod radio_run;
mod reload;
pub mod revocations;
mod serve;
mod settings;
mod sip_net;
pub mod sound;
mod speaker;
mod store;
mod store_open;
mod tg_keys;
mod voice_api;
mod voice_client;
mod web;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio::sync::{broadcast, mpsc, oneshot};

use crate::node::Node;
use config::{Error, Settings};

/// Run the daemon until SIGINT or SIGTERM. `args` are kept so SIGHUP can
/// merge them over the config file again.
pub fn up(mut settings: Settings, args: cli::UpArgs) -> Result<(), Error> {
    match &settings.config_path {
        Some(p) => tracing::info!(config = %p.display(), "config file"),
        None => tracing::info!("no config file: flags and defaults"),
    }
    radio_run::set_up(&settings.radios);
    let (ident, created) = store::load_or_create_identity(&settings.data_dir)?;
    if created {
        tracing::info!(dir = %settings.data_dir.display(), "created a new device key");
    }
    let (token, created) = auth::load_or_create(&settings.data_dir)?;
    if created {
        tracing::info!(file = %settings.data_dir.join(auth::TOKEN_FILE).display(), "created the API token");
    }
    auth::warn_mode(&settings.data_dir);
    let seed = u64::from_le_bytes(store::os_random()?);
    let session_base = u64::from_le_bytes(store::os_random()?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(settings.api)
            .await
            .map_err(|e| format!("cannot listen on {} for the API: {e}", settings.api))?;
        if let (Some(sip), true) = (settings.sip, settings.sip_explicit) {
            // An address asked for must work; the default may be taken.
            std::net::UdpSocket::bind(sip)
                .and_then(|_| std::net::TcpListener::bind(sip))
                .map_err(|e| format!("cannot listen on {sip} for SIP (--sip): {e}"))?;
        }
        let unix_ms = clock::unix_ms();
        if clock::test_wall_offset_ms() != 0 {
            tracing::warn!(
                offset_s = clock::test_wall_offset_ms() / 1000,
                "test-only wall clock offset in effect ({})",
                clock::TEST_WALL_OFFSET_ENV
            );
        }
        settings.version_base = unix_ms.max(1);
        let now = clock::now();
        let mut node = Node::new(ident, settings.node_config(), now, seed);
        let (db, snap) = store_open::open(&settings.data_dir, args.move_aside_corrupt_store)?;
        tracing::info!(held = snap.bundles.len(), receipts = snap.receipts.len(), outbox = snap.outbox.len(), "messages loaded");
        // A clock before this build or before the last known good time is
        // wrong: it is given to nothing (see `trust::clock`).
        let (wall, last_good) = boot::judge_clock(&settings.data_dir, unix_ms / 1000)?;
        let trust = secure(&mut node, &settings, wall, last_good, created)?;
        if wall.sure().is_some() {
            node.set_wall_clock(now, unix_ms);
        }
        node.restore_messages(now, snap);
        tracing::info!(id = %node.id(), names = ?settings.names, base_station = settings.base_station, api = %settings.api, port = settings.port, trust, "callsign up");
        for name in &settings.names {
            if let Err(e) = node.claim(now, name, false) {
                tracing::warn!(%name, "cannot claim name: {e}");
            }
        }
        let (events, _) = broadcast::channel(1024);
        let (pcm_tap, _) = broadcast::channel(browser_audio::TAP_SLOTS);
        let (cmd_tx, cmd_rx) = mpsc::channel(256);
        let position = Arc::new(std::sync::Mutex::new(dto::PositionStatus::default()));
        let limits = serve::Limits::raise();
        tracing::info!(connections = limits.connections, event_streams = limits.subscribers, "API limits");
        let state = api::ApiState {
            cmds: cmd_tx.clone(),
            events: events.clone(),
            bench: settings.bench,
            sessions: Arc::new(AtomicU64::new(session_base)),
            position: position.clone(),
            bound: listener.local_addr().map_err(|e| format!("API address: {e}"))?,
            token,
            subscribers: Arc::new(tokio::sync::Semaphore::new(limits.subscribers)),
            max_subscribers: limits.subscribers,
            pcm: pcm_tap.clone(),
        };
        if !state.bound.ip().is_loopback() {
            tracing::warn!(api = %state.bound, "THE API LISTENS BEYOND LOOPBACK on {}: anyone who reaches it and holds the token in {} can drive this daemon, and it travels unencrypted (plain HTTP); keep it on 127.0.0.1 unless a trusted LAN needs it", state.bound, settings.data_dir.join(auth::TOKEN_FILE).display());
        }
        tokio::spawn(reload::watch(args, settings.clone(), cmd_tx.clone()));
        tokio::spawn(health::watch(settings.ifaces.clone(), cmd_tx.clone()));
        if let Some((key, tg)) = settings.ptt_key.clone() {
            ptt_key::spawn(key, tg, cmd_tx.clone());
        }
        if let Some(g) = settings.gpsd.clone() {
            position_feed(g, position, cmd_tx.clone());
        }
        let (stop_engine, engine_stop) = oneshot::channel();
        let (stop_api, api_stop) = oneshot::channel::<()>();
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_engine.send(());
            let _ = stop_api.send(());
        });
        let api_task = tokio::spawn(serve::run(
            listener,
            api::router(state),
            limits.connections,
            api_stop,
        ));
        let engine = engine::Engine::new(node, settings, events, pcm_tap, db)?;
        // The API listens and the engine is built: dependants may start.
        notify::notify("READY=1\nSTATUS=joined the mesh");
        engine.run(cmd_rx, engine_stop).await;
        notify::notify("STOPPING=1");
        // Open event streams would hold graceful shutdown forever.
        api_task.abort();
        Ok::<_, Error>(())
    })
}

/// Positions from gpsd, throttled, into this node's directory record (the
/// engine's `NamesCommand::Position`) and the daemon's position status
/// (`GET /v1/position`).
fn position_feed(
    g: config::GpsdSettings,
    status: Arc<std::sync::Mutex<dto::PositionStatus>>,
    cmds: mpsc::Sender<engine::Command>,
) {
    let (tx, mut rx) = mpsc::channel(4);
    {
        let mut s = status.lock().unwrap_or_else(|e| e.into_inner());
        s.source = Some(format!("gpsd {}", g.addr));
    }
    tokio::spawn(gpsd::run(g, std::time::Duration::from_secs(5), tx));
    tokio::spawn(async move {
        while let Some(fix) = rx.recv().await {
            let pos = crate::names::record::Position {
                lat_e7: (fix.lat * 1e7) as i32,
                lon_e7: (fix.lon * 1e7) as i32,
                accuracy_m: fix.accuracy_m.clamp(0.0, f64::from(u16::MAX)) as u16,
                time_s: fix.time_s,
            };
            let names = engine::NamesCommand::Position(pos);
            if cmds.send(engine::Command::Names(names)).await.is_err() {
                return;
            }
            let mut s = status.lock().unwrap_or_else(|e| e.into_inner());
            s.fix = Some(fix);
            s.published += 1;
        }
    });
}

/// Secured mode from the settings (nothing to do without trust roots):
/// the roots, this device's certificate (it must verify against them and
/// be for this device's key, or the daemon does not start), and the packet
/// MAC keyed from the incident secret and the roots. Certificates are
/// judged at `wall`'s time; with an unsure clock, at the last known good
/// time with a grace, and this device's own certificate is taken whatever
/// its start, loudly (`trust::clock`). The MAC's boot epoch comes from the
/// counter in the data dir, raised and made durable here, before the first
/// packet, so it grows across restarts with or without a clock. Returns
/// "open" or "secured".
fn secure(
    node: &mut Node,
    s: &Settings,
    wall: crate::trust::clock::WallTime,
    last_good: Option<u64>,
    new_key: bool,
) -> Result<&'static str, Error> {
    use crate::trust::clock::{NOT_BEFORE_GRACE_S, WallTime};
    use crate::trust::{MacKey, MacState, Secured};
    if s.trust_roots.is_empty() {
        if s.cert.is_some() || s.incident_secret_file.is_some() {
            return Err("--cert and --incident-secret-file need --trust-root".into());
        }
        return Ok("open");
    }
    let read = |p: &std::path::Path, what: &str| {
        std::fs::read(p).map_err(|e| format!("cannot read {what} {}: {e}", p.display()))
    };
    let mut trust = Secured::new();
    for p in &s.trust_roots {
        let agency = trust
            .add_root(&read(p, "trust root")?)
            .map_err(|e| format!("trust root {}: {e}", p.display()))?;
        tracing::info!(root = %p.display(), %agency, "trust root");
    }
    let cert = s
        .cert
        .as_ref()
        .ok_or("secured mode (--trust-root) needs this device's certificate: --cert CERT.pem")?;
    let cert_bytes = read(cert, "device certificate")?;
    let bad_cert =
        |e: crate::trust::TrustError| format!("device certificate {}: {e}", cert.display());
    let id = match wall {
        WallTime::Sure(now_s) => trust.set_own(&cert_bytes, now_s).map_err(bad_cert)?,
        WallTime::Unsure { assumed_s, .. } => {
            trust.set_not_before_grace(NOT_BEFORE_GRACE_S);
            trust.set_now(assumed_s);
            let (id, ahead) = trust
                .set_own_clock_unsure(&cert_bytes, assumed_s)
                .map_err(bad_cert)?;
            if let Some(not_before) = ahead {
                tracing::error!(
                    cert = %cert.display(),
                    not_before,
                    assumed_s,
                    "THE CLOCK IS WRONG and this device's certificate starts after the last known good time: taken anyway; neighbours with a good clock judge it themselves"
                );
            }
            id
        }
    };
    if id != node.id() {
        return Err(format!(
            "device certificate {} is for {id}, not this device's key ({})",
            cert.display(),
            node.id()
        )
        .into());
    }
    if let Some(p) = trust.peer(&id) {
        tracing::info!(agency = %p.agency, roles = ?p.roles, expiry = p.expiry, "device certificate");
    }
    for (path, bytes) in revocations::load(&s.data_dir) {
        match bytes
            .map_err(|e| e.to_string())
            .and_then(|b| trust.revoke(&b).map_err(|e| e.to_string()))
        {
            Ok(Some(dev)) if dev == id => tracing::error!(
                file = %path.display(),
                "THIS DEVICE IS REVOKED: the mesh refuses it; it needs a new key and certificate"
            ),
            Ok(_) => tracing::info!(file = %path.display(), "revocation"),
            Err(e) => tracing::warn!(file = %path.display(), "revocation ignored: {e}"),
        }
    }
    let secret = match &s.incident_secret_file {
        Some(p) => read(p, "incident secret")?,
        None => Vec::new(),
    };
    let key = MacKey::derive(&secret, trust.roots_der());
    let epoch = boot::next_epoch(&s.data_dir, new_key, wall, last_good)?;
    node.enable_secured(trust, MacState::new(key, epoch))?;
    Ok("secured")
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot watch SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        _ = term => tracing::info!("SIGTERM: shutting down"),
    }
}
