// bn serve: the page. It renders what the API returns and holds no probability logic of its own.
// The whole question lives in the URL (the same keys as the API); model text is set with
// textContent only, never as markup.
"use strict";

const CONFIG = JSON.parse(document.getElementById("bn-config").textContent);
const SVG = "http://www.w3.org/2000/svg";
const KINDS = ["e", "do", "likelihood", "soft"];
const MARK = { evidence: "e", do: "do", likelihood: "likelihood", soft: "soft" };

const state = {
  q: { e: new Map(), do: new Map(), likelihood: new Map(), soft: new Map() },
  scenario: "",
  compare: "",
  node: "",
  target: "",
  edits: [], // unsaved edits: {node, when, probabilities}, or a compact node's (see compactTable)
  saved: null, // the note of what the last save wrote, shown until the next edit
  model: null,
  layout: null,
  view: null,
  version: null,
  names: new Map(),
  zoom: null,
  request: 0,
};

const $ = (selector) => document.querySelector(selector);

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// --- formatting (as bn draw writes numbers) ---------------------------------------------------

function percent(p) {
  if (p === null || !isFinite(p)) return "n/a";
  if (p !== 0 && Math.abs(p) < 0.001) return (p * 100).toPrecision(2).replace(/\.?0+$/, "") + "%";
  return (p * 100).toFixed(1) + "%";
}

function points(change) {
  if (change === null || change === undefined) return "n/a";
  if (Math.abs(change) < 0.0005) return "0.0 pts";
  return (change > 0 ? "+" : "") + (change * 100).toFixed(1) + " pts";
}

function shade(change) {
  const t = change === null || !isFinite(change) ? 0 : Math.min(1, Math.abs(change) / 0.25);
  const mix = (c) => Math.round(255 + (c - 255) * t).toString(16).padStart(2, "0");
  return "#" + mix(0xf7) + mix(0xc4) + mix(0x5e);
}

function weights(given) {
  if (Array.isArray(given)) return given.map((w) => String(w)).join(", ");
  return Object.entries(given || {}).map(([s, w]) => `${s} ${w}`).join(", ");
}

function tag(node) {
  if (node.mark === "evidence") return `observed: ${node.given}`;
  if (node.mark === "do") return `do(${node.given}): set, incoming links cut`;
  if (node.mark === "likelihood") return `likelihood evidence  ${weights(node.given)}`;
  if (node.mark === "soft") return `soft evidence (fixed marginal)  ${weights(node.given)}`;
  return node.form || "";
}

// --- the URL ----------------------------------------------------------------------------------

function split(value) {
  const colon = value.indexOf(":");
  const equals = value.indexOf("=");
  const at = colon >= 0 && (equals < 0 || colon < equals) ? colon : equals;
  return at < 0 ? [value, ""] : [value.slice(0, at), value.slice(at + 1)];
}

function readURL() {
  const params = new URLSearchParams(location.search);
  for (const kind of KINDS) {
    state.q[kind] = new Map();
    for (const value of params.getAll(kind)) {
      const [node, rest] = split(value);
      state.q[kind].set(node, rest);
    }
  }
  state.scenario = params.get("scenario") || "";
  state.compare = params.get("compare") || "";
  state.node = params.get("node") || "";
  state.target = params.get("target") || "";
  state.edits = params.getAll("cpt").map((text) => {
    try { return JSON.parse(text); } catch (error) { return null; }
  }).filter((edit) => edit && typeof edit === "object");
}

// The question's own parameters: the text of an API URL for the same question.
function questionParams(withEdits = true) {
  const params = new URLSearchParams();
  for (const kind of KINDS) for (const [node, value] of state.q[kind]) params.append(kind, `${node}:${value}`);
  if (state.scenario) params.append("scenario", state.scenario);
  if (withEdits) for (const edit of state.edits) params.append("cpt", JSON.stringify(edit));
  return params;
}

function writeURL() {
  const params = questionParams();
  if (state.compare) params.append("compare", state.compare);
  if (state.node) params.append("node", state.node);
  if (state.target) params.append("target", state.target);
  const text = params.toString();
  const url = location.pathname + (text ? "?" + text : "");
  if (url !== location.pathname + location.search) history.pushState(null, "", url);
}

function resolve(name) {
  if (state.names.has(name)) return state.names.get(name);
  const folded = [...state.names.keys()].filter((k) => k.toLowerCase() === name.toLowerCase());
  const ids = new Set(folded.map((k) => state.names.get(k)));
  return ids.size === 1 ? [...ids][0] : name;
}

function canonical() {
  for (const kind of KINDS) {
    const next = new Map();
    for (const [node, value] of state.q[kind]) next.set(resolve(node), value);
    state.q[kind] = next;
  }
  if (state.node) state.node = resolve(state.node);
}

// --- talking to the server --------------------------------------------------------------------

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  return { status: response.status, body };
}

function showError(body) {
  const box = $("#error");
  if (!body) { box.hidden = true; box.textContent = ""; return; }
  box.hidden = false;
  box.textContent = "";
  box.append(el("strong", {}, body.error || "error"));
  if (body.hint) box.append(el("div", { class: "hint" }, body.hint));
}

