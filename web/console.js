// The incident commander's console: mesh map, roster with last-heard
// ageing, mayday alarm, PAR roll calls, talkgroups, messages and the
// incident log, all
// from the daemon's API and kept live by its event stream.
import { api, follow, el, clock, age, soon, Alarm } from "/assets/common.js";
import { MicTalker, Listener } from "/assets/audio.js";
import { drawMap, routeWords } from "/assets/map.js";

const $ = (id) => document.getElementById(id);
const q = new URLSearchParams(location.search);
const state = {
  me: null, names: [], maydays: [], par: null, tgs: [], sort: "role",
  amber: Number(q.get("amber") || localStorage.getItem("amber") || 10),
  red: Number(q.get("red") || localStorage.getItem("red") || 30),
  shownMayday: null, namesAt: Date.now(), bursts: [], audio: new Map(),
  mesh: null, selected: null,
};
const alarm = new Alarm([[880, 300], [660, 300]]);

// One roster row per node: its names, the worst presence, where it is.
function roster() {
  const by = new Map();
  for (const r of state.names) {
    let m = by.get(r.holder);
    if (!m) {
      m = { node: r.holder, names: [], unit: r.unit, presence: r.presence, tgs: new Set(),
        hops: r.hops, metric: r.metric, position: r.position, local: r.local,
        reachable: r.reachable, unreachable_ms: r.unreachable_ms };
      by.set(r.holder, m);
    }
    m.names.push(r.name);
    r.talkgroups.forEach((t) => m.tgs.add(t));
    if (r.presence === "emergency") m.presence = "emergency";
    if (!m.unit && r.unit) m.unit = r.unit;
    if (!m.position && r.position) m.position = r.position;
  }
  for (const m of by.values()) m.names.sort();
  return [...by.values()];
}

function heard(m) {
  if (m.local) return { text: "this console", cls: "ok", level: 0, ms: 0 };
  if (m.reachable) return { text: "HEARD now", cls: "ok", level: 0, ms: 0 };
  const ms = (m.unreachable_ms || 0) + (Date.now() - state.namesAt);
  if (ms >= state.red * 1000) return { text: `LOST ${age(ms)}`, cls: "red", level: 2, ms };
  if (ms >= state.amber * 1000) return { text: `STALE ${age(ms)}`, cls: "amber", level: 1, ms };
  return { text: `not heard ${age(ms)}`, cls: "", level: 0, ms };
}

// The route's cost (ETX, 1.0 a perfect hop) per hop, in words.
function linkWords(metric, hops) {
  if (metric === null || metric === undefined || !hops) return "—";
  const per = metric / 256 / hops;
  const w = per <= 1.3 ? "good" : per <= 2 ? "fair" : "poor";
  return `${w} · ETX ${per.toFixed(1)}/hop`;
}

function renderRoster() {
  const tg = $("f-tg").value, unit = $("f-unit").value, st = $("f-state").value;
  let rows = roster();
  const allTgs = new Set(), units = new Set();
  rows.forEach((m) => { m.tgs.forEach((t) => allTgs.add(t)); if (m.unit) units.add(m.unit); });
  fillSelect($("f-tg"), allTgs, "all");
  fillSelect($("f-unit"), units, "all");
  fillSelect($("par-scope"), allTgs, "everyone");
  rows = rows.filter((m) => (!tg || m.tgs.has(tg)) && (!unit || m.unit === unit))
    .filter((m) => {
      const h = heard(m);
      if (st === "heard") return h.level === 0;
      if (st === "stale") return h.level > 0;
      if (st === "emergency") return m.presence === "emergency";
      return true;
    });
  const key = {
    role: (m) => m.names[0], unit: (m) => m.unit || "~", presence: (m) => m.presence,
    hops: (m) => (m.hops === null || m.hops === undefined ? 999 : m.hops),
    heard: (m) => -heard(m).ms,
  }[state.sort];
  rows.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const body = $("roster").tBodies[0];
  body.replaceChildren(...rows.map((m) => {
    const h = heard(m);
    const emergency = m.presence === "emergency";
    const cls = emergency || h.level === 2 ? "row-red" : h.level === 1 ? "row-amber" : "";
    const sel = m.node === state.selected ? " selected" : "";
    return el("tr", { class: cls + sel, "data-node": m.node, "data-role": m.names[0] },
      el("td", {}, el("b", {}, m.names[0])),
      el("td", {}, m.names.slice(1).join(", ")),
      el("td", {}, m.unit || "—"),
      el("td", {}, emergency ? el("span", { class: "tag red" }, "EMERGENCY") : m.presence),
      el("td", { class: "nowrap" }, [...m.tgs].join(", ") || "—"),
      el("td", { class: "hops" }, m.hops ?? "—"),
      el("td", { class: "nowrap" }, m.local ? "—" : linkWords(m.metric, m.hops)),
      el("td", {}, m.position ? `${m.position.lat.toFixed(5)}, ${m.position.lon.toFixed(5)}` : "—"),
      el("td", { class: "heard" }, el("span", { class: `tag ${h.cls}`, "data-level": h.level }, h.text)));
  }));
  $("roster-count").textContent = `${rows.length} shown of ${roster().length}`;
}

