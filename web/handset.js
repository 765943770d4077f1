// The handset page: one big hold-to-talk button for the selected
// talkgroup (the daemon's microphone: this page is the face of the device
// it runs on), the current talker, incoming calls, a mayday that must be
// held for 2 s, PAR acknowledgement and messages. Large targets, no hover.
import { api, follow, el, clock, soon, Alarm } from "/assets/common.js";
import { MicTalker, Listener } from "/assets/audio.js";

const $ = (id) => document.getElementById(id);
const MAYDAY_HOLD_MS = 2000;
const ring = new Alarm([[700, 400], [0.01, 200], [700, 400], [0.01, 1200]]);
const parTone = new Alarm([[1000, 250], [0.01, 750]]);
const state = { tgs: [], calls: [], par: null, talking: false, me: null };
// The daemon takes audio from its own sound card, or silence when it has
// none (`?audio=` picks a card by name).
let audioIn = new URLSearchParams(location.search).get("audio") || "default";

function currentTg() { return $("tg").value; }

function renderTalkgroups() {
  const sel = $("tg"), v = sel.value;
  const names = state.tgs.map((t) => t.name);
  if (names.join() !== [...sel.options].map((o) => o.value).join()) {
    sel.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
    if (names.includes(v)) sel.value = v;
  }
  const t = state.tgs.find((x) => x.name === currentTg());
  const box = $("talker");
  if (!t) { box.textContent = "Not in a talkgroup"; box.className = ""; return; }
  if (t.transmitting) { box.textContent = "You are talking"; box.className = "busy"; }
  else if (t.talker) { box.textContent = `${t.talker.name} is talking`; box.className = "busy"; }
  else { box.textContent = "Channel clear"; box.className = ""; }
  box.dataset.talker = t.talker ? t.talker.name : "";
  const b = $("talk");
  b.classList.toggle("on", t.transmitting);
  b.classList.toggle("wait", t.requesting && !t.transmitting);
  b.textContent = t.transmitting ? "TALKING" : t.requesting ? "WAITING…" : "HOLD TO TALK";
  $("talk-state").textContent = t.transmitting ? "TRANSMITTING" : t.requesting ? "WAITING FOR THE FLOOR"
    : t.last_outcome ? `last press: ${t.last_outcome}` : "";
}

function renderCalls() {
  const ringing = state.calls.find((c) => c.direction === "in" && (c.state === "ringing" || c.state === "dialing"));
  const active = state.calls.find((c) => c.state === "active");
  const box = $("ring");
  if (ringing) {
    box.classList.remove("hidden");
    $("ring-title").textContent = "INCOMING CALL";
    $("ring-from").textContent = `from ${ringing.name}`;
    $("answer").classList.remove("hidden");
    box.dataset.call = ringing.id; box.dataset.state = "ringing";
    ring.start();
  } else if (active) {
    box.classList.remove("hidden");
    $("ring-title").textContent = "IN CALL";
    $("ring-from").textContent = `with ${active.name}`;
    $("answer").classList.add("hidden");
    box.dataset.call = active.id; box.dataset.state = "active";
    ring.stop();
  } else {
    box.classList.add("hidden"); box.dataset.state = "none";
    ring.stop();
  }
}

function renderPar() {
  const p = state.par && state.par.pending[0];
  $("par-alert").classList.toggle("hidden", !p);
  if (p) {
    $("par-text").textContent = `PAR ${p.code}: ${p.from} asks ${p.talkgroup ? p.talkgroup : "everyone"} to report`;
    parTone.start();
  } else parTone.stop();
}

const refreshTgs = soon(async () => { try { state.tgs = await api("/v1/talkgroups"); renderTalkgroups(); } catch (_) { } });
const refreshCalls = soon(async () => { try { state.calls = await api("/v1/calls"); renderCalls(); } catch (_) { } });
const refreshPar = soon(async () => { try { state.par = await api("/v1/par"); renderPar(); } catch (_) { } });
const refreshInbox = soon(async () => {
  try {
    const inbox = await api("/v1/inbox");
    $("inbox").replaceChildren(...inbox.slice(-5).reverse().map((m) =>
      el("li", {}, el("b", {}, m.from_names[0] || m.from.slice(0, 8)), `: ${m.text} `,
        el("span", { class: "muted" }, clock(m.received_ms)))));
  } catch (_) { }
});

function onEvent(type) {
  if (type === "floor" || type === "ptt_burst") refreshTgs();
  if (type.startsWith("call_")) refreshCalls();
  if (type.startsWith("par_")) refreshPar();
  if (type.startsWith("message_") || type === "text") refreshInbox();
  if (type === "lagged") { refreshTgs(); refreshCalls(); refreshPar(); refreshInbox(); }
}
function onLink(up) {
  $("link").className = "link " + (up ? "live" : "down");
  $("link").textContent = up ? "LIVE" : "NO CONNECTION";
  if (up) { refreshTgs(); refreshCalls(); refreshPar(); refreshInbox(); }
}

// Talk from this browser's microphone (PCM posted to the daemon), or
// from the daemon's own sound card (`?mic=browser` picks the first).
const mic = new MicTalker();
const listener = new Listener((words) => { $("listen-state").textContent = words; });
// For scripts and the field test: what this page played, as a WAV blob.
window.callsign = { listener };