function showProblems(problems) {
  const box = $("[data-role=problems]");
  const invalid = problems && problems.length;
  box.hidden = !invalid;
  $("#canvas").hidden = !!invalid;
  box.textContent = "";
  if (!invalid) return;
  box.append(el("h2", {}, "The model has errors (bn check): fix the files and this page recovers by itself"));
  const list = el("ul");
  for (const p of problems) {
    const item = el("li", { class: p.severity });
    item.append(el("code", {}, p.line ? `${p.file}:${p.line}` : p.file), " ");
    item.append(el("span", {}, `${p.severity}: ${p.message}`));
    if (p.hint) item.append(el("div", { class: "hint" }, `hint: ${p.hint}`));
    list.append(item);
  }
  box.append(list);
}

async function loadModel() {
  const [model, layout] = await Promise.all([getJSON("/api/model"), getJSON("/api/layout")]);
  if (model.status === 409) { showProblems(model.body.problems); state.version = model.body.version; return false; }
  if (model.status !== 200) { showError(model.body); return false; }
  if (layout.status !== 200) { showError(layout.body); return false; }
  const same = state.layout && JSON.stringify([state.layout.nodes, state.layout.edges]) === JSON.stringify([layout.body.nodes, layout.body.edges]) && JSON.stringify({ ...state.model, version: 0 }) === JSON.stringify({ ...model.body, version: 0 });
  state.model = model.body;
  state.layout = layout.body;
  if (same) return true; // the drawing stands: only the numbers change
  state.names = new Map();
  for (const node of state.model.nodes) {
    state.names.set(node.id, node.id);
    for (const alias of node.aliases) if (!state.names.has(alias)) state.names.set(alias, node.id);
  }
  canonical();
  if (!state.target) state.target = state.model.targets[0] || state.model.nodes[0].id;
  else state.target = resolve(state.target.split("=")[0]);
  buildPickers();
  buildNetwork();
  return true;
}

async function update() {
  const ticket = ++state.request;
  const params = questionParams();
  if (state.compare) params.append("compare", state.compare);
  const { status, body } = await getJSON("/api/view?" + params.toString());
  if (ticket !== state.request) return; // a newer question was asked meanwhile
  if (status === 409) {
    showProblems(body.problems);
    state.version = body.version;
    return;
  }
  if (status !== 200) {
    showError(body);
    finish();
    return;
  }
  showError(null);
  showProblems(null);
  if (state.version && body.version !== state.layout.version) {
    state.version = body.version;
    await loadModel();
    return update();
  }
  state.version = body.version;
  state.view = body;
  paint(body.spec);
  $("[data-role=command]").textContent = body.command;
  showUnsaved(body.saved);
  downloads();
  renderPanel();
  finish();
}

function finish() {
  document.body.dataset.updates = String(Number(document.body.dataset.updates) + 1);
  if (window.bnClick) { window.bnTimes = (window.bnTimes || []).concat(performance.now() - window.bnClick); window.bnClick = 0; }
}

function ask() {
  writeURL();
  return update();
}

// --- the network ------------------------------------------------------------------------------

function buildPickers() {
  $("#title").textContent = state.model.title || "bn";
  document.title = `${state.model.title || "model"} · bn serve`;
  const scenario = $("select[name=scenario]");
  const compare = $("select[name=compare]");
  for (const select of [scenario, compare]) while (select.options.length > (select === compare ? 2 : 1)) select.remove(select.options.length - 1);
  for (const s of state.model.scenarios) {
    scenario.append(el("option", { value: s.name, title: s.description }, s.name));
    if (s.name !== "baseline") compare.append(el("option", { value: s.name, title: s.description }, s.name));
  }
  scenario.value = state.scenario;
  compare.value = state.compare;
  const target = $("select[name=target]");
  target.textContent = "";
  for (const node of state.model.nodes) target.append(el("option", { value: node.id }, node.label === node.id ? node.id : `${node.label} (${node.id})`));
  target.value = state.target;
  const sources = $("#sources-panel");
  sources.textContent = "";
  if (state.model.sources.length) {
    sources.append(el("h2", {}, "Sources"));
    const list = el("ul");
    for (const s of state.model.sources) {
      const text = typeof s === "string" ? s : [s.title, s.author, s.date, s.url].filter(Boolean).join(" · ");
      list.append(el("li", {}, text || JSON.stringify(s)));
    }
    sources.append(list);
  }
}