function fillSelect(sel, values, allWord) {
  const want = ["", ...[...values].sort()];
  const have = [...sel.options].map((o) => o.value);
  if (want.join("\n") === have.join("\n")) return;
  const v = sel.value;
  sel.replaceChildren(...want.map((x) => el("option", { value: x }, x || allWord)));
  sel.value = want.includes(v) ? v : "";
}

function renderMayday() {
  const active = state.maydays.filter((m) => m.state !== "cleared");
  const box = $("mayday");
  if (active.length === 0) {
    box.classList.add("hidden");
    alarm.stop();
    document.body.dataset.alarm = "off";
    return;
  }
  const m = active[0];
  if (state.shownMayday !== m.node) document.body.dataset.maydayShownAt = String(Date.now());
  state.shownMayday = m.node;
  box.classList.remove("hidden");
  box.classList.toggle("acked", m.state === "acknowledged");
  $("mayday-state").textContent = m.state === "acknowledged"
    ? `ACKNOWLEDGED: ${m.reason}` : "ACTIVE — NOT ACKNOWLEDGED";
  $("mayday-who").textContent = (m.names.join(", ") || m.node.slice(0, 8)) +
    (active.length > 1 ? ` (+${active.length - 1} more)` : "");
  const where = m.position ? `at ${m.position.lat.toFixed(5)}, ${m.position.lon.toFixed(5)}` : "position unknown";
  $("mayday-detail").textContent =
    `since ${clock(m.since_ms)} · ${where} · talkgroups: ${m.talkgroups.join(", ") || "none"}`;
  if (m.state === "active") alarm.start(); else alarm.stop();
  const sounding = alarm.sounding();
  document.body.dataset.alarm = sounding ? "sounding" : m.state === "active" ? "muted" : "off";
  $("mayday-sound").textContent = m.state === "active"
    ? (sounding ? "Alarm sounding" : "Alarm cannot sound: turn sound on (top right)")
    : "Alarm silenced (acknowledged)";
  $("sound").classList.toggle("hidden", sounding || m.state !== "active");
}

function renderPar() {
  const p = state.par;
  if (!p) return;
  const t = $("par-timer");
  if (p.next_due_ms) {
    const left = p.next_due_ms - Date.now();
    t.className = "timer" + (left <= 0 ? " red" : left <= 60000 ? " amber" : "");
    t.textContent = left <= 0 ? `PAR OVERDUE by ${age(-left)}`
      : left <= 60000 ? `PAR DUE SOON: ${age(left)}` : `Next PAR in ${age(left)}`;
  } else {
    t.className = "timer";
    t.textContent = `No PAR yet (every ${p.interval_s / 60} min after the first)`;
  }
  const r = p.rolls[0];
  if (!r) { $("par-current").replaceChildren(); return; }
  const cls = r.state === "all accounted" ? "ok" : r.state === "incomplete" ? "bad" : "open";
  const acc = r.members.filter((m) => m.accounted), un = r.members.filter((m) => !m.accounted);
  $("par-current").replaceChildren(
    el("div", {}, `PAR ${r.code} started ${clock(r.started_ms)} for ${r.talkgroup || "everyone"}`),
    el("div", { class: `par-outcome ${cls}`, id: "par-outcome", "data-state": r.state },
      r.state === "open" ? `OPEN: ${acc.length} of ${r.members.length} accounted`
        : r.state === "incomplete" ? `INCOMPLETE: ${un.map((m) => m.name).join(", ")}` : "ALL ACCOUNTED"),
    el("div", {}, el("b", {}, `Accounted (${acc.length}): `),
      acc.map((m) => `${m.name} (${(m.acked_after_ms / 1000).toFixed(1)} s)`).join(", ") || "none"),
    el("div", {}, el("b", {}, `Unaccounted (${un.length}): `),
      el("span", { id: "par-unaccounted" }, un.map((m) => m.name).join(", ") || "none")));
}