async function pressBrowser(tg, path) {
  try {
    await api(path, { browser: true });
    await mic.open();
    if (!state.talking) { mic.stop(); return; }
    mic.start(tg);
    $("mic").textContent = "Talking from this browser's microphone.";
  } catch (e) {
    mic.stop();
    $("mic").textContent = `Browser microphone: ${e.message}`;
    try { await api(`/v1/talkgroups/${encodeURIComponent(tg)}/release`, {}); } catch (_) { }
  }
}

async function press() {
  const tg = currentTg();
  if (!tg || state.talking) return;
  state.talking = true;
  const path = `/v1/talkgroups/${encodeURIComponent(tg)}/ptt`;
  if ($("mic-src").value === "browser") { await pressBrowser(tg, path); refreshTgs(); return; }
  try {
    await api(path, audioIn ? { audio_in: audioIn } : {});
  } catch (e) {
    if (audioIn) {
      // No sound card on this device: talk silence rather than nothing,
      // and say so.
      audioIn = null;
      $("mic").textContent = `No microphone (${e.message}): talking sends silence.`;
      try { await api(path, {}); } catch (e2) { $("talk-state").textContent = `Refused: ${e2.message}`; }
    } else $("talk-state").textContent = `Refused: ${e.message}`;
  }
  refreshTgs();
}
async function release() {
  if (!state.talking) return;
  state.talking = false;
  mic.stop();
  try { await api(`/v1/talkgroups/${encodeURIComponent(currentTg())}/release`, {}); } catch (_) { }
  refreshTgs();
}

function holdButton(btn, onDown, onUp) {
  btn.addEventListener("pointerdown", (e) => { e.preventDefault(); btn.setPointerCapture(e.pointerId); onDown(); });
  for (const ev of ["pointerup", "pointercancel"]) btn.addEventListener(ev, onUp);
  btn.addEventListener("contextmenu", (e) => e.preventDefault());
}

function start() {
  api("/v1/status").then((s) => { state.me = s; $("me").textContent = s.names.join(", ") || s.id.slice(0, 8); })
    .catch(() => { });
  $("tg").addEventListener("change", () => { renderTalkgroups(); if (listener.tg) listener.start(currentTg()); });
  if (new URLSearchParams(location.search).get("mic") === "browser") $("mic-src").value = "browser";
  $("listen").addEventListener("click", async () => {
    const on = !listener.tg && currentTg();
    if (on) await listener.start(currentTg()); else listener.stop();
    $("listen").textContent = on ? "STOP LISTENING HERE" : "LISTEN ON THIS PHONE";
    $("listen").classList.toggle("on", !!on);
  });
  holdButton($("talk"), press, release);
  // The space bar talks too (on a laptop).
  document.addEventListener("keydown", (e) => { if (e.code === "Space" && e.target === document.body && !e.repeat) { e.preventDefault(); press(); } });
  document.addEventListener("keyup", (e) => { if (e.code === "Space" && e.target === document.body) { e.preventDefault(); release(); } });

  let holdTimer = null, holdStart = 0, tick = null;
  const mb = $("mayday-btn");
  holdButton(mb, () => {
    holdStart = Date.now(); mb.classList.add("holding");
    tick = setInterval(() => {
      const left = Math.max(0, MAYDAY_HOLD_MS - (Date.now() - holdStart));
      mb.textContent = `KEEP HOLDING… ${(left / 1000).toFixed(1)} s`;
    }, 100);
    holdTimer = setTimeout(async () => {
      clearInterval(tick); mb.classList.remove("holding");
      mb.textContent = "MAYDAY SENT";
      // The wall clock at the request (the field test compares it with
      // the console's: both browsers run on one machine).
      document.body.dataset.maydayAt = String(Date.now());
      try {
        const r = await api("/v1/mayday", { talkgroup: currentTg() || null });
        $("mayday-state").textContent = `MAYDAY declared on ${r.map((t) => t.name).join(", ")}`;
      } catch (e) { $("mayday-state").textContent = `MAYDAY flagged: ${e.message}`; }
      document.body.dataset.mayday = "sent";
    }, MAYDAY_HOLD_MS);
  }, () => {
    if (holdTimer) clearTimeout(holdTimer);
    clearInterval(tick); mb.classList.remove("holding");
    if (document.body.dataset.mayday !== "sent") mb.textContent = "HOLD 2 s FOR MAYDAY";
  });

  $("par-ack").addEventListener("click", async () => {
    try { await api("/v1/par/ack", {}); } catch (_) { }
    refreshPar();
  });
  $("answer").addEventListener("click", async () => {
    ring.stop();
    try { await api("/v1/answer", { call: Number($("ring").dataset.call) }); } catch (_) { }
    refreshCalls();
  });
  $("hangup").addEventListener("click", async () => {
    ring.stop();
    try { await api("/v1/hangup", { call: Number($("ring").dataset.call) }); } catch (_) { }
    refreshCalls();
  });
  $("msg-send").addEventListener("click", async () => {
    const to = $("msg-to").value.trim(), text = $("msg-text").value.trim();
    if (!to || !text) { $("msg-error").textContent = "Say who to and what."; return; }
    try { await api("/v1/messages", { to, talkgroup: false, text }); $("msg-text").value = ""; $("msg-error").textContent = "Sent."; }
    catch (e) { $("msg-error").textContent = `Refused: ${e.message}`; }
  });
  follow(onEvent, onLink);
}

start();