function buildNetwork() {
  const root = $("#network");
  root.textContent = "";
  const g = state.layout.geometry;
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 1, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }));
  const tee = svg("marker", { id: "tee", viewBox: "0 0 10 10", refX: 1, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
  tee.append(svg("path", { d: "M 2 0 L 2 10", class: "teehead" }));
  defs.append(marker, tee);
  root.append(defs);
  const world = svg("g", { id: "world" });
  root.append(world);
  const edges = svg("g", { class: "edges" });
  for (const edge of state.layout.edges) {
    const p = edge.points;
    let d = `M ${p[0][0]} ${p[0][1]}`;
    for (let i = 1; i + 2 < p.length; i += 3) d += ` C ${p[i][0]} ${p[i][1]} ${p[i + 1][0]} ${p[i + 1][1]} ${p[i + 2][0]} ${p[i + 2][1]}`;
    edges.append(svg("path", { d, class: "edge", "data-source": edge.source, "data-target": edge.target, "marker-end": "url(#arrow)" }));
  }
  world.append(edges);
  const byId = new Map(state.model.nodes.map((n) => [n.id, n]));
  for (const [id, box] of Object.entries(state.layout.nodes)) {
    const info = byId.get(id);
    const node = svg("g", { class: "node", "data-node": id, transform: `translate(${box.x} ${box.y})` });
    node.append(svg("rect", { class: "box", width: box.w, height: box.h, rx: 5 }));
    let y = g.pad;
    const head = svg("g", { class: "head", tabindex: 0, role: "button", "aria-label": `details of ${info.label}` });
    const headHeight = g.title * box.title.length + (box.names ? g.names : 0) + 2;
    head.append(svg("rect", { class: "header", x: 1, y: 1, width: box.w - 2, height: headHeight + g.pad - 1, rx: 4 }));
    for (const line of box.title) {
      head.append(svg("text", { class: "title", x: box.w / 2, y: y + g.title - 4 }, line));
      y += g.title;
    }
    if (box.names) {
      head.append(svg("text", { class: "names", x: box.w / 2, y: y + g.names - 3 }, [id, ...info.aliases].join(" · ")));
      y += g.names;
    }
    const tip = svg("title", {}, [info.label, info.description, ...info.states.filter((s) => s.description).map((s) => `${s.name}: ${s.description}`)].filter(Boolean).join("\n\n"));
    head.append(tip);
    head.addEventListener("click", () => select(id));
    head.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); select(id); } });
    node.append(head);
    y += 2;
    const banner = svg("g", { class: "banner" });
    banner.append(svg("rect", { x: 1, y, width: box.w - 2, height: g.banner - 2 }));
    banner.append(svg("text", { x: box.w / 2, y: y + g.banner - 6 }));
    node.append(banner);
    y += g.banner;
    for (const s of info.states) {
      const row = svg("g", { class: "state", "data-node": id, "data-state": s.name, "data-p": "", tabindex: 0, role: "button", "aria-pressed": "false", transform: `translate(0 ${y})` });
      row.append(svg("rect", { class: "hit", x: 1, y: 0, width: box.w - 2, height: g.state }));
      row.append(svg("text", { class: "sname", x: g.pad + 2, y: g.state - 5 }, s.name));
      const barX = g.pad + box.name_width;
      row.append(svg("rect", { class: "track", x: barX, y: 4, width: g.bar, height: g.state - 8 }));
      row.append(svg("rect", { class: "fill", x: barX, y: 4, width: 0, height: g.state - 8 }));
      row.append(svg("rect", { class: "ghost", x: barX, y: g.state - 5, width: 0, height: 2 }));
      row.append(svg("text", { class: "pct", x: barX + g.bar + g.percent, y: g.state - 5 }));
      row.append(svg("text", { class: "change", x: box.w - g.pad, y: g.state - 5 }));
      row.append(svg("title", {}, s.description ? `${s.name}: ${s.description}` : s.name));
      row.addEventListener("click", () => toggle(id, s.name));
      row.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggle(id, s.name); } });
      node.append(row);
      y += g.state;
    }
    world.append(node);
  }
  if (!state.zoom) fit();
  else applyZoom();
}

function paint(spec) {
  const comparing = spec.compare !== null;
  const g = state.layout.geometry;
  const cut = new Set(spec.edges.filter((e) => e.cut).map((e) => e.target));
  for (const path of document.querySelectorAll("#network path.edge")) {
    const isCut = cut.has(path.dataset.target);
    path.classList.toggle("cut", isCut);
    path.setAttribute("marker-end", isCut ? "url(#tee)" : "url(#arrow)");
  }
  for (const node of spec.nodes) {
    const group = document.querySelector(`#network g.node[data-node="${CSS.escape(node.id)}"]`);
    if (!group) continue;
    group.setAttribute("class", "node" + (node.mark ? ` mark-${node.mark}` : "") + (node.id === state.node ? " selected" : ""));
    group.querySelector("rect.box").style.fill = comparing ? shade(node.largest_change) : "";
    const banner = group.querySelector("g.banner text");
    const text = tag(node);
    banner.textContent = text.length > 46 ? text.slice(0, 45) + "…" : text;
    for (const s of node.states) {
      const row = group.querySelector(`g.state[data-state="${CSS.escape(s.name)}"]`);
      row.setAttribute("data-p", String(s.p));
      row.setAttribute("aria-pressed", String(s.observed));
      row.classList.toggle("observed", s.observed);
      row.querySelector("rect.fill").setAttribute("width", String(Math.max(0, Math.min(1, s.p)) * g.bar));
      row.querySelector("text.pct").textContent = percent(s.p);
      const ghost = row.querySelector("rect.ghost");
      const change = row.querySelector("text.change");
      if (comparing) {
        ghost.setAttribute("width", String(Math.max(0, Math.min(1, s.compare || 0)) * g.bar));
        change.textContent = points(s.change);
        change.setAttribute("class", "change " + (s.change === null || Math.abs(s.change) < 0.0005 ? "same" : s.change > 0 ? "up" : "down"));
      } else {
        ghost.setAttribute("width", "0");
        change.textContent = "";
      }
      row.setAttribute("aria-label", `${node.id} = ${s.name}: ${percent(s.p)}${s.observed ? " (observed)" : ""}`);
    }
  }
  const notes = spec.notes.join(" · ") + (spec.compare ? ` · compared with: ${spec.compare} (change in points; shading = largest change)` : "");
  $("#status").textContent = notes;
}

