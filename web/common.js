// Shared by the console and the handset page: the JSON API, the live
// event stream (reconnecting), small DOM helpers, alarm tones.

// The page was opened as `?token=...` (what `callsign console` prints):
// the daemon answered with the token as an HttpOnly cookie, which every
// request below carries. Strip the token from the address bar and history
// so it is not shown, bookmarked or copied along.
{
  const u = new URL(location.href);
  if (u.searchParams.has("token")) {
    u.searchParams.delete("token");
    history.replaceState(null, "", u);
  }
}

export async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const r = await fetch(path, opts);
  const text = await r.text();
  let v = null;
  try { v = text ? JSON.parse(text) : null; } catch (_) { v = text; }
  if (!r.ok) throw new Error((v && v.error) || `${r.status}`);
  return v;
}

// Follow /v1/events; `onEvent(type, data)`; `onLink(up)` says whether the
// stream is live (the page shows it in words).
export function follow(onEvent, onLink) {
  let es;
  const open = () => {
    es = new EventSource("/v1/events");
    es.onopen = () => onLink(true);
    es.onerror = () => { onLink(false); es.close(); setTimeout(open, 1000); };
    es.onmessage = (m) => onEvent("message", m.data);
    for (const t of TYPES) {
      es.addEventListener(t, (m) => {
        let d = null;
        try { d = JSON.parse(m.data); } catch (_) { /* lagged carries a number */ }
        onEvent(t, d);
      });
    }
  };
  open();
}

const TYPES = ["neighbour_up", "neighbour_down", "route_changed", "name_changed", "name_expired",
  "call_incoming", "call_ringing", "call_answered", "call_ended", "floor", "mayday",
  "par_started", "par_request", "par_answered", "par_accounted", "par_closed",
  "mayday_raised", "mayday_acknowledged", "mayday_cleared", "text", "ptt_burst",
  "message_sent", "message_received", "message_delivered", "message_expired", "lagged"];

// el("tr", {class: "x"}, "text", child, ...)
export function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined) continue;
    e.append(k instanceof Node ? k : String(k));
  }
  return e;
}

export function clock(ms) {
  return new Date(ms).toLocaleTimeString("en-GB", { hour12: false });
}

export function age(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// Debounce: many events in a burst make one refresh.
export function soon(f, ms = 120) {
  let t = null;
  return () => { if (t === null) t = setTimeout(() => { t = null; f(); }, ms); };
}

// A repeating two-tone alarm (WebAudio: nothing to download). `state()`
// says in words whether it sounds: browsers keep audio off until the page
// is touched once, and the page must say so.
export class Alarm {
  constructor(pattern) { this.pattern = pattern; this.ctx = null; this.timer = null; this.on = false; }
  ensure() {
    if (!this.ctx) this.ctx = new AudioContext();
    if (this.ctx.state === "suspended") this.ctx.resume();
  }
  start() {
    if (this.on) return;
    this.on = true;
    this.ensure();
    let i = 0;
    const beep = () => {
      const [hz, ms] = this.pattern[i++ % this.pattern.length];
      const o = this.ctx.createOscillator();
      const g = this.ctx.createGain();
      o.type = "square"; o.frequency.value = hz; g.gain.value = 0.25;
      o.connect(g).connect(this.ctx.destination);
      o.start(); o.stop(this.ctx.currentTime + ms / 1000 * 0.9);
      this.timer = setTimeout(beep, ms);
    };
    beep();
  }
  stop() { this.on = false; clearTimeout(this.timer); }
  sounding() { return this.on && !!this.ctx && this.ctx.state === "running"; }
}
