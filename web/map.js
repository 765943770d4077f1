// The console's mesh map: an inline SVG of who hears whom, drawn from
// GET /v1/mesh (each look keeps the daemon fetching neighbour lists). Members with a position are placed to scale on a plane
// with a grid and a scale bar; the rest on a ring beside it, in a fixed
// order so that they do not move between refreshes. Link quality is a
// colour and a line style and a word in the legend; the route to the
// selected member is drawn thick underneath.

const NS = "http://www.w3.org/2000/svg";
const W = 1000, H = 520;
// The plane (positions) and the ring (no position) share the width.
const PLANE = { x: 20, y: 20, w: 600, h: 470 };
const RING = { cx: 820, cy: 260, r: 170 };
export const STYLE = {
  good: { color: "#0b6b1f", dash: "", width: 6, words: "good: solid green" },
  fair: { color: "#b35900", dash: "16 8", width: 6, words: "fair: dashed orange" },
  poor: { color: "#b00000", dash: "4 8", width: 6, words: "poor: dotted red" },
};

function s(tag, attrs, ...kids) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
}

export function label(n) {
  if (n.names.length) return n.names[0];
  return n.id.slice(0, 8);
}

// A round distance (1, 2 or 5 × 10^k metres) near `m`.
function nice(m) {
  const p = 10 ** Math.floor(Math.log10(Math.max(m, 1)));
  for (const f of [1, 2, 5, 10]) if (f * p >= m) return f * p;
  return 10 * p;
}

// Metres east/north of the first placed node, scaled into the plane.
function placePlane(placed) {
  if (!placed.length) return null;
  const lat0 = placed.reduce((a, n) => a + n.position.lat, 0) / placed.length;
  const lon0 = placed.reduce((a, n) => a + n.position.lon, 0) / placed.length;
  const k = Math.cos(lat0 * Math.PI / 180);
  const xy = placed.map((n) => [(n.position.lon - lon0) * 111320 * k, (n.position.lat - lat0) * 110540]);
  const xs = xy.map((p) => p[0]), ys = xy.map((p) => p[1]);
  const spanX = Math.max(...xs) - Math.min(...xs), spanY = Math.max(...ys) - Math.min(...ys);
  // Margins for the labels; at least 50 m across so one node is not a dot on infinity.
  const pad = 70;
  const scale = Math.min((PLANE.w - 2 * pad) / Math.max(spanX, 50), (PLANE.h - 2 * pad - 40) / Math.max(spanY, 50));
  const cx = (Math.max(...xs) + Math.min(...xs)) / 2, cy = (Math.max(...ys) + Math.min(...ys)) / 2;
  const at = new Map();
  placed.forEach((n, i) => at.set(n.id, [
    PLANE.x + PLANE.w / 2 + (xy[i][0] - cx) * scale,
    PLANE.y + (PLANE.h - 40) / 2 - (xy[i][1] - cy) * scale,
  ]));
  return { at, scale };
}

