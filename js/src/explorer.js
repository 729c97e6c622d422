// sysnb explorer: the browser half of sysnb.views.widget.Explorer (anywidget).
// Python aggregates and pages; this file only draws what it is sent (Arrow IPC tables decoded with
// apache-arrow) and sends back what the user did as small messages ({kind: "page", start: 400}, ...).
import { tableFromIPC } from "apache-arrow";

const ROW_H = 22;
const LANE_H = 18;
const LABEL_W = 170;
const MAX_SCROLL_PX = 8_000_000; // browsers cap element heights; bigger tables scroll proportionally
const COLORS = {
  file: "#4e79a7", net: "#f28e2b", process: "#e15759", memory: "#76b7b2", IPC: "#59a14f", ipc: "#499894",
  signal: "#edc948", sleep: "#b07aa1", wait: "#ff9da7", time: "#9c755f", system: "#8c8c8c", user: "#8cd17d",
};
const colorOf = (category) => (Object.hasOwn(COLORS, category) ? COLORS[category] : undefined);
const EVENT_WIDTHS = {
  "evt.num": "72px", "evt.time": "150px", "evt.cpu": "56px", "proc.name": "120px", "thread.tid": "80px",
  "evt.dir": "52px", "evt.type": "100px", "proc.pid": "72px", "fd.num": "56px",
};

function decode(view) {
  if (!view || view.byteLength === 0) return null;
  return tableFromIPC(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
}

// Capture strings are chosen by whoever controlled the recorded host. They only ever reach the page as
// text (textContent, title: never innerHTML), and control, bidi and undecodable characters are shown as
// visible escapes, as sysnb.format.escape does in Python: ESC as ^[ (cat -v), U+202E as <U+202E>.
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
const UNSAFE_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

function caret(byte) {
  const meta = byte >= 0x80 ? "M-" : "";
  const b = byte & 0x7f;
  return meta + (b < 0x20 ? "^" + String.fromCharCode(b + 0x40) : b === 0x7f ? "^?" : String.fromCharCode(b));
}

function shown(ch) {
  const code = ch.charCodeAt(0);
  if (code < 0x80) return caret(code);
  if (code < 0xa0) return caret(0xc2) + caret(code); // a C1 control's UTF-8 bytes, as cat -v shows them
  return "<U+" + code.toString(16).toUpperCase().padStart(4, "0") + ">";
}

export function visible(value, newlines = false) {
  const text = value === null || value === undefined ? "" : String(value);
  return text.replace(newlines ? UNSAFE_LINES : UNSAFE, shown);
}

function h(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = visible(text);
  return node;
}

function textInput(cls, placeholder) {
  // JupyterLab's notebook shortcuts listen on the document (Enter, arrows, a/b/x...): keep our keys ours
  const input = h("input", cls);
  input.type = "text"; input.spellcheck = false; input.placeholder = placeholder;
  input.addEventListener("keydown", (e) => e.stopPropagation());
  return input;
}

// The case (sysnb.case.explorer): "add finding" for what the explorer shows (crumbs, filter box, window)
function findingForm(model, send) {
  const form = h("form", "sysnb-caseform");
  const title = textInput("sysnb-finding-title", "finding title, e.g. Port scan from 10.66.0.3");
  const severity = h("select", "sysnb-finding-severity");
  for (const s of ["info", "low", "medium", "high", "critical"]) {
    const o = h("option", "", s); o.value = s; if (s === "medium") o.selected = true; severity.append(o);
  }
  const add = h("button", "sysnb-add-finding", "add finding");
  add.type = "submit";
  add.title = "record the events shown (crumbs, filter box and time window) as a finding of the case";
  form.append(title, severity, add);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!title.value.trim()) { title.focus(); return; }
    send({ kind: "finding", title: title.value, severity: severity.value });
    title.value = "";
  });
  return form;
}

export function fmtNs(ns, step) {
  // a time offset in the unit of its magnitude (or of the axis step), without trailing zeros
  const a = Math.abs(step || ns);
  const [scale, unit] = a >= 1e9 ? [1e9, " s"] : a >= 1e6 ? [1e6, " ms"] : a >= 1e3 ? [1e3, " µs"] : [1, " ns"];
  if (ns === 0) return "0";
  return String(Number((ns / scale).toFixed(3))) + unit;
}

