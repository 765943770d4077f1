// The pages' AudioWorklet processors (loaded by audio.js), both at
// 16 kHz: the microphone cut into 20 ms frames of 16-bit samples for the
// daemon, and a talkgroup's live PCM played out through a short queue.
const FRAME = 320;
// The player waits for 80 ms before it starts (the stream arrives in
// 20 ms slots with the network's and the tab's jitter), starts over after
// running dry, and drops the oldest beyond 500 ms (a tab that was asleep
// must not lag behind the talker for the rest of the burst).
const PRIME = 4 * FRAME;
const MAX = 25 * FRAME;

class Capture extends AudioWorkletProcessor {
  constructor() { super(); this.buf = new Int16Array(FRAME); this.n = 0; }
  process(inputs, outputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) {
      for (let i = 0; i < ch.length; i++) {
        const v = Math.max(-1, Math.min(1, ch[i]));
        this.buf[this.n++] = Math.round(v < 0 ? v * 32768 : v * 32767);
        if (this.n === FRAME) {
          this.port.postMessage(this.buf, [this.buf.buffer]);
          this.buf = new Int16Array(FRAME);
          this.n = 0;
        }
      }
    }
    // Silence out: the node is pulled by the graph, never heard.
    for (const o of outputs[0] || []) o.fill(0);
    return true;
  }
}

class Player extends AudioWorkletProcessor {
  constructor() {
    super();
    this.q = []; this.len = 0; this.off = 0; this.primed = false;
    this.underruns = 0; this.dropped = 0; this.echo = false;
    this.port.onmessage = (e) => {
      if (e.data === "echo") { this.echo = true; return; }
      this.q.push(e.data); this.len += e.data.length;
      while (this.len - this.off > MAX && this.q.length > 1) {
        const h = this.q.shift();
        this.len -= h.length; this.dropped += h.length - this.off; this.off = 0;
      }
    };
  }
  process(_inputs, outputs) {
    const out = outputs[0][0];
    let i = 0;
    if (!this.primed && this.len - this.off >= PRIME) this.primed = true;
    if (this.primed) {
      while (i < out.length && this.q.length) {
        const h = this.q[0];
        out[i++] = h[this.off++] / 32768;
        if (this.off >= h.length) { this.q.shift(); this.len -= h.length; this.off = 0; }
      }
      if (i < out.length) { this.primed = false; this.underruns++; }
    }
    out.fill(0, i);
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    // What played goes back to the page, which keeps the last minute.
    if (this.echo) this.port.postMessage({ played: out.slice(0), underruns: this.underruns, dropped: this.dropped });
    return true;
  }
}

registerProcessor("callsign-capture", Capture);
registerProcessor("callsign-player", Player);