// Listen live and talk from this browser (audio.js): one talkgroup at a
// time, chosen in #audio-tg.
const mic = new MicTalker();
const listener = new Listener((words) => { state.listenWords = words; renderAudio(); });
// For scripts and the field test: what this page played, as a WAV blob.
window.callsign = { listener };
const audioTg = () => $("audio-tg").value;

function renderAudio() {
  const sel = $("audio-tg"), names = state.tgs.map((t) => t.name);
  if (names.join() !== [...sel.options].map((o) => o.value).join()) {
    const v = sel.value;
    sel.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
    if (names.includes(v)) sel.value = v;
  }
  const t = state.tgs.find((x) => x.name === audioTg());
  $("listen").textContent = listener.tg ? "STOP LISTENING" : "LISTEN HERE";
  $("listen").classList.toggle("on", !!listener.tg);
  const b = $("talk");
  b.classList.toggle("on", !!(t && t.transmitting));
  b.textContent = t && t.transmitting ? "TALKING" : state.talking ? "WAITING…" : "HOLD TO TALK (or space)";
  $("audio-state").textContent = `${state.listenWords || "not listening"} · ${state.micWords || "microphone off"}`;
}

async function press() {
  const tg = audioTg();
  if (!tg || state.talking) return;
  state.talking = true; renderAudio();
  try {
    await api(`/v1/talkgroups/${encodeURIComponent(tg)}/ptt`, { browser: true });
    await mic.open();
    if (!state.talking) { mic.stop(); return; }
    mic.start(tg);
    state.micWords = "microphone ON (this browser)";
  } catch (e) {
    mic.stop();
    state.micWords = `microphone: ${e.message}`;
    try { await api(`/v1/talkgroups/${encodeURIComponent(tg)}/release`, {}); } catch (_) { }
  }
  tgs();
}
async function release() {
  if (!state.talking) return;
  state.talking = false; mic.stop(); state.micWords = "microphone off";
  try { await api(`/v1/talkgroups/${encodeURIComponent(audioTg())}/release`, {}); } catch (_) { }
  tgs();
}

function renderTalkgroups() {
  renderAudio();
  $("talkgroups").replaceChildren(...(state.tgs.length ? state.tgs.map((t) =>
    el("li", { "data-tg": t.name }, el("b", {}, t.name), ": ",
      t.talker ? el("span", { class: "tag amber" }, `${t.talker.name} TALKING`)
        : t.transmitting ? el("span", { class: "tag amber" }, "this console TALKING") : "clear",
      ` · ${t.bursts_heard} ${t.bursts_heard === 1 ? "burst" : "bursts"} heard`)) : [el("li", {}, "This console is in no talkgroup.")]));
  // The latest bursts (from the incident log): when, who, how long, and
  // the audio log's file of it (play here, or save it).
  // Two rows a burst: what it was, then its recording across the table.
  $("bursts").replaceChildren(...(state.bursts.length ? state.bursts.flatMap((b) => [
    el("tr", { class: "burst" }, el("td", {}, clock(b.start_ms)), el("td", {}, b.talkgroup),
      el("td", {}, el("b", {}, b.talker || "unknown")), el("td", {}, `${(b.length_ms / 1000).toFixed(1)} s`)),
    el("tr", { "data-file": b.recording || "" }, el("td", { colspan: 4 }, el("div", { class: "audio" }, recordingCell(b))))])
    : [el("tr", {}, el("td", { colspan: 4 }, "No bursts yet."))]));
}

// What the audio log holds of a burst, in words, with a player and a
// download when the file is complete. The <audio> element is kept across
// re-renders so a burst being played is not cut off by the next event.
const players = new Map();
function recordingCell(b) {
  if (!b.recording) return el("span", { class: "muted" }, "not in this node's audio log");
  const f = state.audio.get(b.recording);
  if (!f) return el("span", { class: "muted" }, "no longer kept (audio log quota)");
  if (f.recording) { setTimeout(log, 1500); return el("span", { class: "tag amber" }, "RECORDING…"); }
  const url = `/v1/audio/${f.file.split("/").map(encodeURIComponent).join("/")}`;
  let a = players.get(f.file);
  if (!a) {
    a = el("audio", { controls: true, preload: "none", src: url, "aria-label": `burst by ${f.talker}` });
    players.set(f.file, a);
  }
  return [a, " ", el("a", { class: "save", href: `${url}?download=1`, download: "" }, "SAVE WAV")];
}