function rowsOf(table) {
  if (!table) return [];
  const cols = table.schema.fields.map((f) => f.name);
  const vectors = cols.map((c) => table.getChild(c));
  const out = [];
  for (let i = 0; i < table.numRows; i++) {
    const r = {};
    cols.forEach((c, j) => { r[c] = vectors[j].get(i); });
    out.push(r);
  }
  return out;
}

// A small context menu (right click on a row or a detail field): JupyterLab's own cell menu is kept for the
// rest of the notebook (the event does not reach the document). items: [label, action] or [label] (a title).
function contextMenu(host) {
  const menu = h("div", "sysnb-menu");
  menu.tabIndex = -1;
  const close = () => { menu.style.display = "none"; };
  menu.addEventListener("keydown", (e) => { e.stopPropagation(); if (e.key === "Escape") close(); });
  document.addEventListener("mousedown", (e) => { if (!menu.contains(e.target)) close(); }, true);
  host.append(menu);
  close();
  return (event, items) => {
    event.preventDefault();
    event.stopPropagation();
    menu.replaceChildren();
    for (const [label, action] of items) {
      const item = h("div", action ? "sysnb-menu-item" : "sysnb-menu-title", label);
      if (action) item.addEventListener("click", () => { close(); action(); });
      menu.append(item);
    }
    menu.style.display = "block";
    const box = host.getBoundingClientRect();
    menu.style.left = Math.max(0, event.clientX - box.left) + "px";
    menu.style.top = Math.max(0, event.clientY - box.top) + "px";
    menu.focus();
  };
}

function filterItems(send, what, base) {
  return [
    [what],
    ["apply as filter", () => send({ ...base, kind: "ctx", op: "apply" })],
    ["and …  (narrow the filter)", () => send({ ...base, kind: "ctx", op: "and" })],
    ["or …  (widen the filter)", () => send({ ...base, kind: "ctx", op: "or" })],
    ["and not …  (exclude)", () => send({ ...base, kind: "ctx", op: "not" })],
  ];
}

async function copyText(text) {
  try { await navigator.clipboard.writeText(text); return; } catch (e) { /* not a secure context: fall back */ }
  const area = document.createElement("textarea");
  area.value = text; document.body.append(area); area.select();
  document.execCommand("copy"); area.remove();
}

// Canvas colours from JupyterLab's theme variables (light and dark), with the light theme's as fallback
function themeColors(node) {
  const css = getComputedStyle(node);
  const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  return { text: v("--jp-ui-font-color2", "#567"), grid: v("--jp-border-color2", "#d6dde4"),
    lane: v("--jp-border-color3", "#eef1f4"), accent: v("--jp-brand-color1", "#2f6fb0"),
    mark: v("--jp-warn-color0", "#7a4fb0") };
}

// ---------------------------------------------------------------------------------------------------
function tilesPane(model, send) {
  const outer = h("div", "sysnb-overview");
  const toggle = h("button", "sysnb-collapse", "▾ overview");
  toggle.title = "collapse or expand the overview tiles";
  const root = h("div", "sysnb-tiles");
  outer.append(toggle, root);
  toggle.addEventListener("click", () => {
    const collapsed = outer.classList.toggle("sysnb-collapsed");
    toggle.textContent = (collapsed ? "▸ " : "▾ ") + "overview";
  });
  const draw = () => {
    root.replaceChildren();
    model.get("tiles").forEach((tile, index) => {
      const box = h("div", "sysnb-tile");
      box.title = visible("click to drill down: " + tile.filter);
      box.append(h("div", "sysnb-tile-title", tile.title), h("div", "sysnb-tile-value", tile.value));
      box.append(sparkline(tile.spark), h("code", "sysnb-tile-filter", tile.filter));
      box.addEventListener("click", () => send({ kind: "tile", index }));
      root.append(box);
    });
  };
  draw();
  model.on("change:tiles", draw);
  return outer;
}