// --- zoom and pan -----------------------------------------------------------------------------

function fit() {
  const w = state.layout.width || 100;
  const h = state.layout.height || 100;
  state.zoom = { x: 0, y: 0, w, h };
  applyZoom();
}

function applyZoom() {
  const z = state.zoom;
  $("#network").setAttribute("viewBox", `${z.x} ${z.y} ${z.w} ${z.h}`);
}

function zoomBy(factor, cx, cy) {
  const z = state.zoom;
  const x = cx === undefined ? z.x + z.w / 2 : cx;
  const y = cy === undefined ? z.y + z.h / 2 : cy;
  z.x = x - (x - z.x) * factor;
  z.y = y - (y - z.y) * factor;
  z.w *= factor;
  z.h *= factor;
  applyZoom();
}

function setupZoom() {
  const canvas = $("#network");
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const box = canvas.getBoundingClientRect();
    const z = state.zoom;
    const scale = Math.max(z.w / box.width, z.h / box.height);
    const cx = z.x + (event.clientX - box.left) * scale;
    const cy = z.y + (event.clientY - box.top) * scale;
    zoomBy(event.deltaY > 0 ? 1.15 : 1 / 1.15, cx, cy);
  }, { passive: false });
  let drag = null;
  canvas.addEventListener("pointerdown", (event) => {
    if (event.target.closest("g.state, g.head")) return;
    drag = { x: event.clientX, y: event.clientY, z: { ...state.zoom } };
    canvas.setPointerCapture(event.pointerId);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const box = canvas.getBoundingClientRect();
    const scale = Math.max(drag.z.w / box.width, drag.z.h / box.height);
    state.zoom.x = drag.z.x - (event.clientX - drag.x) * scale;
    state.zoom.y = drag.z.y - (event.clientY - drag.y) * scale;
    applyZoom();
  });
  canvas.addEventListener("pointerup", () => { drag = null; });
  $("#zoom-in").addEventListener("click", () => zoomBy(1 / 1.25));
  $("#zoom-out").addEventListener("click", () => zoomBy(1.25));
  $("#zoom-fit").addEventListener("click", fit);
  $("#canvas").addEventListener("keydown", (event) => {
    const z = state.zoom;
    const step = { ArrowLeft: [-0.1, 0], ArrowRight: [0.1, 0], ArrowUp: [0, -0.1], ArrowDown: [0, 0.1] }[event.key];
    if (step && event.target.id === "canvas") { z.x += step[0] * z.w; z.y += step[1] * z.h; applyZoom(); event.preventDefault(); }
    if (event.key === "+" || event.key === "=") zoomBy(1 / 1.25);
    if (event.key === "-") zoomBy(1.25);
  });
}

// --- evidence ---------------------------------------------------------------------------------

function clearNode(id) {
  for (const kind of KINDS) state.q[kind].delete(id);
}

function toggle(id, name) {
  window.bnClick = performance.now();
  const was = state.q.e.get(id);
  clearNode(id);
  if (was !== name) state.q.e.set(id, name);
  ask();
}

function select(id) {
  state.node = id;
  for (const group of document.querySelectorAll("#network g.node")) group.classList.toggle("selected", group.dataset.node === state.node);
  writeURL();
  renderPanel();
}

// --- the side panel ---------------------------------------------------------------------------

let panelFor = null;

async function renderPanel() {
  const panel = $("#node-panel");
  if (!state.node || !state.model) {
    if (panelFor !== "") { panel.textContent = ""; panel.append(el("p", { class: "hint" }, "Click a node's title to see its table, its states and to set other kinds of evidence. Click a state to observe it; click it again to clear it.")); }
    panelFor = "";
    return;
  }
  const key = state.node + "|" + state.version + "|" + JSON.stringify(state.edits) + "|" + KINDS.map((k) => state.q[k].get(state.node) || "").join("|");
  if (panelFor === key) return;
  panelFor = key;
  const info = state.model.nodes.find((n) => n.id === state.node);
  if (!info) return;
  panel.textContent = "";
  panel.append(el("h2", {}, info.label));
  panel.append(el("p", { class: "names" }, [info.id, ...info.aliases].join(" · ")));
  if (info.description) panel.append(el("p", {}, info.description));
  const states = el("dl", { class: "states" });
  for (const s of info.states) { states.append(el("dt", {}, s.name)); states.append(el("dd", {}, s.description || "—")); }
  panel.append(states);
  panel.append(evidenceForm(info));
  const table = el("div", { class: "cpt" }, "loading the table…");
  panel.append(table);
  const { status, body } = await getJSON(cptURL(info.id, false));
  table.textContent = "";
  if (status !== 200) { table.append(el("p", { class: "error" }, body.error || "cannot read the table")); return; }
  table.append(body.form ? compactTable(body) : cptTable(body));
}

// A node's table as `bn cpt show --json` gives it; a compact node's with its unsaved edits made.
function cptURL(id, expanded) {
  const params = new URLSearchParams();
  for (const edit of state.edits) if (edit.node === id && !edit.when) params.append("cpt", JSON.stringify(edit));
  if (expanded) params.append("expanded", "1");
  const text = params.toString();
  return `/api/cpt/${encodeURIComponent(id)}` + (text ? "?" + text : "");
}