// Select a member (map or roster): its route is drawn and said in words.
function select(id) {
  state.selected = state.selected === id ? null : id;
  renderMap();
  renderRoster();
}

function renderMap() {
  const m = state.mesh;
  if (!m) return;
  drawMap($("map"), m, state.selected, select);
  $("map-route").textContent = routeWords(m, state.selected);
  // Lists are fetched from each node while the map is open: say how many
  // have come and how old the oldest is.
  const lists = m.nodes.filter((n) => n.list_age_s != null);
  const oldest = Math.max(0, ...lists.map((n) => n.list_age_s));
  $("map-count").textContent = `${m.nodes.length} nodes · ${m.links.length} links · ` +
    `neighbour lists ${lists.length} of ${m.nodes.length}, oldest ${Math.round(oldest)} s`;
}

async function refreshMesh() {
  try {
    state.mesh = await api("/v1/mesh");
    renderMap();
    // Lists still coming (the map just opened): look again soon.
    if (state.mesh.nodes.some((n) => n.list_age_s == null)) setTimeout(mesh, 1000);
  } catch (_) { }
}

async function refreshNames() {
  try { state.names = await api("/v1/names"); state.namesAt = Date.now(); renderRoster(); } catch (_) { /* link shows it */ }
}
async function refreshMaydays() {
  try { state.maydays = await api("/v1/maydays"); renderMayday(); } catch (_) { }
}
async function refreshPar() {
  try { state.par = await api("/v1/par"); renderPar(); } catch (_) { }
}
async function refreshTalkgroups() {
  try { state.tgs = await api("/v1/talkgroups"); renderTalkgroups(); } catch (_) { }
}
async function refreshMessages() {
  try {
    const inbox = await api("/v1/inbox");
    const outbox = await api("/v1/outbox");
    $("inbox").replaceChildren(...inbox.slice(-8).reverse().map((m) =>
      el("li", {}, el("b", {}, m.from_names[0] || m.from.slice(0, 8)), ` → ${m.to}: ${m.text} `,
        el("span", { class: "muted" }, clock(m.received_ms)))));
    $("outbox").replaceChildren(...outbox.slice(-8).reverse().map((m) =>
      el("li", {}, `→ ${m.to}: ${m.text} `,
        el("span", { class: m.state.startsWith("delivered") ? "tag ok" : m.state === "expired" ? "tag red" : "tag" },
          m.state.toUpperCase()))));
  } catch (_) { }
}
async function refreshLog() {
  try {
    const rows = await api("/v1/log?ago_s=86400");
    state.bursts = rows.filter((r) => r.kind === "ptt_burst").slice(-8).reverse().map((r) => r.detail);
    try { state.audio = new Map((await api("/v1/audio?limit=200")).map((f) => [f.file, f])); } catch (_) { }
    renderTalkgroups();
    const f = $("log-filter").value.trim().toLowerCase();
    const shown = rows.filter((r) => r.kind !== "ptt_frame")
      .map((r) => ({ r, text: r.summary || summary(r) }))
      .filter((x) => !f || x.text.toLowerCase().includes(f) || x.r.kind.includes(f))
      .slice(-300).reverse();
    $("log").tBodies[0].replaceChildren(...shown.map(({ r, text }) =>
      el("tr", {}, el("td", {}, clock(r.at_ms)), el("td", {}, el("b", {}, r.kind)), el("td", {}, text))));
  } catch (_) { }
}
// Rows from a daemon that does not put them in words.
function summary(r) {
  const d = Object.assign({}, r.detail); delete d.type;
  return Object.entries(d).filter(([, v]) => v !== null && v !== "" && !(Array.isArray(v) && v.length === 0)).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`).join(" · ");
}

const mesh = soon(refreshMesh, 500);
const names = soon(refreshNames), maydays = soon(refreshMaydays), par = soon(refreshPar),
  tgs = soon(refreshTalkgroups), msgs = soon(refreshMessages), log = soon(refreshLog, 400);

function onEvent(type, d) {
  if (["name_changed", "name_expired", "route_changed", "neighbour_up", "neighbour_down"].includes(type)) { names(); mesh(); }
  if (type === "name_changed" || type.startsWith("mayday")) maydays();
  if (type.startsWith("par_")) par();
  if (type === "floor" || type === "ptt_burst") tgs();
  if (type.startsWith("message_") || type === "text") msgs();
  if (type !== "route_changed") log();
  if (type === "lagged") { mesh(); names(); maydays(); par(); tgs(); msgs(); }
}

function onLink(up) {
  $("link").className = "link " + (up ? "live" : "down");
  $("link").textContent = up ? "LIVE" : "NO CONNECTION TO DAEMON";
  if (up) { mesh(); names(); maydays(); par(); tgs(); msgs(); log(); }
}

async function act(path, errBox, body) {
  $(errBox).textContent = "";
  try { return await api(path, body); } catch (e) { $(errBox).textContent = `Refused: ${e.message}`; return null; }
}

async function start() {
  try {
    const s = await api("/v1/status");
    state.me = s;
    $("me").textContent = `${s.names.join(", ") || s.id.slice(0, 8)} · ${s.id.slice(0, 8)}`;
  } catch (_) { }
  $("t-amber").value = state.amber; $("t-red").value = state.red;
  for (const id of ["t-amber", "t-red"]) {
    $(id).addEventListener("change", () => {
      state.amber = Math.max(1, Number($("t-amber").value) || 10);
      state.red = Math.max(state.amber + 1, Number($("t-red").value) || 30);
      localStorage.setItem("amber", state.amber); localStorage.setItem("red", state.red);
      renderRoster();
    });
  }
  for (const id of ["f-tg", "f-unit", "f-state"]) $(id).addEventListener("change", renderRoster);
  document.querySelectorAll("th button[data-sort]").forEach((b) =>
    b.addEventListener("click", () => { state.sort = b.dataset.sort; renderRoster(); }));
  $("sound").addEventListener("click", () => { alarm.ensure(); setTimeout(renderMayday, 100); });
  $("listen").addEventListener("click", async () => {
    if (listener.tg) listener.stop(); else if (audioTg()) await listener.start(audioTg());
    renderAudio();
  });
  $("audio-tg").addEventListener("change", () => { if (listener.tg) listener.start(audioTg()); renderAudio(); });
  const tb = $("talk");
  tb.addEventListener("pointerdown", (e) => { e.preventDefault(); tb.setPointerCapture(e.pointerId); press(); });
  for (const ev of ["pointerup", "pointercancel"]) tb.addEventListener(ev, release);
  tb.addEventListener("contextmenu", (e) => e.preventDefault());
  // The space bar talks too, unless typing.
  const typing = (e) => ["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName);
  document.addEventListener("keydown", (e) => { if (e.code === "Space" && !typing(e) && !e.repeat) { e.preventDefault(); press(); } });
  document.addEventListener("keyup", (e) => { if (e.code === "Space" && !typing(e)) { e.preventDefault(); release(); } });
  $("mayday-ack").addEventListener("click", async () => {
    const reason = $("mayday-reason").value.trim();
    if (!reason) { $("mayday-error").textContent = "Type a reason first."; return; }
    if (await act("/v1/maydays/ack", "mayday-error", { node: state.shownMayday, reason })) {
      $("mayday-reason").value = ""; refreshMaydays();
    }
  });
  $("mayday-clear").addEventListener("click", async () => {
    const reason = $("mayday-reason").value.trim();
    if (!reason) { $("mayday-error").textContent = "Type a reason first."; return; }
    if (await act("/v1/maydays/clear", "mayday-error", { node: state.shownMayday, reason })) {
      $("mayday-reason").value = ""; refreshMaydays();
    }
  });
  $("par-start").addEventListener("click", async () => {
    const tg = $("par-scope").value;
    const w = Number($("par-window").value) || 60;
    if (await act("/v1/par", "par-error", { talkgroup: tg || null, window_s: w })) refreshPar();
  });
  $("msg-send").addEventListener("click", async () => {
    const to = $("msg-to").value.trim(), text = $("msg-text").value.trim();
    if (!to || !text) { $("msg-error").textContent = "Say who to and what."; return; }
    if (await act("/v1/messages", "msg-error", { to, talkgroup: $("msg-tg").checked, text })) {
      $("msg-text").value = ""; refreshMessages();
    }
  });
  $("log-filter").addEventListener("input", log);
  $("roster").tBodies[0].addEventListener("click", (e) => {
    const row = e.target.closest("tr[data-node]");
    if (row) select(row.dataset.node);
  });
  // Ages and the PAR timer move on their own; link levels change without
  // an event, so the map is also polled.
  setInterval(() => { renderRoster(); renderPar(); }, 1000);
  setInterval(mesh, 5000);
  follow(onEvent, onLink);
}

start();