function sparkline(counts) {
  const c = h("canvas", "sysnb-spark");
  c.width = 160; c.height = 26;
  const ctx = c.getContext("2d");
  const peak = Math.max(1, ...counts);
  ctx.strokeStyle = "#2f6fb0"; ctx.lineWidth = 1.5; ctx.beginPath();
  counts.forEach((v, i) => {
    const x = (i * (c.width - 2)) / Math.max(counts.length - 1, 1) + 1;
    const y = c.height - 2 - (v / peak) * (c.height - 4);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.stroke();
  return c;
}

// ---------------------------------------------------------------------------------------------------
function crumbsPane(model, send) {
  const root = h("div", "sysnb-nav");
  const crumbs = h("div", "sysnb-crumbs");
  const lenses = h("div", "sysnb-lenses");
  const form = h("form", "sysnb-filterbox");
  const input = h("input");
  input.type = "text"; input.spellcheck = false;
  input.placeholder = "sysdig filter, e.g. proc.name=curl and evt.type=connect  (Enter applies)";
  const error = h("pre", "sysnb-error");
  const combined = h("code", "sysnb-combined");
  form.append(input);
  form.addEventListener("submit", (e) => { e.preventDefault(); send({ kind: "filter", text: input.value }); });
  // JupyterLab's notebook shortcuts listen on the document (Enter, arrows, a/b/x...): keep our keys ours
  input.addEventListener("keydown", (e) => {
    e.stopPropagation();
    if (e.key === "Enter") { e.preventDefault(); send({ kind: "filter", text: input.value }); }
  });
  // live validation: the mistake and its caret while typing (nothing is applied before Enter); sent past the
  // busy indicator, as an unchanged error changes no trait
  let checking = null;
  input.addEventListener("input", () => {
    clearTimeout(checking);
    checking = setTimeout(() => model.send({ kind: "check", text: input.value }), 400);
  });
  const status = h("div", "sysnb-case-status");
  root.append(crumbs, lenses, form, error, combined, findingForm(model, send), status);
  const showStatus = () => { status.textContent = visible(model.get("case_status")); };
  model.on("change:case_status", showStatus);

  const draw = () => {
    crumbs.replaceChildren();
    const all = h("a", "sysnb-crumb", "All events");
    all.addEventListener("click", () => send({ kind: "crumb", depth: 0 }));
    crumbs.append(all);
    model.get("crumbs").forEach((c, i) => {
      crumbs.append(h("span", "sysnb-sep", " › "));
      const a = h("a", "sysnb-crumb", c.label);
      a.title = visible(c.filter);
      a.addEventListener("click", () => send({ kind: "crumb", depth: i + 1 }));
      crumbs.append(a);
    });
    lenses.replaceChildren();
    model.get("lenses").forEach((name) => {
      const b = h("button", "sysnb-lens" + (name === model.get("lens") ? " sysnb-active" : ""), name);
      b.addEventListener("click", () => send({ kind: "lens", name }));
      lenses.append(b);
    });
    if (document.activeElement !== input) input.value = model.get("filter_text");
    error.textContent = visible(model.get("error"), true);
    error.style.display = model.get("error") ? "block" : "none";
    const f = model.get("combined_filter");
    combined.textContent = f ? visible("%sysfilter " + f) : "";
  };
  draw();
  for (const name of ["crumbs", "lens", "filter_text", "error", "combined_filter"]) model.on("change:" + name, draw);
  return root;
}

// ---------------------------------------------------------------------------------------------------
function timelinePane(model, send) {
  const root = h("div", "sysnb-timeline");
  const bar = h("div", "sysnb-toolbar");
  const zoomIn = h("button", "", "zoom to selection");
  const zoomOut = h("button", "", "whole capture");
  const clear = h("button", "", "clear selection");
  const info = h("span", "sysnb-tl-info");
  const legend = h("span", "sysnb-legend");
  bar.append(zoomIn, zoomOut, clear, info, legend);
  const body = h("div", "sysnb-tl-body");
  const labels = h("div", "sysnb-tl-labels");
  const canvas = h("canvas", "sysnb-tl-canvas");
  body.append(labels, canvas);
  root.append(bar, body);
  let drag = null;

  const range = () => model.get("time_range");
  const width = () => Math.max(200, (root.clientWidth || 900) - LABEL_W - 8);
  const tAt = (x) => { const [a, b] = range(); return a + (x / width()) * (b - a); };
  const xAt = (t) => { const [a, b] = range(); return ((t - a) / Math.max(b - a, 1)) * width(); };

  function draw() {
    const meta = model.get("timeline_meta");
    const lanes = meta.lanes || [];
    const cats = meta.categories || [];
    const bins = meta.bins || 1;
    const w = width();
    const hgt = 20 + Math.max(lanes.length, 1) * LANE_H;
    canvas.width = w; canvas.height = hgt;
    canvas.style.width = w + "px"; canvas.style.height = hgt + "px";
    const ctx = canvas.getContext("2d");
    const colors = themeColors(root);
    ctx.clearRect(0, 0, w, hgt);
    axis(ctx, w, colors);
    labels.replaceChildren(h("div", "sysnb-tl-axislabel", "time since start"));
    lanes.forEach((lane) => {
      const l = h("div", "sysnb-tl-label" + (lane.tid === null ? "" : " sysnb-thread"));
      l.textContent = (lane.tid === null ? (lane.expanded ? "▾ " : "▸ ") : "   ") + visible(lane.label);
      l.title = lane.events + " events" + (lane.tid === null ? " — click to show threads" : "");
      if (lane.tid === null) l.addEventListener("click", () => send({ kind: "expand", pid: lane.pid }));
      labels.append(l);
    });
    const cells = decode(model.get("timeline"));
    if (cells) {
      const lane = cells.getChild("lane"), bin = cells.getChild("bin");
      const cat = cells.getChild("category"), n = cells.getChild("events");
      const totals = new Map();
      let peak = 1;
      for (let i = 0; i < cells.numRows; i++) {
        const k = lane.get(i) * bins + bin.get(i);
        const v = (totals.get(k) || 0) + n.get(i);
        totals.set(k, v); peak = Math.max(peak, v);
      }
      const bw = Math.max(1, w / bins);
      const stacked = new Map();
      for (let i = 0; i < cells.numRows; i++) {
        const k = lane.get(i) * bins + bin.get(i);
        const total = totals.get(k);
        const full = Math.max(2, Math.sqrt(total / peak) * (LANE_H - 3));
        const part = (full * n.get(i)) / total;
        const y0 = 20 + lane.get(i) * LANE_H + LANE_H - 1 - (stacked.get(k) || 0);
        stacked.set(k, (stacked.get(k) || 0) + part);
        ctx.fillStyle = colorOf(cats[cat.get(i)]) || "#c8c8c8";
        ctx.fillRect((bin.get(i) * w) / bins, y0 - part, bw, part);
      }
    }
    ctx.strokeStyle = colors.lane;
    for (let i = 0; i <= lanes.length; i++) {
      ctx.beginPath(); ctx.moveTo(0, 20 + i * LANE_H + 0.5); ctx.lineTo(w, 20 + i * LANE_H + 0.5); ctx.stroke();
    }
    ctx.fillStyle = colors.mark;  // the case's marks: a flag on the axis and a line across the lanes
    for (const [, t] of model.get("mark_times")) {
      const x = Math.round(xAt(t)) + 0.5;
      if (x < 0 || x > w) continue;
      ctx.fillRect(x - 0.5, 12, 1, hgt - 12);
      ctx.beginPath(); ctx.moveTo(x, 12); ctx.lineTo(x + 6, 15); ctx.lineTo(x, 18); ctx.fill();
    }
    const win = drag ? [drag.t0, drag.t1] : model.get("window");
    if (win && win.length === 2) {
      const x0 = xAt(Math.min(win[0], win[1])), x1 = xAt(Math.max(win[0], win[1]));
      ctx.globalAlpha = 0.18; ctx.fillStyle = colors.accent; ctx.fillRect(x0, 0, Math.max(1, x1 - x0), hgt);
      ctx.globalAlpha = 1; ctx.strokeStyle = colors.accent; ctx.strokeRect(x0 + 0.5, 0.5, Math.max(1, x1 - x0), hgt - 1);
    }
    const [a, b] = range();
    info.textContent = `${fmtNs(a)} – ${fmtNs(b)} · ${(meta.events || 0).toLocaleString()} events` +
      (win && win.length === 2 ? ` · selected ${fmtNs(Math.abs(win[1] - win[0]))}` : "");
    legend.replaceChildren(...cats.filter((c) => colorOf(c)).map((c) => {
      const s = h("span", "sysnb-key", c); s.style.borderLeftColor = colorOf(c); return s;
    }));
  }

  function axis(ctx, w, colors) {
    const [a, b] = range();
    const span = Math.max(b - a, 1);
    const step = Math.pow(10, Math.floor(Math.log10(span / 6)));
    const mult = span / step > 30 ? 5 : span / step > 12 ? 2 : 1;
    ctx.fillStyle = colors.text; ctx.font = "10px system-ui, sans-serif"; ctx.strokeStyle = colors.grid;
    for (let t = Math.ceil(a / (step * mult)) * step * mult; t <= b; t += step * mult) {
      const x = xAt(t);
      ctx.beginPath(); ctx.moveTo(x + 0.5, 14); ctx.lineTo(x + 0.5, canvas.height); ctx.stroke();
      ctx.fillText(fmtNs(t, step * mult), x + 2, 10);
    }
  }

  canvas.addEventListener("mousedown", (e) => {
    const t = tAt(e.offsetX);
    drag = { x: e.offsetX, t0: t, t1: t };
  });
  canvas.addEventListener("mousemove", (e) => { if (drag) { drag.t1 = tAt(e.offsetX); draw(); } });
  const finish = (e) => {
    if (!drag) return;
    const moved = Math.abs(e.offsetX - drag.x) > 3;
    const [t0, t1] = [Math.min(drag.t0, drag.t1), Math.max(drag.t0, drag.t1)];
    drag = null;
    if (moved) send({ kind: "window", t0: Math.floor(t0), t1: Math.ceil(t1) });
    draw();
  };
  canvas.addEventListener("mouseup", finish);
  canvas.addEventListener("mouseleave", (e) => { if (drag) finish(e); });
  zoomIn.addEventListener("click", () => {
    const win = model.get("window");
    if (win.length === 2) send({ kind: "zoom", t0: Math.floor(win[0]), t1: Math.ceil(win[1]) });
  });
  zoomOut.addEventListener("click", () => send({ kind: "zoom", reset: true }));
  clear.addEventListener("click", () => send({ kind: "window", t0: null, t1: null }));
  for (const name of ["timeline", "timeline_meta", "window", "time_range", "mark_times"]) {
    model.on("change:" + name, draw);
  }
  const resize = new ResizeObserver(() => draw());
  resize.observe(root);
  requestAnimationFrame(draw);
  return [root, () => resize.disconnect()];
}

// ---------------------------------------------------------------------------------------------------
function gridPane(model, send, menu) {
  const root = h("div", "sysnb-grid");
  const bar = h("div", "sysnb-gridbar");
  const head = h("div", "sysnb-grid-head");
  const scroller = h("div", "sysnb-grid-body");
  const spacer = h("div", "sysnb-grid-spacer");
  const rowsBox = h("div", "sysnb-grid-rows");
  const foot = h("div", "sysnb-grid-foot");
  scroller.append(spacer, rowsBox);
  root.append(bar, head, scroller, foot);
  let page = { start: 0, rows: [] };
  let pending = -1;
  let selected = null;
  let lastView = null;

  // the bar: go to an event, the previous/next mark, the time column's mode
  // an event number, or a time: +1.5s / 750ms (since the start), 19:43:36.808 (time of day), ISO 8601
  const goto = textInput("sysnb-goto", "go to evt.num or time");
  goto.title = "an event number, or a time: +1.5s, 750ms (since the start), 19:43:36.808, 2019-04-11T19:43:36";
  goto.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    const text = goto.value.trim();
    if (/^[0-9,. ]+$/.test(text) && !/[.]/.test(text)) {
      const n = parseInt(text.replace(/[^0-9]/g, ""), 10);
      if (Number.isFinite(n)) send({ kind: "goto", evt_num: n });
    } else if (text) {
      send({ kind: "goto", at: text });
    }
  });
  const prevMark = h("button", "sysnb-prev-mark", "◀ mark");
  const nextMark = h("button", "sysnb-next-mark", "mark ▶");
  prevMark.title = "the previous marked event (the case's marks)";
  nextMark.title = "the next marked event (the case's marks)";
  const jump = (step) => send({ kind: "markjump", step, from: selected === null ? null : Number(selected) });
  prevMark.addEventListener("click", () => jump(-1));
  nextMark.addEventListener("click", () => jump(1));
  const timeMode = h("select", "sysnb-timemode");
  for (const [value, text] of [["absolute", "time: absolute"], ["relative", "time: since start"],
    ["delta", "time: since previous row"]]) {
    const o = h("option", "", text); o.value = value; timeMode.append(o);
  }
  timeMode.addEventListener("change", () => send({ kind: "timecol", mode: timeMode.value, start: page.start }));
  bar.append(goto, prevMark, nextMark, timeMode);

  const meta = () => model.get("grid_meta");
  const template = () => meta().columns.map((c) => (meta().events ? EVENT_WIDTHS[c] || "minmax(200px,1fr)"
    : (["events", "errors", "bytes in", "bytes out", "proc.pid", "fd.num", "fd.type", "fd.l4proto"].includes(c)
      ? "96px" : "minmax(160px,1fr)"))).join(" ");
  const scale = () => {
    const full = meta().total * ROW_H;
    return full > MAX_SCROLL_PX ? full / MAX_SCROLL_PX : 1;
  };
  const firstRow = () => Math.floor((scroller.scrollTop * scale()) / ROW_H);
  const scrollTo = (row) => { scroller.scrollTop = Math.max(0, row * ROW_H) / scale(); };

  function drawHead() {
    const m = meta();
    head.replaceChildren();
    head.style.gridTemplateColumns = template();
    m.columns.forEach((c, i) => {
      const arrow = m.sort === c ? " ▲" : m.sort === "-" + c ? " ▼" : "";
      const cell = h("div", "sysnb-th" + (m.sortable[i] ? " sysnb-sortable" : ""), (m.labels || m.columns)[i] + arrow);
      if (m.sortable[i]) cell.addEventListener("click", () => send({ kind: "sort", column: c }));
      head.append(cell);
    });
    spacer.style.height = Math.min(m.total * ROW_H, MAX_SCROLL_PX) + ROW_H + "px";
    foot.textContent = `${m.total.toLocaleString()} ${m.events ? "events" : m.lens}` +
      (m.events ? " · click a row for its detail, right-click for actions" :
        " · double-click a row to drill down, right-click for filters");
    bar.style.display = m.events ? "flex" : "none";
    timeMode.value = model.get("time_mode");
  }

  function rowMenu(e, m, r, c, i) {
    if (!m.events) {
      menu(e, [...filterItems(send, "this row's filter", { row: i }), ["drill down", () => send({ kind: "drill", row: i })]]);
      return;
    }
    const num = Number(r["_evt.num"]);
    const marked = model.get("marked").includes(num);
    const select = () => { selected = r["_evt.num"]; send({ kind: "select", evt_num: num }); drawRows(); };
    menu(e, [
      ...filterItems(send, `${c} = ${visible(r[c])}`, { field: c, value: r[c], evt_num: num }),
      ["follow fd (whole I/O stream)", () => { select(); send({ kind: "follow" }); }],
      ["copy value", () => copyText(visible(r[c]))],
      [marked ? "unmark event" : "mark event", () => {
        select(); send(marked ? { kind: "unmark", evt_num: num } : { kind: "mark", evt_num: num, tags: "", note: "" });
      }],
      ["exclude this process", () => send({ kind: "exclude", evt_num: num })],
    ]);
  }

  function drawRows() {
    const m = meta();
    const first = firstRow();
    const onScreen = Math.ceil((scroller.clientHeight || 330) / ROW_H) + 1;
    const last = Math.min(m.total, first + onScreen);
    if ((first < page.start || last > page.start + page.rows.length) && pending !== first) {
      pending = first;
      send({ kind: "page", start: Math.max(0, first - 60) });
    }
    rowsBox.replaceChildren();
    rowsBox.style.top = scroller.scrollTop + "px";
    for (let i = first; i < last; i++) {
      const r = page.rows[i - page.start];
      const row = h("div", "sysnb-row");
      row.style.gridTemplateColumns = template();
      if (!r) { row.append(h("div", "sysnb-td sysnb-loading", "…")); rowsBox.append(row); continue; }
      const key = m.events ? r["_evt.num"] : i;
      if (key === selected) row.classList.add("sysnb-selected");
      if (m.events && model.get("marked").includes(Number(key))) row.classList.add("sysnb-marked");
      for (const c of m.columns) {
        const cell = h("div", "sysnb-td", r[c]);
        cell.title = visible(r[c]);
        cell.addEventListener("contextmenu", (e) => rowMenu(e, m, r, c, i));
        row.append(cell);
      }
      row.addEventListener("click", () => {
        selected = key;
        if (m.events) send({ kind: "select", evt_num: Number(r["_evt.num"]) });
        drawRows();
      });
      if (!m.events) row.addEventListener("dblclick", () => send({ kind: "drill", row: i }));
      rowsBox.append(row);
    }
  }

  function onGrid() {
    const m = meta();
    page = { start: m.start, rows: rowsOf(decode(model.get("grid"))) };
    pending = -1;
    drawHead();
    if (m.focus !== null && m.focus !== undefined) {  // go to: that row, a few rows below the top
      const r = page.rows[m.focus - m.start];
      if (r) selected = r["_evt.num"];
      scrollTo(m.focus - 3);
    } else if (m.view !== lastView) {
      selected = null;
      scrollTo(0);  // a new view (drill-down, filter, brush, zoom, sort) starts at its first row
    }
    lastView = m.view;
    drawRows();
  }
  // a page and its metadata arrive together (one message); either may be unchanged (the same rows again
  // for a go-to on this page), so both schedule one redraw
  let queued = false;
  const schedule = () => {
    if (queued) return;
    queued = true;
    queueMicrotask(() => { queued = false; onGrid(); });
  };
  model.on("change:grid", schedule);
  model.on("change:grid_meta", schedule);
  model.on("change:marked", () => drawRows());
  scroller.addEventListener("scroll", () => requestAnimationFrame(drawRows));
  scroller.tabIndex = 0;
  scroller.addEventListener("keydown", (e) => {
    const visibleRows = Math.max(1, Math.floor(scroller.clientHeight / ROW_H) - 1);
    const jumps = { PageDown: visibleRows, PageUp: -visibleRows, End: Infinity, Home: -Infinity };
    if (e.key in jumps) {
      e.stopPropagation(); e.preventDefault();
      const to = Math.max(0, Math.min(meta().total - 1, firstRow() + jumps[e.key]));
      scrollTo(e.key === "End" ? meta().total : to);
      return;
    }
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    e.stopPropagation();
    const m = meta();
    if (!m.events || selected === null) return;
    const idx = page.rows.findIndex((r) => r["_evt.num"] === selected);
    const next = page.rows[idx + (e.key === "ArrowDown" ? 1 : -1)];
    if (idx < 0 || !next) return;
    e.preventDefault();
    selected = next["_evt.num"];
    send({ kind: "select", evt_num: Number(selected) });
    drawRows();
  });
  if (model.get("grid").byteLength) onGrid();
  return root;
}