function evidenceForm(info) {
  const form = el("form", { class: "evidence", "aria-label": `evidence on ${info.id}` });
  form.append(el("h3", {}, "Evidence on this node"));
  const kind = el("select", { name: "kind", "aria-label": "kind of evidence" });
  const current = KINDS.find((k) => state.q[k].has(info.id)) || "";
  for (const [value, label] of [["", "none"], ["e", "observed (hard evidence)"], ["do", "do(): set it"], ["likelihood", "likelihood weights"], ["soft", "soft evidence (fixed marginal)"]]) kind.append(el("option", { value }, label));
  kind.value = current;
  form.append(el("label", {}, "Kind "), kind);
  const body = el("div", { class: "values" });
  form.append(body);
  const draw = () => {
    body.textContent = "";
    const k = kind.value;
    const value = state.q[k] ? state.q[k].get(info.id) || "" : "";
    if (k === "e" || k === "do") {
      const pick = el("select", { name: "state", "aria-label": "state" });
      for (const s of info.states) pick.append(el("option", { value: s.name }, s.name));
      if (value) pick.value = value;
      body.append(pick);
    } else if (k === "likelihood" || k === "soft") {
      const numbers = value && !value.includes(":") ? value.split(",") : [];
      const named = new Map(value.includes(":") ? value.split(",").map((item) => { const at = item.lastIndexOf(":"); return [item.slice(0, at), item.slice(at + 1)]; }) : []);
      info.states.forEach((s, i) => {
        const input = el("input", { type: "number", step: "any", min: "0", name: `w-${s.name}`, "aria-label": `${k} of ${s.name}` });
        input.value = numbers[i] || named.get(s.name) || (k === "likelihood" ? "1" : "");
        body.append(el("label", {}, s.name + " "), input);
      });
      if (k === "soft" && info.states.length === 2) {
        const slider = el("input", { type: "range", min: "0", max: "1", step: "0.01", name: "slider", "aria-label": `P(${info.states[1].name})` });
        const inputs = body.querySelectorAll("input[type=number]");
        slider.value = inputs[1].value || "0.5";
        slider.addEventListener("input", () => {
          inputs[1].value = slider.value;
          inputs[0].value = String(Math.round((1 - Number(slider.value)) * 1e6) / 1e6);
          apply();
        });
        body.append(el("label", {}, `P(${info.states[1].name}) `), slider);
      }
    }
  };
  const apply = () => {
    const k = kind.value;
    clearNode(info.id);
    if (k === "e" || k === "do") state.q[k].set(info.id, body.querySelector("select").value);
    if (k === "likelihood" || k === "soft") {
      const values = [...body.querySelectorAll("input[type=number]")].map((i) => i.value.trim() || "0");
      state.q[k].set(info.id, values.join(","));
    }
    ask();
  };
  kind.addEventListener("change", () => { draw(); if (!kind.value || kind.value === "e" || kind.value === "do") apply(); });
  draw();
  const button = el("button", { type: "submit" }, "Apply");
  form.append(button);
  form.addEventListener("submit", (event) => { event.preventDefault(); apply(); });
  return form;
}

function cptTable(cpt) {
  const box = el("div");
  box.append(el("h3", {}, `Table (${cpt.file})`));
  for (const comment of cpt.comments) box.append(el("p", { class: "comment" }, comment));
  const table = el("table");
  const head = el("tr");
  for (const p of cpt.parents) head.append(el("th", {}, p));
  for (const s of cpt.states) head.append(el("th", {}, s));
  head.append(el("th", {}, "ess"), el("th", {}, "note"));
  const thead = el("thead");
  thead.append(head);
  table.append(thead);
  const rows = el("tbody");
  for (const row of cpt.rows) {
    const tr = el("tr");
    for (const p of cpt.parents) tr.append(el("td", {}, row.when[p]));
    const edit = state.edits.find((e) => e.node === cpt.node && JSON.stringify(e.when) === JSON.stringify(row.when));
    for (const s of cpt.states) {
      const td = el("td", { class: "number" });
      const input = el("input", { type: "number", step: "any", min: "0", max: "1", "data-cell": `${cpt.node}|${JSON.stringify(row.when)}|${s}`, "aria-label": `P(${s} | ${Object.entries(row.when).map(([k, v]) => `${k}=${v}`).join(", ") || "no parents"})` });
      const edited = edit && edit.probabilities[s] !== undefined;
      input.value = edited ? String(edit.probabilities[s]) : row.probabilities[s] === null ? "" : String(row.probabilities[s]);
      if (edited) input.classList.add("edited");
      input.addEventListener("change", () => whatIf(cpt.node, row.when, s, input.value));
      td.append(input);
      tr.append(td);
    }
    tr.append(...essAndNote(row));
    rows.append(tr);
  }
  table.append(rows);
  box.append(table);
  return box;
}

// A compact node: its parameters are what the analyst edits (each change is re-expanded by the
// server); the full table it stands for is shown on request, read-only.
const FUNCTIONS = ["wmean", "wmin", "wmax", "mixminmax"];

function slot(edit) {
  if (edit.link !== undefined) return "link:" + edit.link;
  if (edit.weight !== undefined) return "weight:" + edit.weight;
  return ["variance", "function", "mix"].find((k) => edit[k] !== undefined) || "";
}

