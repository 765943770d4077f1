//! Sound cards through cpal (ALSA on Linux): the device list, a capture
//! stream that hands the engine 16 kHz mono, a playback stream fed by it.
//!
//! cpal calls back on its own thread; the engine ticks every 20 ms on the
//! tokio one. Between them sits a [`Ring`]: a bounded queue of samples
//! behind a mutex held for one copy, the oldest dropped when full. The
//! cpal `Stream` is not `Send` on every platform, so each one lives on a
//! thread of its own that builds it, plays it, and drops it when its
//! [`Stream`] handle is dropped.
//!
//! Rates: a device is asked for 16 kHz mono first. One that cannot do it
//! runs at its default rate and channel count; capture is mixed down to
//! mono and resampled to 16 kHz, playback the other way, both through the
//! windowed-sinc resampler of [`crate::audio::resample`]. Its low-pass
//! filter matters on capture: a fireground is loud above 8 kHz (pumps,
//! saws, PASS alarms), and without the filter that energy folds down into
//! the speech band the 16 kHz Opus codec carries.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample};
use serde::{Deserialize, Serialize};

use crate::audio::resample::Resampler;

/// The engine's rate.
pub const RATE: u32 = 16_000;
/// Capture buffered beyond this is stale (the engine was not reading, e.g.
/// before a talk permit): the oldest is dropped so the mouth-to-ear delay
/// stays bounded. 80 ms.
const CAPTURE_MAX_SAMPLES: usize = 4 * 320;
/// Capture ring capacity (16 kHz samples): 200 ms.
const CAPTURE_RING: usize = 3_200;
/// Playback ring capacity (device-rate samples, mono): 200 ms at 48 kHz.
const PLAYBACK_RING: usize = 9_600;
/// Opening a device or listing them gives up after this long.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// A bounded sample queue between a cpal callback and the engine.
pub struct Ring {
    q: Mutex<VecDeque<i16>>,
    cap: usize,
    dropped: AtomicU64,
}

