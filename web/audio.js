// Talkgroup audio in the browser, over the daemon's plain HTTP API (no
// WebRTC, no WebSocket: docs/ARCHITECTURE.md says why): 16 kHz mono
// 16-bit PCM both ways, Opus only between daemons.
//
// MicTalker: the browser's microphone, posted in order while the button is
// held (POST /v1/talkgroups/{tg}/audio?seq=N after a press with
// {"browser": true}). Listener: GET /v1/talkgroups/{tg}/audio, a stream
// that never ends, played through a worklet; the last minute it played is
// kept (`heardWav()`), to save or to measure.
const RATE = 16000;
const WORKLET = "/assets/audio-worklet.js";
const HEARD_MAX = 60 * RATE;

async function context() {
  const ctx = new AudioContext({ sampleRate: RATE, latencyHint: "interactive" });
  await ctx.audioWorklet.addModule(WORKLET);
  if (ctx.state === "suspended") await ctx.resume();
  return ctx;
}

export class MicTalker {
  constructor() { this.tg = null; this.pending = []; this.inflight = false; this.seq = 0; this.refused = null; }

  // Open the microphone (asks the user the first time). Voice processing
  // is off: the daemon's Opus gets the speech as spoken, as from a WAV.
  async open() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    this.ctx = await context();
    const src = this.ctx.createMediaStreamSource(this.stream);
    this.node = new AudioWorkletNode(this.ctx, "callsign-capture");
    const mute = this.ctx.createGain();
    mute.gain.value = 0;
    src.connect(this.node).connect(mute).connect(this.ctx.destination);
    this.node.port.onmessage = (e) => { if (this.tg) { this.pending.push(e.data); this.pump(); } };
  }

  // Send to `tg` (after the press was accepted) until stop().
  start(tg) { this.tg = tg; this.seq = 0; this.pending = []; this.refused = null; }

  async pump() {
    if (this.inflight || !this.pending.length || !this.tg) return;
    this.inflight = true;
    const frames = this.pending.splice(0);
    const body = new Int16Array(frames.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of frames) { body.set(f, at); at += f.length; }
    try {
      const r = await fetch(`/v1/talkgroups/${encodeURIComponent(this.tg)}/audio?seq=${this.seq++}`, {
        method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: body.buffer,
      });
      if (!r.ok) this.refused = `${r.status}`;
    } catch (e) { this.refused = e.message; }
    this.inflight = false;
    this.pump();
  }

  stop() {
    this.tg = null;
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    if (this.ctx) this.ctx.close();
    this.stream = null; this.ctx = null;
  }
}

export class Listener {
  // onState(words) says what it does, for the page to show.
  constructor(onState) {
    this.onState = onState; this.tg = null;
    this.heard = new Int16Array(HEARD_MAX); this.heardLen = 0; this.underruns = 0;
  }

  async start(tg) {
    this.stop();
    this.tg = tg;
    this.ctx = await context();
    this.node = new AudioWorkletNode(this.ctx, "callsign-player", { outputChannelCount: [1] });
    this.node.connect(this.ctx.destination);
    this.node.port.onmessage = (e) => this.keep(e.data);
    this.node.port.postMessage("echo");
    this.follow(tg);
  }

  async follow(tg) {
    while (this.tg === tg) {
      this.abort = new AbortController();
      try {
        const r = await fetch(`/v1/talkgroups/${encodeURIComponent(tg)}/audio`, { signal: this.abort.signal });
        if (!r.ok) throw new Error(`${r.status}`);
        this.onState(`LISTENING to ${tg}`);
        const reader = r.body.getReader();
        let odd = null;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          let bytes = value;
          if (odd !== null) { bytes = new Uint8Array(value.length + 1); bytes[0] = odd; bytes.set(value, 1); odd = null; }
          if (bytes.length % 2) { odd = bytes[bytes.length - 1]; bytes = bytes.subarray(0, bytes.length - 1); }
          const pcm = new Int16Array(bytes.length / 2);
          const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
          for (let i = 0; i < pcm.length; i++) pcm[i] = dv.getInt16(2 * i, true);
          this.node.port.postMessage(pcm, [pcm.buffer]);
        }
      } catch (e) {
        if (this.tg !== tg) return;
        this.onState(`NOT LISTENING: ${e.message}, retrying`);
      }
      if (this.tg === tg) await new Promise((ok) => setTimeout(ok, 1000));
    }
  }

  keep(m) {
    this.underruns = m.underruns;
    const s = m.played;
    if (this.heardLen + s.length > HEARD_MAX) {
      const cut = this.heardLen + s.length - HEARD_MAX;
      this.heard.copyWithin(0, cut, this.heardLen);
      this.heardLen -= cut;
    }
    for (let i = 0; i < s.length; i++) this.heard[this.heardLen++] = Math.max(-32768, Math.min(32767, Math.round(s[i] * 32768)));
  }

  // The last minute played (or since `resetHeard`), as a WAV blob.
  heardWav() { return wav(this.heard.subarray(0, this.heardLen)); }
  resetHeard() { this.heardLen = 0; }

  stop() {
    this.tg = null;
    if (this.abort) this.abort.abort();
    if (this.ctx) this.ctx.close();
    this.ctx = null;
    this.onState("not listening");
  }
}

function wav(pcm) {
  const b = new ArrayBuffer(44 + pcm.length * 2), v = new DataView(b);
  const str = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
  str(0, "RIFF"); v.setUint32(4, 36 + pcm.length * 2, true); str(8, "WAVE"); str(12, "fmt ");
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
  v.setUint32(24, RATE, true); v.setUint32(28, RATE * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
  str(36, "data"); v.setUint32(40, pcm.length * 2, true);
  for (let i = 0; i < pcm.length; i++) v.setInt16(44 + 2 * i, pcm[i], true);
  return new Blob([b], { type: "audio/wav" });
}