function compactEdit(node, key) {
  return state.edits.find((e) => e.node === node && !e.when && slot(e) === key);
}

function whatIfCompact(edit) {
  state.edits = state.edits.filter((e) => !(e.node === edit.node && !e.when && slot(e) === slot(edit)));
  state.edits.push(edit);
  ask();
}

// The ess and note cells that end a row of a table or of a compact node's links.
function essAndNote(row) {
  const note = row.note || "";
  return [
    el("td", { class: "number" }, row.ess === null ? "" : String(row.ess)),
    el("td", { class: "note", title: note }, note.length > 70 ? note.slice(0, 68) + "…" : note),
  ];
}

function numberInput(attrs, value, edited, onChange) {
  const input = el("input", { type: "number", step: "any", ...attrs });
  input.value = value === null || value === undefined ? "" : String(value);
  if (edited) input.classList.add("edited");
  input.addEventListener("change", () => {
    const p = Number(input.value);
    if (input.value.trim() !== "" && isFinite(p)) onChange(p);
  });
  return input;
}

function compactTable(cpt) {
  const box = el("div", { class: "compact", "data-form": cpt.form });
  const p = cpt.parameters;
  if (cpt.form === "ranked") {
    box.append(el("h3", {}, `Ranked node (${cpt.file}): ${p.function} of ${cpt.parents.length} parent(s), ${cpt.expanded_rows} rows expanded`));
    box.append(el("p", { class: "hint" }, `levels, lowest first: ${p.levels.join(", ")}`));
    const fn = el("select", { "data-param": "function", "aria-label": `function of ${cpt.node}` });
    for (const f of FUNCTIONS) fn.append(el("option", { value: f }, f));
    fn.value = p.function;
    if (compactEdit(cpt.node, "function")) fn.classList.add("edited");
    fn.addEventListener("change", () => whatIfCompact({ node: cpt.node, function: fn.value }));
    const variance = numberInput({ min: "0", "data-param": "variance", "aria-label": `variance of ${cpt.node}` }, p.variance,
      compactEdit(cpt.node, "variance"), (v) => whatIfCompact({ node: cpt.node, variance: v }));
    box.append(el("label", {}, "function "), fn, el("label", {}, " variance "), variance);
    const table = el("table");
    const head = el("tr");
    head.append(el("th", {}, "parent"), el("th", {}, "weight"));
    const thead = el("thead");
    thead.append(head);
    table.append(thead);
    const rows = el("tbody");
    for (const [parent, weight] of Object.entries(p.weights)) {
      const tr = el("tr");
      tr.append(el("td", {}, parent));
      const td = el("td", { class: "number" });
      td.append(numberInput({ min: "0", "data-param": `weight:${parent}`, "aria-label": `weight of ${parent}` }, weight,
        compactEdit(cpt.node, "weight:" + parent), (w) => whatIfCompact({ node: cpt.node, weight: parent, value: w })));
      tr.append(td);
      rows.append(tr);
    }
    table.append(rows);
    box.append(table);
    if (p.function === "mixminmax") {
      const mix = p.mix || [1, 1];
      const edited = compactEdit(cpt.node, "mix");
      const low = numberInput({ min: "0", "data-param": "mix:min", "aria-label": "weight of the minimum" }, mix[0], edited, (w) => whatIfCompact({ node: cpt.node, mix: [w, Number(high.value)] }));
      const high = numberInput({ min: "0", "data-param": "mix:max", "aria-label": "weight of the maximum" }, mix[1], edited, (w) => whatIfCompact({ node: cpt.node, mix: [Number(low.value), w] }));
      box.append(el("label", {}, "mix: min "), low, el("label", {}, " max "), high);
    }
  } else {
    const name = cpt.form === "noisy-or" ? "Noisy-OR" : "Noisy-MAX";
    box.append(el("h3", {}, `${name} (${cpt.file}): ${p.links.length + 1} rows for ${cpt.expanded_rows}`));
    const absent = Object.entries(p.parent_absent).map(([k, v]) => `${k}=${v}`).join(", ");
    box.append(el("p", { class: "hint" }, `absent: ${cpt.node}=${p.absent}; ${absent}. A link is what its cause alone produces; the leak, every other cause.`));
    const table = el("table");
    const head = el("tr");
    head.append(el("th", {}, "parent"), el("th", {}, "state"));
    for (const s of cpt.states) head.append(el("th", {}, s));
    head.append(el("th", {}, "ess"), el("th", {}, "note"));
    const thead = el("thead");
    thead.append(head);
    table.append(thead);
    const rows = el("tbody");
    for (const row of [...p.links, { ...p.leak, parent: "leak", state: "" }]) {
      const link = row.parent === "leak" && row.state === "" ? "leak" : `${row.parent}=${row.state}`;
      const edit = compactEdit(cpt.node, "link:" + link);
      const tr = el("tr", { "data-link": link });
      tr.append(el("td", {}, row.parent), el("td", {}, row.state));
      for (const s of cpt.states) {
        const td = el("td", { class: "number" });
        td.append(numberInput({ min: "0", max: "1", "data-cell": `${cpt.node}|link:${link}|${s}`, "aria-label": `P(${s} | link ${link})` },
          row.probabilities[s], edit && edit.probabilities[s] !== undefined,
          (v) => whatIfCompact({ node: cpt.node, link, probabilities: { [s]: v } })));
        tr.append(td);
      }
      tr.append(...essAndNote(row));
      rows.append(tr);
    }
    table.append(rows);
    box.append(table);
  }
  const slotBox = el("div", { class: "expanded" });
  const button = el("button", { type: "button", "data-role": "expand", "aria-expanded": "false" }, `Show the expanded table (${cpt.expanded_rows} rows)`);
  button.addEventListener("click", async () => {
    if (slotBox.childNodes.length) { slotBox.textContent = ""; button.setAttribute("aria-expanded", "false"); return; }
    const { status, body } = await getJSON(cptURL(cpt.node, true));
    if (status !== 200) { slotBox.append(el("p", { class: "error" }, body.error || "cannot expand the table")); return; }
    slotBox.append(expandedTable(body));
    button.setAttribute("aria-expanded", "true");
  });
  box.append(button, slotBox);
  return box;
}