// ---------------------------------------------------------------------------------------------------
function detailPane(model, send, menu) {
  const root = h("div", "sysnb-detail");
  const fields = h("div", "sysnb-fields");
  const hex = h("div", "sysnb-hexview");
  const modes = h("div", "sysnb-hexmodes");
  const pre = h("pre", "sysnb-hex");
  const follow = h("button", "sysnb-follow", "follow fd (whole I/O stream)");
  const stream = h("div", "sysnb-stream");
  hex.append(modes, pre, follow, stream);
  // the case: mark the selected event (sysnb.case.explorer; one mark per event, tags and a note)
  const markBar = h("form", "sysnb-markbar");
  const tags = textInput("sysnb-mark-tags", "tags, e.g. c2, exfil");
  const note = textInput("sysnb-mark-note", "note");
  const markBtn = h("button", "sysnb-mark", "mark");
  markBtn.type = "submit";
  const unmarkBtn = h("button", "sysnb-unmark", "unmark");
  unmarkBtn.type = "button";
  const caseStatus = h("div", "sysnb-case-status");
  markBar.append(markBtn, tags, note, unmarkBtn);
  markBar.addEventListener("submit", (e) => {
    e.preventDefault();
    const d = model.get("detail");
    if (d && d.fields) send({ kind: "mark", evt_num: Number(d.evt_num), tags: tags.value, note: note.value });
  });
  unmarkBtn.addEventListener("click", () => {
    const d = model.get("detail");
    if (d && d.fields) send({ kind: "unmark", evt_num: Number(d.evt_num) });
  });
  const fieldsBox = h("div", "sysnb-fieldsbox");
  fieldsBox.append(markBar, caseStatus, fields);
  root.append(fieldsBox, hex);
  const showMarked = () => {
    const d = model.get("detail");
    const on = d && d.fields && model.get("marked").includes(Number(d.evt_num));
    markBtn.textContent = on ? "update mark" : "mark";
    unmarkBtn.style.display = on ? "inline-block" : "none";
    caseStatus.textContent = visible(model.get("case_status"));
  };
  model.on("change:marked", showMarked);
  model.on("change:case_status", showMarked);
  let mode = "hex";
  const MODES = { dotted: "dotted ASCII", ascii: "printable ASCII (-A)", hex: "hex + ASCII (-X)" };

  function draw() {
    const d = model.get("detail");
    root.style.display = d && d.fields ? "flex" : "none";
    if (!d || !d.fields) return;
    const table = h("table");
    d.fields.forEach(([k, v]) => {
      const tr = h("tr");
      tr.append(h("th", "", k), h("td", "", v));
      tr.addEventListener("contextmenu", (e) => menu(e, [
        ...filterItems(send, `${k} = ${visible(v)}`, { field: k, value: v, evt_num: Number(d.evt_num) }),
        ["copy value", () => copyText(visible(v))],
      ]));
      table.append(tr);
    });
    fields.replaceChildren(h("div", "sysnb-detail-title", "event " + d.evt_num), table);
    modes.replaceChildren();
    for (const [key, label] of Object.entries(MODES)) {
      const b = h("button", "sysnb-lens" + (key === mode ? " sysnb-active" : ""), label);
      b.addEventListener("click", () => { mode = key; draw(); });
      modes.append(b);
    }
    pre.textContent = d.buffer ? visible(d.buffer[mode], true) : "(this event carries no data buffer)";
    showMarked();
    modes.style.display = d.buffer ? "block" : "none";
    follow.style.display = d.fd ? "inline-block" : "none";
  }

  function drawStream() {
    const chunks = rowsOf(decode(model.get("stream")));
    const m = model.get("stream_meta");
    stream.replaceChildren();
    if (!m.title) return;
    stream.append(h("div", "sysnb-detail-title", `follow ${m.title}: ${m.chunks} chunks`));
    chunks.forEach((c) => {
      const block = h("pre", "sysnb-chunk " + (c.direction === "in" ? "sysnb-in" : "sysnb-out"));
      const cut = c.captured !== null && c.bytes !== null && Number(c.captured) < Number(c.bytes);
      const size = cut ? `${c.bytes} B (${c.captured} B captured — cut by the snap length)` : `${c.bytes} B`;
      block.textContent = `${c.direction === "in" ? "◀" : "▶"} #${c["evt.num"]} ${c["evt.type"]} ${size}\n` +
        visible(c.text, true);
      if (cut) block.classList.add("sysnb-cut");
      block.addEventListener("click", () => send({ kind: "select", evt_num: Number(c["evt.num"]) }));
      stream.append(block);
    });
  }
  follow.addEventListener("click", () => send({ kind: "follow" }));
  model.on("change:detail", draw);
  model.on("change:stream", drawStream);
  model.on("change:stream_meta", drawStream);
  draw();
  return root;
}