impl Ring {
    pub fn new(cap: usize) -> Ring {
        Ring {
            q: Mutex::new(VecDeque::with_capacity(cap)),
            cap: cap.max(1),
            dropped: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<i16>> {
        // A panic on the other side leaves samples, not broken invariants.
        self.q.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Append; when full the oldest samples go.
    pub fn push(&self, s: &[i16]) {
        let mut q = self.lock();
        // Only the newest `cap` of a long input can stay.
        let cut = s.len().saturating_sub(self.cap);
        let s = &s[cut..];
        self.dropped.fetch_add(cut as u64, Ordering::Relaxed);
        let over = (q.len() + s.len()).saturating_sub(self.cap);
        if over > 0 {
            let n = over.min(q.len());
            q.drain(..n);
            self.dropped.fetch_add(over as u64, Ordering::Relaxed);
        }
        q.extend(s.iter().copied());
    }

    /// Fill `out` from the front; what is missing is silence. Returns the
    /// samples that were there.
    pub fn pop(&self, out: &mut [i16]) -> usize {
        let mut q = self.lock();
        let n = out.len().min(q.len());
        for (o, s) in out.iter_mut().zip(q.drain(..n)) {
            *o = s;
        }
        out[n..].fill(0);
        n
    }

    /// Drop the oldest so that at most `keep` samples remain.
    pub fn trim(&self, keep: usize) {
        let mut q = self.lock();
        let over = q.len().saturating_sub(keep);
        if over > 0 {
            q.drain(..over);
            self.dropped.fetch_add(over as u64, Ordering::Relaxed);
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Samples dropped, full or stale.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// One line of `callsign audio devices`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceInfo {
    pub name: String,
    /// The host's id of the device (also accepted as a name).
    pub id: Option<String>,
    pub default: bool,
    /// The default stream: rate, channels, sample format.
    pub config: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Devices {
    pub inputs: Vec<DeviceInfo>,
    pub outputs: Vec<DeviceInfo>,
}

impl Devices {
    /// For error messages: the names, the default marked.
    pub fn describe(list: &[DeviceInfo], what: &str) -> String {
        if list.is_empty() {
            return format!("no {what} devices found");
        }
        let names: Vec<String> = list
            .iter()
            .map(|d| {
                if d.default {
                    format!("{} (default)", d.name)
                } else {
                    d.name.clone()
                }
            })
            .collect();
        format!("{what} devices: {}", names.join(", "))
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dir {
    Input,
    Output,
}

impl Dir {
    fn word(self) -> &'static str {
        match self {
            Dir::Input => "input",
            Dir::Output => "output",
        }
    }
}

/// Mute ALSA's own printing to stderr on this thread (it complains about
/// every card its configuration names that is not there).
struct QuietAlsa {
    #[cfg(target_os = "linux")]
    _h: Option<std::rc::Rc<std::cell::RefCell<alsa::Output>>>,
}

impl QuietAlsa {
    fn new() -> QuietAlsa {
        QuietAlsa {
            #[cfg(target_os = "linux")]
            _h: alsa::Output::local_error_handler().ok(),
        }
    }
}

/// A device's name. (Not `to_string()`: cpal's `Display` fails, and
/// `to_string` would panic, when the device cannot describe itself.)
fn name_of(d: &cpal::Device) -> Option<String> {
    d.description().ok().map(|x| x.name().to_string())
}

fn info(d: &cpal::Device, default: Option<&str>, dir: Dir) -> Option<DeviceInfo> {
    let cfg = match dir {
        Dir::Input => d.default_input_config(),
        Dir::Output => d.default_output_config(),
    }
    .ok();
    let usable = match dir {
        Dir::Input => d.supports_input(),
        Dir::Output => d.supports_output(),
    };
    if !usable {
        return None;
    }
    let name = name_of(d)?;
    let id = d.id().ok().map(|i| i.to_string());
    // ALSA's `null` plugin (discard / zeros) is there on every machine: it
    // is not a sound card.
    if id.as_deref() == Some("alsa:null") {
        return None;
    }
    Some(DeviceInfo {
        default: default.is_some_and(|n| n == name),
        config: cfg.map(|c| {
            format!(
                "{} Hz, {} ch, {}",
                c.sample_rate(),
                c.channels(),
                c.sample_format()
            )
        }),
        id: id.filter(|i| *i != name),
        name,
    })
}

fn list_here() -> Devices {
    let _quiet = QuietAlsa::new();
    let host = cpal::default_host();
    let mut out = Devices::default();
    for dir in [Dir::Input, Dir::Output] {
        let def = match dir {
            Dir::Input => host.default_input_device(),
            Dir::Output => host.default_output_device(),
        };
        // The host names a default even with no card: only a default that
        // works counts.
        let def_name = def.and_then(|d| info(&d, None, dir)).map(|i| i.name);
        let list = match dir {
            Dir::Input => &mut out.inputs,
            Dir::Output => &mut out.outputs,
        };
        if let Ok(devs) = host.devices() {
            for d in devs {
                if let Some(i) = info(&d, def_name.as_deref(), dir)
                    && !list.iter().any(|x| x.name == i.name)
                {
                    list.push(i);
                }
            }
        }
    }
    out
}

/// Every input and output device, probed on a thread of its own (ALSA
/// opens each one to ask what it can do; a wedged driver must not hang
/// the caller).
pub fn list() -> Result<Devices, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("audio-list".into())
        .spawn(move || {
            let _ = tx.send(list_here());
        })
        .map_err(|e| format!("cannot start the device probe: {e}"))?;
    rx.recv_timeout(OPEN_TIMEOUT)
        .map_err(|_| "the sound system did not answer within 5 s".to_string())
}

/// `alsa:hw:CARD=x` may be given as `hw:CARD=x`.
fn same_id(id: &str, name: &str) -> bool {
    id == name || id.split_once(':').is_some_and(|(_, rest)| rest == name)
}

/// Find a device by name (or host id, or `default`).
fn find(host: &cpal::Host, name: &str, dir: Dir) -> Option<cpal::Device> {
    if name == "default" {
        return match dir {
            Dir::Input => host.default_input_device(),
            Dir::Output => host.default_output_device(),
        };
    }
    host.devices().ok()?.find(|d| {
        name_of(d).is_some_and(|n| n == name)
            || d.id().ok().is_some_and(|i| same_id(&i.to_string(), name))
    })
}

/// Check that `name` names a usable device, without opening a stream.
/// The error lists the devices there are.
pub fn check(name: &str, dir: Dir) -> Result<(), String> {
    let devs = list()?;
    let list = match dir {
        Dir::Input => &devs.inputs,
        Dir::Output => &devs.outputs,
    };
    let ok = if name == "default" {
        list.iter().any(|d| d.default)
    } else {
        list.iter()
            .any(|d| d.name == name || d.id.as_deref().is_some_and(|i| same_id(i, name)))
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "no {} device {name:?}; {}",
            dir.word(),
            Devices::describe(list, dir.word())
        ))
    }
}

/// Pick a stream config: 16 kHz mono if the device has it, then 16 kHz
/// with any channels, else the device's default.
fn pick_config(d: &cpal::Device, dir: Dir) -> Result<cpal::SupportedStreamConfig, String> {
    let ranges: Vec<cpal::SupportedStreamConfigRange> = match dir {
        Dir::Input => d.supported_input_configs().map(|c| c.collect()),
        Dir::Output => d.supported_output_configs().map(|c| c.collect()),
    }
    .map_err(|e| e.to_string())?;
    let fits = |r: &cpal::SupportedStreamConfigRange| {
        (r.min_sample_rate()..=r.max_sample_rate()).contains(&RATE) && known(r.sample_format())
    };
    let pick = ranges
        .iter()
        .filter(|r| fits(r))
        .min_by_key(|r| (r.channels(), r.sample_format() != SampleFormat::I16))
        .and_then(|r| r.try_with_sample_rate(RATE));
    match pick {
        Some(c) => Ok(c),
        None => match dir {
            Dir::Input => d.default_input_config(),
            Dir::Output => d.default_output_config(),
        }
        .map_err(|e| e.to_string()),
    }
}

fn known(f: SampleFormat) -> bool {
    matches!(
        f,
        SampleFormat::I16 | SampleFormat::I32 | SampleFormat::U16 | SampleFormat::F32
    )
}

/// A running cpal stream on its own thread; dropping this stops it.
pub struct Stream {
    stop: Option<mpsc::Sender<()>>,
    pub name: String,
    pub ring: Arc<Ring>,
    /// The device's rate (the ring's rate for playback).
    pub rate: u32,
}

impl Drop for Stream {
    fn drop(&mut self) {
        // The thread's recv returns once the sender is gone; it then drops
        // the cpal stream and ends. Not joined: closing a device may take
        // a while and the engine does not wait for it.
        self.stop.take();
    }
}

type Opened = Result<(String, u32), String>;

/// Open `name` for `dir` on a dedicated thread that owns the cpal stream.
fn open(name: &str, dir: Dir, ring: Arc<Ring>) -> Result<Stream, String> {
    let (ready_tx, ready_rx) = mpsc::channel::<Opened>();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let want = name.to_string();
    let r = ring.clone();
    std::thread::Builder::new()
        .name(format!("audio-{}", dir.word()))
        .spawn(move || {
            let built = build(&want, dir, r);
            match built {
                Ok((stream, name, rate)) => {
                    if let Err(e) = stream.play() {
                        let _ = ready_tx.send(Err(format!("{name}: cannot start: {e}")));
                        return;
                    }
                    let _ = ready_tx.send(Ok((name, rate)));
                    // Until the handle is dropped.
                    let _ = stop_rx.recv();
                    drop(stream);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
        })
        .map_err(|e| format!("cannot start the audio thread: {e}"))?;
    let (name, rate) = ready_rx
        .recv_timeout(OPEN_TIMEOUT)
        .map_err(|_| format!("{name}: the sound system did not open it within 5 s"))??;
    tracing::info!(device = %name, rate, dir = dir.word(), "sound device open");
    Ok(Stream {
        stop: Some(stop_tx),
        name,
        ring,
        rate,
    })
}

fn build(want: &str, dir: Dir, ring: Arc<Ring>) -> Result<(cpal::Stream, String, u32), String> {
    let _quiet = QuietAlsa::new();
    let host = cpal::default_host();
    let dev = find(&host, want, dir).ok_or_else(|| format!("no {} device {want:?}", dir.word()))?;
    let name = name_of(&dev).unwrap_or_else(|| want.to_string());
    let sc = pick_config(&dev, dir).map_err(|e| format!("{name}: {e}"))?;
    let cfg = sc.config();
    let rate = cfg.sample_rate;
    let err = move |e: cpal::Error| tracing::warn!("sound device: {e}");
    let s = match (dir, sc.sample_format()) {
        (Dir::Input, SampleFormat::I16) => capture::<i16>(&dev, cfg, ring, err),
        (Dir::Input, SampleFormat::I32) => capture::<i32>(&dev, cfg, ring, err),
        (Dir::Input, SampleFormat::U16) => capture::<u16>(&dev, cfg, ring, err),
        (Dir::Input, SampleFormat::F32) => capture::<f32>(&dev, cfg, ring, err),
        (Dir::Output, SampleFormat::I16) => playback::<i16>(&dev, cfg, ring, err),
        (Dir::Output, SampleFormat::I32) => playback::<i32>(&dev, cfg, ring, err),
        (Dir::Output, SampleFormat::U16) => playback::<u16>(&dev, cfg, ring, err),
        (Dir::Output, SampleFormat::F32) => playback::<f32>(&dev, cfg, ring, err),
        (_, f) => return Err(format!("{name}: sample format {f} not supported")),
    }
    .map_err(|e| format!("{name}: {e}"))?;
    Ok((s, name, rate))
}

fn capture<T>(
    dev: &cpal::Device,
    cfg: cpal::StreamConfig,
    ring: Arc<Ring>,
    err: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    i16: FromSample<T>,
{
    let ch = usize::from(cfg.channels.max(1));
    let mut rs = Resampler::new(cfg.sample_rate, RATE);
    let (mut mono, mut out) = (Vec::new(), Vec::new());
    dev.build_input_stream(
        cfg,
        move |data: &[T], _: &cpal::InputCallbackInfo| {
            mono.clear();
            for f in data.chunks(ch) {
                let sum: i32 = f.iter().map(|&s| i32::from(i16::from_sample(s))).sum();
                mono.push((sum / f.len().max(1) as i32) as i16);
            }
            out.clear();
            rs.process(&mono, &mut out);
            ring.push(&out);
        },
        err,
        Some(OPEN_TIMEOUT),
    )
}

fn playback<T>(
    dev: &cpal::Device,
    cfg: cpal::StreamConfig,
    ring: Arc<Ring>,
    err: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<i16>,
{
    let ch = usize::from(cfg.channels.max(1));
    let mut mono = Vec::new();
    dev.build_output_stream(
        cfg,
        move |data: &mut [T], _: &cpal::OutputCallbackInfo| {
            mono.resize(data.len() / ch, 0);
            ring.pop(&mut mono);
            for (f, &s) in data.chunks_mut(ch).zip(mono.iter()) {
                f.fill(T::from_sample(s));
            }
        },
        err,
        Some(OPEN_TIMEOUT),
    )
}

/// A capture device giving 16 kHz mono.
pub struct Capture {
    s: Stream,
}

impl Capture {
    pub fn open(name: &str) -> Result<Capture, String> {
        check(name, Dir::Input)?;
        let s = open(name, Dir::Input, Arc::new(Ring::new(CAPTURE_RING)))?;
        Ok(Capture { s })
    }

    /// The next `out.len()` samples (silence where the device had none);
    /// capture older than 80 ms is dropped first.
    pub fn read(&self, out: &mut [i16]) {
        self.s.ring.trim(CAPTURE_MAX_SAMPLES.max(out.len()));
        self.s.ring.pop(out);
    }

    pub fn name(&self) -> &str {
        &self.s.name
    }
}

/// A playback device taking 16 kHz mono.
pub struct Playback {
    s: Stream,
    rs: Resampler,
    buf: Vec<i16>,
}

impl Playback {
    pub fn open(name: &str) -> Result<Playback, String> {
        check(name, Dir::Output)?;
        let s = open(name, Dir::Output, Arc::new(Ring::new(PLAYBACK_RING)))?;
        let rs = Resampler::new(RATE, s.rate);
        Ok(Playback {
            s,
            rs,
            buf: Vec::new(),
        })
    }

    pub fn write(&mut self, pcm: &[i16]) {
        self.buf.clear();
        self.rs.process(pcm, &mut self.buf);
        self.s.ring.push(&self.buf);
    }

    pub fn name(&self) -> &str {
        &self.s.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_drops_the_oldest_when_full() {
        let r = Ring::new(4);
        r.push(&[1, 2, 3]);
        r.push(&[4, 5, 6]);
        assert_eq!(r.len(), 4);
        assert_eq!(r.dropped(), 2);
        let mut out = [9; 6];
        assert_eq!(r.pop(&mut out), 4);
        assert_eq!(out, [3, 4, 5, 6, 0, 0]);
        assert!(r.is_empty());
    }

    #[test]
    fn ring_keeps_the_newest_of_a_long_push_and_trims() {
        let r = Ring::new(3);
        r.push(&[1, 2, 3, 4, 5]);
        let mut out = [0; 3];
        r.pop(&mut out);
        assert_eq!(out, [3, 4, 5]);
        r.push(&[7, 8, 9]);
        r.trim(1);
        assert_eq!(r.len(), 1);
        r.pop(&mut out[..1]);
        assert_eq!(out[0], 9);
    }

    #[test]
    fn ring_between_threads_stays_bounded() {
        let r = Arc::new(Ring::new(1000));
        let w = r.clone();
        let t = std::thread::spawn(move || {
            for i in 0..10_000 {
                w.push(&[i as i16; 7]);
            }
        });
        let mut out = [0; 5];
        for _ in 0..1000 {
            r.pop(&mut out);
            assert!(r.len() <= 1000);
        }
        t.join().ok();
        assert!(r.len() <= 1000);
    }

    #[test]
    fn capture_path_filters_before_decimating() {
        // The capture callback's work: 48 kHz stereo in, 16 kHz mono out.
        // A 12 kHz alarm tone must not reach the 16 kHz stream (it would
        // fold to 4 kHz); a 1 kHz voice tone must.
        let level = |freq: f64| -> f64 {
            let mut rs = Resampler::new(48_000, RATE);
            let mut out = Vec::new();
            for chunk in 0..100 {
                let frames: Vec<i16> = (0..480)
                    .map(|i| {
                        let t = f64::from(chunk * 480 + i) / 48_000.0;
                        (16_000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
                    })
                    .collect();
                rs.process(&frames, &mut out);
            }
            let tail = &out[1_000..];
            (tail.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / tail.len() as f64).sqrt()
        };
        let (voice, alarm) = (level(1_000.0), level(12_000.0));
        assert!(voice > 10_000.0, "voice {voice}");
        assert!(alarm < voice / 3_000.0, "alarm {alarm} vs voice {voice}");
    }
}