// The table a compact node stands for, rows in parent-state order (read-only: edit the parameters).
function expandedTable(cpt) {
  const byId = new Map(state.model.nodes.map((n) => [n.id, n]));
  const parents = cpt.parents.map((id) => byId.get(id).states.map((s) => s.name));
  const table = el("table", { "data-role": "expanded" });
  const head = el("tr");
  for (const id of cpt.parents) head.append(el("th", {}, id));
  for (const s of cpt.states) head.append(el("th", {}, s));
  const thead = el("thead");
  thead.append(head);
  table.append(thead);
  const rows = el("tbody");
  const walk = (cells, depth, combo) => {
    if (depth === parents.length) {
      const tr = el("tr");
      for (const s of combo) tr.append(el("td", {}, s));
      cells.forEach((p) => tr.append(el("td", { class: "number" }, String(Math.round(p * 1e6) / 1e6))));
      rows.append(tr);
      return;
    }
    parents[depth].forEach((s, i) => walk(cells[i], depth + 1, [...combo, s]));
  };
  walk(cpt.table, 0, []);
  table.append(rows);
  return table;
}

function whatIf(node, when, name, value) {
  const p = Number(value);
  if (value.trim() === "" || !isFinite(p)) return;
  const same = (e) => e.node === node && JSON.stringify(e.when) === JSON.stringify(when);
  state.edits = state.edits.filter((e) => !same(e));
  state.edits.push({ node, when, probabilities: { [name]: p } });
  ask();
}

function showUnsaved(saved) {
  const slot = $("#unsaved-slot");
  slot.textContent = "";
  // what the last save wrote stays in view until the next edit (a reload by poll() redraws it)
  if (!state.edits.length) { if (state.saved) slot.append(state.saved); return; }
  state.saved = null;
  const box = el("div", { "data-role": "unsaved", role: "status" });
  box.append(el("strong", {}, `Unsaved: ${state.edits.length} edit(s), computed in memory. `));
  if (saved) {
    const parts = Object.entries(saved.edited).map(([node, dist]) => {
      const before = saved.targets[node] || {};
      return Object.entries(dist).map(([s, p]) => `P(${node}=${s}) ${percent(before[s])} → ${percent(p)}`).join(", ");
    });
    box.append(el("span", {}, parts.join("; ")));
  }
  if (!CONFIG.readOnly) {
    const save = el("button", { type: "button", id: "save" }, "Save");
    save.addEventListener("click", saveEdits);
    box.append(" ", save);
  } else {
    box.append(el("span", { class: "hint" }, CONFIG.packaged ? " (the packaged model is read-only: serve a copy with --model to save)" : " (read-only: --read-only)"));
  }
  const revert = el("button", { type: "button", id: "revert" }, "Revert");
  revert.addEventListener("click", () => { state.edits = []; ask(); });
  box.append(" ", revert);
  slot.append(box);
}