// ---------------------------------------------------------------------------------------------------
function render({ model, el }) {
  // busy: an answer that takes over 200 ms shows a "working" state until the kernel's answer changes a trait
  let busy = null;
  const idle = () => { clearTimeout(busy); busy = null; el.classList.remove("sysnb-busy"); };
  const send = (msg) => {
    clearTimeout(busy);
    busy = setTimeout(() => el.classList.add("sysnb-busy"), 200);
    model.send(msg);
  };
  for (const name of ["grid", "timeline", "detail", "stream", "error", "status", "marked", "case_status"]) {
    model.on("change:" + name, idle);
  }
  el.classList.add("sysnb-explorer");
  // shown (CSS) when ipywidgets marks the widget disconnected: the kernel restarted or the comm is gone
  el.append(h("div", "sysnb-dead", "The kernel restarted: this explorer is no longer connected. Re-run the cell."));
  const menu = contextMenu(el);
  // ipywidgets disconnects every model when the kernel restarts (comm_live becomes false); the only other
  // time this fires is while the model is created, before render
  model.on("comm_live_update", () => el.classList.add("sysnb-disconnected"));
  const top = h("div", "sysnb-top");
  const title = h("span", "sysnb-title", "sysnb explorer");
  const source = h("span", "sysnb-source", model.get("source"));
  const status = h("span", "sysnb-status");
  top.append(title, source, status);
  el.append(top);
  const showStatus = () => { status.textContent = model.get("status"); };
  model.on("change:status", showStatus);
  showStatus();
  const cleanups = [];
  const panes = model.get("panes");
  if (panes.includes("tiles")) el.append(tilesPane(model, send));
  if (panes.includes("crumbs")) el.append(crumbsPane(model, send));
  if (panes.includes("timeline")) {
    const [node, cleanup] = timelinePane(model, send);
    el.append(node); cleanups.push(cleanup);
  }
  const main = h("div", "sysnb-main");  // table and detail side by side when the cell is wide enough
  if (panes.includes("table")) main.append(gridPane(model, send, menu));
  if (panes.includes("detail")) main.append(detailPane(model, send, menu));
  el.append(main);
  return () => cleanups.forEach((f) => f());
}

export default { render };