// Draw `mesh` into `svg`; `selected` is a node id or null. Returns the
// route to the selected node (ids), or null.
export function drawMap(svg, mesh, selected, onSelect) {
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const byId = new Map(mesh.nodes.map((n) => [n.id, n]));
  const placed = mesh.nodes.filter((n) => n.position);
  // Ring order: nearest first, then by id. Fixed between refreshes, and
  // a line of relays goes round the ring instead of across it.
  const hops = (n) => (n.hops == null ? 999 : n.hops);
  const free = mesh.nodes.filter((n) => !n.position)
    .sort((a, b) => hops(a) - hops(b) || (a.id < b.id ? -1 : 1));
  const plane = placePlane(placed);
  const at = plane ? plane.at : new Map();
  // Without any position the ring takes the middle, and no empty plane.
  const ring = plane ? RING : { cx: W / 2, cy: RING.cy, r: RING.r + 20 };
  free.forEach((n, i) => {
    const a = -Math.PI + (2 * Math.PI * i) / Math.max(free.length, 1);
    const r = free.length === 1 ? 0 : ring.r;
    at.set(n.id, [ring.cx + r * Math.cos(a), ring.cy + r * Math.sin(a)]);
  });
  const kids = [];
  if (plane) {
    // The plane: a grid of round metres and a scale bar.
    kids.push(s("rect", { x: PLANE.x, y: PLANE.y, width: PLANE.w, height: PLANE.h, fill: "#fff", stroke: "#000", "stroke-width": 2 }));
    const step = nice(80 / plane.scale), px = step * plane.scale;
    for (let x = PLANE.x + PLANE.w / 2 % px; x < PLANE.x + PLANE.w; x += px) {
      kids.push(s("line", { x1: x, y1: PLANE.y, x2: x, y2: PLANE.y + PLANE.h, stroke: "#c8c8c8", "stroke-width": 1 }));
    }
    for (let y = PLANE.y + PLANE.h / 2 % px; y < PLANE.y + PLANE.h; y += px) {
      kids.push(s("line", { x1: PLANE.x, y1: y, x2: PLANE.x + PLANE.w, y2: y, stroke: "#c8c8c8", "stroke-width": 1 }));
    }
    const bx = PLANE.x + 16, by = PLANE.y + PLANE.h - 18;
    kids.push(s("g", { id: "map-scale", "data-metres": step },
      s("rect", { x: bx - 6, y: by - 30, width: px + 110, height: 40, fill: "#fff" }),
      s("line", { x1: bx, y1: by, x2: bx + px, y2: by, stroke: "#000", "stroke-width": 6 }),
      s("line", { x1: bx, y1: by - 10, x2: bx, y2: by + 4, stroke: "#000", "stroke-width": 3 }),
      s("line", { x1: bx + px, y1: by - 10, x2: bx + px, y2: by + 4, stroke: "#000", "stroke-width": 3 }),
      s("text", { x: bx + px + 10, y: by + 7, "font-size": 22, "font-weight": "bold" }, `${step} m`),
      s("text", { x: bx, y: by - 12, "font-size": 16 }, `grid ${step} m`)));
  }
  if (free.length) {
    kids.push(s("text", { x: ring.cx, y: 22, "font-size": 20, "font-weight": "bold", "text-anchor": "middle" },
      plane ? "No position (placed in a ring)" : "No member has a position yet: placed in a ring, nearest first"));
  }
  // The route to the selected node, under the links.
  const sel = selected && byId.get(selected);
  const route = sel && sel.route.length > 1 ? sel.route : null;
  if (route) {
    for (let i = 0; i + 1 < route.length; i++) {
      const a = at.get(route[i]), b = at.get(route[i + 1]);
      if (!a || !b) continue;
      kids.push(s("line", { class: "route", x1: a[0], y1: a[1], x2: b[0], y2: b[1], stroke: "#0040a0", "stroke-width": 20, "stroke-linecap": "round", opacity: 0.55 }));
    }
  }
  for (const l of mesh.links) {
    const a = at.get(l.a), b = at.get(l.b), st = STYLE[l.quality] || STYLE.poor;
    if (!a || !b) continue;
    kids.push(s("line", { class: "link", "data-quality": l.quality, "data-a": l.a, "data-b": l.b,
      x1: a[0], y1: a[1], x2: b[0], y2: b[1], stroke: st.color, "stroke-width": st.width,
      "stroke-dasharray": st.dash || null, "stroke-linecap": "round" }));
  }
  for (const n of mesh.nodes) {
    const [x, y] = at.get(n.id);
    const onRoute = route && route.includes(n.id);
    const shape = n.base_station
      ? s("rect", { x: x - 16, y: y - 16, width: 32, height: 32, fill: "#000", stroke: "#fff", "stroke-width": 3 })
      : s("circle", { cx: x, cy: y, r: 14, fill: n.local ? "#0040a0" : "#fff", stroke: "#000", "stroke-width": 4 });
    // "This console" is said by the fill (see the legend) and the route
    // line: a longer label here would run into the neighbours' labels.
    const words = [label(n)];
    if (n.base_station) words.push("BASE");
    const g = s("g", { class: "node" + (n.id === selected ? " selected" : ""), "data-node": n.id,
      "data-role": label(n), "data-base": n.base_station ? "yes" : "no",
      "data-placed": n.position ? "yes" : "no", tabindex: 0, role: "button" },
    shape,
    n.id === selected ? s("circle", { cx: x, cy: y, r: 24, fill: "none", stroke: "#0040a0", "stroke-width": 6 }) : "",
    s("text", { x, y: y - 32, "text-anchor": "middle", "font-size": 22, "font-weight": "bold",
      stroke: "#fff", "stroke-width": 6, "paint-order": "stroke", fill: onRoute ? "#0040a0" : "#000" }, words.join(" ")),
    n.hops != null && !n.local
      ? s("text", { x, y: y + 48, "text-anchor": "middle", "font-size": 18, stroke: "#fff", "stroke-width": 5, "paint-order": "stroke" },
        `${n.hops} hop${n.hops === 1 ? "" : "s"}`)
      : "");
    // Hover: how old its neighbour list is (fetched while the map is open).
    g.prepend(s("title", {}, n.list_age_s == null ? `${label(n)}: neighbour list not in yet`
      : `${label(n)}: neighbour list ${Math.round(n.list_age_s)} s old`));
    g.addEventListener("click", () => onSelect(n.id));
    g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") onSelect(n.id); });
    kids.push(g);
  }
  svg.replaceChildren(...kids);
  return route;
}

// The route in words: "this console → relay-1 → engine-3 (2 hops)".
export function routeWords(mesh, selected) {
  const byId = new Map(mesh.nodes.map((n) => [n.id, n]));
  const n = byId.get(selected);
  if (!n) return "Select a member on the map or in the roster to see its route.";
  if (n.local) return `${label(n)} is this console.`;
  if (!n.route.length) return `${label(n)}: NO ROUTE from this console.`;
  const names = n.route.map((id) => (byId.get(id)?.local ? "this console" : label(byId.get(id) || { names: [], id })));
  const partial = n.route[n.route.length - 1] !== n.id ? " … (rest of the route not known yet)" : "";
  return `Route to ${label(n)}: ${names.join(" → ")}${partial} · ${n.hops} hop${n.hops === 1 ? "" : "s"}`;
}