async function saveEdits() {
  const messages = [];
  // compact nodes' edits first (each saved through bn cpt set on the node's parameters)
  for (const edit of [...state.edits.filter((e) => !e.when), ...state.edits.filter((e) => e.when)]) {
    const response = await fetch(`/api/cpt/${encodeURIComponent(edit.node)}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-BN-Token": CONFIG.token },
      // a compact node's edit is sent as the page holds it: {node, link | weight | variance | ...}
      body: JSON.stringify(edit.when ? { when: edit.when, probabilities: edit.probabilities } : edit),
    });
    const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (response.status !== 200) { showError(body); return; }
    state.edits = state.edits.filter((e) => e !== edit); // saved: not to be sent again
    messages.push(...body.messages);
  }
  state.edits = [];
  await ask();
  const done = el("div", { class: "saved", "data-role": "saved", role: "status" });
  done.append(el("strong", {}, "Saved: "), el("span", {}, messages.join("; ")));
  state.saved = done;
  $("#unsaved-slot").append(done);
}

// --- the target's analyses --------------------------------------------------------------------

async function analysis(kind) {
  const box = $("#analysis");
  box.textContent = "";
  const params = questionParams();
  params.append("target", state.target);
  if (kind === "uncertainty") params.append("n", "100000");
  const progress = el("div", { class: "progress", role: "status" });
  progress.append(el("progress", { "aria-label": "computing" }), el("span", {}, kind === "uncertainty" ? " drawing 100,000 parameter sets…" : " computing…"));
  box.append(progress);
  const { status, body } = await getJSON(`/api/${kind}?` + params.toString());
  box.textContent = "";
  if (status !== 200) { box.append(el("p", { class: "error" }, body.error || "error")); return; }
  const name = `P(${body.target.split("=")[0]}=${body.state || body.target.split("=")[1]})`;
  if (kind === "sensitivity") {
    box.append(el("h3", {}, `${name} = ${percent(body.baseline)}: the cells that move it most`));
    const list = el("div", { class: "tornado" });
    const cells = body.cells.slice(0, 10);
    const lo = Math.min(body.baseline, ...cells.map((c) => c.low));
    const hi = Math.max(body.baseline, ...cells.map((c) => c.high));
    const at = (p) => (hi > lo ? ((p - lo) / (hi - lo)) * 100 : 50);
    for (const c of cells) {
      const row = el("div", { class: "bar-row" });
      const given = Object.entries(c.parents || {}).map(([k, v]) => `${k}=${v}`).join(", ");
      row.append(el("span", { class: "label" }, `${c.node}: P(${c.state}${given ? " | " + given : ""}) = ${c.value}`));
      const track = el("span", { class: "track" });
      const bar = el("span", { class: "bar" });
      bar.style.marginLeft = `${at(c.low)}%`;
      bar.style.width = `${Math.max(0.5, at(c.high) - at(c.low))}%`;
      const mark = el("span", { class: "baseline" });
      mark.style.left = `${at(body.baseline)}%`;
      track.append(bar, mark);
      row.append(track, el("span", { class: "value" }, `${percent(c.low)} – ${percent(c.high)}`));
      list.append(row);
    }
    box.append(list);
  } else if (kind === "voi") {
    box.append(el("h3", {}, `${name} = ${percent(body.probability)}: what to watch`));
    const table = el("table");
    const head = el("tr");
    for (const h of ["if we observe", "bits", "lowest", "highest"]) head.append(el("th", {}, h));
    table.append(head);
    for (const c of body.candidates) {
      const tr = el("tr");
      tr.append(el("td", {}, c.node), el("td", { class: "number" }, c.mutual_information.toPrecision(3)), el("td", { class: "number" }, `${percent(c.low)} (${c.low_state})`), el("td", { class: "number" }, `${percent(c.high)} (${c.high_state})`));
      table.append(tr);
    }
    box.append(table);
  } else {
    box.append(el("h3", {}, `${name}: ${percent(body.point)} as written`));
    box.append(el("p", { "data-role": "interval" }, `90% interval ${percent(body.interval_90[0])} to ${percent(body.interval_90[1])} · mean ${percent(body.mean)} · ${body.n.toLocaleString("en")} draws, seed ${body.seed}`));
  }
}

// --- downloads, copy, live reload -------------------------------------------------------------

let blobs = [];

function downloads() {
  const params = questionParams(false);
  if (state.compare) params.append("compare", state.compare);
  $("#download-svg").href = "/api/draw?" + params.toString();
  for (const url of blobs) URL.revokeObjectURL(url);
  const result = state.view.query;
  const json = new Blob([JSON.stringify(result, null, 2)], { type: "application/json" });
  const quote = (text) => /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  const lines = ["node,state,probability"];
  for (const [node, dist] of Object.entries(result.posteriors)) for (const [s, p] of Object.entries(dist)) lines.push(`${quote(node)},${quote(s)},${p}`);
  const csv = new Blob([lines.join("\n") + "\n"], { type: "text/csv" });
  blobs = [URL.createObjectURL(json), URL.createObjectURL(csv)];
  $("#download-json").href = blobs[0];
  $("#download-csv").href = blobs[1];
}

async function poll() {
  try {
    const { status, body } = await getJSON("/api/version");
    if (status === 200 && body.version !== state.version) {
      state.version = body.version;
      if (body.valid) {
        showProblems(null);
        panelFor = null;
        if (await loadModel()) await update();
      } else {
        await update();
      }
    }
  } catch (error) {
    $("#status").textContent = "the server does not answer (stopped?)";
  }
  setTimeout(poll, 1000);
}

async function start() {
  readURL();
  setupZoom();
  $("select[name=scenario]").addEventListener("change", (event) => { state.scenario = event.target.value; ask(); });
  $("select[name=compare]").addEventListener("change", (event) => { state.compare = event.target.value; ask(); });
  $("select[name=target]").addEventListener("change", (event) => { state.target = event.target.value; $("#analysis").textContent = ""; writeURL(); });
  $("#clear").addEventListener("click", () => { for (const kind of KINDS) state.q[kind].clear(); state.scenario = ""; $("select[name=scenario]").value = ""; ask(); });
  $("#copy").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText($("[data-role=command]").textContent));
  $("#run-sensitivity").addEventListener("click", () => analysis("sensitivity"));
  $("#run-voi").addEventListener("click", () => analysis("voi"));
  $("#run-uncertainty").addEventListener("click", () => analysis("uncertainty"));
  window.addEventListener("popstate", () => { readURL(); canonical(); buildPickers(); panelFor = null; update(); });
  if (await loadModel()) await update();
  else finish();
  setTimeout(poll, 1000);
}

start();
