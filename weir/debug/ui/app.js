// weir's live view: the admin endpoint's JSON (/debug/tasks, /debug/stalls, /debug/lost,
// /debug/history) as tables and plots, refreshed every second until paused. No state-changing
// request is ever made. A bearer token, when the service needs one, comes in the address's
// fragment (/ui#token=...: never sent to the server in the URL) and goes in an Authorization
// header.
"use strict";

const PERIOD_MS = 1000;
const COLORS = ["#2f6fdf", "#d9480f", "#2b8a3e", "#ae3ec9", "#e8590c", "#1098ad", "#5c7cfa",
                "#c2255c"];
const MAX_LINES = 8;

const $ = (sel) => document.querySelector(sel);
const el = (tag, props = {}, ...kids) => {
  const e = document.createElement(tag);
  Object.assign(e, props);
  for (const k of kids) e.append(k);
  return e;
};

const token = (() => {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (m) sessionStorage.setItem("weir-token", decodeURIComponent(m[1]));
  return sessionStorage.getItem("weir-token") || "";
})();

async function get(path) {
  const r = await fetch(path, {headers: token ? {Authorization: "Bearer " + token} : {},
                               cache: "no-store"});
  if (r.status === 401) throw new Error("the service wants a bearer token: open /ui#token=…");
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

// --- formatting -------------------------------------------------------------------------
function duration(ms) {
  if (ms < 1) return (ms * 1000).toFixed(0) + " µs";
  if (ms < 1000) return ms.toFixed(ms < 10 ? 1 : 0) + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
  return (ms / 60000).toFixed(1) + " min";
}
function number(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + "G";
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
  if (a >= 100 || v === Math.round(v)) return v.toFixed(0);
  return v.toPrecision(3);
}
function clock(ms) { return new Date(ms).toLocaleTimeString(); }
function td(text, cls) { return el("td", cls ? {textContent: text, className: cls} : {textContent: text}); }

// --- shards -----------------------------------------------------------------------------
function renderShards(snap) {
  const ready = {};
  for (const t of snap.tasks) if (t.state === "ready") ready[t.shard] = (ready[t.shard] || 0) + 1;
  const rows = snap.shards.map((s) => {
    const tr = el("tr", s.stuck ? {className: "stuck"} : {});
    tr.append(td(s.id, "num"),
              td(s.stuck ? "STUCK " + duration(s.run_ms) : s.running_task ? "running" : "idle"),
              td(s.running_task ? "#" + s.running_task + " for " + duration(s.run_ms) : "–"),
              td(s.tasks, "num"), td(ready[s.id] || 0, "num"), td(number(s.runs), "num"),
              td(number(s.coop_yields), "num"), td(number(s.stalls), "num"),
              td(number(s.parks), "num"));
    return tr;
  });
  $("#shards tbody").replaceChildren(...rows);
}

// --- tasks ------------------------------------------------------------------------------
const sort = {key: "wait_ms", asc: false};
let lastTasks = [];

function renderTasks() {
  const q = $("#filter").value.trim().toLowerCase();
  const shown = lastTasks.filter((t) => !q || [t.name, t.state, t.wait, t.context, t.await,
                                               t.function, String(t.id)]
                                               .some((f) => (f || "").toLowerCase().includes(q)));
  const k = sort.key;
  shown.sort((a, b) => {
    const x = a[k], y = b[k];
    const c = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
    return sort.asc ? c : -c;
  });
  const rows = shown.map((t) => {
    const tr = el("tr", {className: t.state});
    tr.dataset.id = t.id;
    tr.append(td(t.id, "num"), td(t.shard, "num"), td(t.state, "state"),
              td(t.state === "ready" ? "" : duration(t.wait_ms), "num"), td(t.wait || ""),
              td(t.name || "(unnamed)"),
              td(t.await + (t.function ? " in " + t.function : ""), "site"),
              td(t.context || "", "ctx"), td(number(t.runs), "num"),
              td(duration(t.busy_ms), "num"));
    return tr;
  });
  $("#tasks tbody").replaceChildren(...rows);
  $("#task-count").textContent = shown.length === lastTasks.length
      ? lastTasks.length + " live"
      : shown.length + " of " + lastTasks.length + " live";
  for (const th of document.querySelectorAll("#tasks th")) {
    th.classList.toggle("sorted", th.dataset.key === sort.key);
    th.classList.toggle("asc", th.dataset.key === sort.key && sort.asc);
  }
}

// --- reports ----------------------------------------------------------------------------
function renderReports(id, countId, list, summary) {
  $(countId).textContent = list.length ? "(" + list.length + " recent)" : "";
  if (!list.length) {
    $(id).replaceChildren(el("p", {className: "empty", textContent: "none"}));
    return;
  }
  // Reports keep their open/closed state across refreshes; the newest starts open.
  const shown = document.querySelectorAll(id + " details");
  const open = new Set([...shown].filter((d) => d.open).map((d) => d.dataset.key));
  const items = list.slice().reverse().map((r, i) => {
    const d = el("details");
    d.dataset.key = r.time_ms + "/" + r.task;
    d.open = shown.length ? open.has(d.dataset.key) : i === 0;
    d.append(el("summary", {textContent: summary(r)}),
             el("pre", {textContent: ["await: " + r.await, r.context ? "context: " + r.context : "",
                                      ...r.backtrace].filter(Boolean).join("\n")}));
    return d;
  });
  $(id).replaceChildren(...items);
}

// --- plots ------------------------------------------------------------------------------
// Series keys are "family{labels}" as /metrics writes them.
function splitKey(key) {
  const i = key.indexOf("{");
  return i < 0 ? [key, ""] : [key.slice(0, i), key.slice(i + 1, -1)];
}
function withoutLabel(labels, name) {
  return labels.split(/,(?=[a-zA-Z_]+=")/).filter((l) => l && !l.startsWith(name + "="))
      .join(",");
}
function labelValue(labels, name) {
  const m = new RegExp("(?:^|,)" + name + "=\"((?:[^\"\\\\]|\\\\.)*)\"").exec(labels);
  return m ? m[1] : null;
}

// Per-interval values from raw counters: rate per second (null across a reset or a gap).
function rates(t, v) {
  const out = [null];
  for (let i = 1; i < v.length; i++) {
    const dt = (t[i] - t[i - 1]) / 1000;
    out.push(v[i] == null || v[i - 1] == null || v[i] < v[i - 1] || dt <= 0
                 ? null : (v[i] - v[i - 1]) / dt);
  }
  return out;
}

// The q-quantile of each interval from cumulative bucket counts (Prometheus'
// histogram_quantile: linear within the bucket).
function quantiles(buckets, q) {
  const n = buckets[0].v.length;
  const out = [null];
  for (let i = 1; i < n; i++) {
    const d = buckets.map((b) => (b.v[i] == null || b.v[i - 1] == null ? null
                                                                        : b.v[i] - b.v[i - 1]));
    if (d.some((x) => x == null || x < 0)) { out.push(null); continue; }
    const total = d[d.length - 1];
    if (total <= 0) { out.push(null); continue; }
    const rank = q * total;
    let k = d.findIndex((c) => c >= rank);
    const hi = buckets[k].le, lo = k > 0 ? buckets[k - 1].le : 0;
    if (!isFinite(hi)) { out.push(lo); continue; }
    const below = k > 0 ? d[k - 1] : 0;
    const inBucket = d[k] - below;
    out.push(lo + (hi - lo) * (inBucket > 0 ? (rank - below) / inBucket : 1));
  }
  return out;
}

const UNIT_SECONDS = /_seconds$/;

function buildPlots(h) {
  const fam = new Map();  // name -> {type, series: [{labels, v}]}
  for (const [key, v] of Object.entries(h.series)) {
    let [name, labels] = splitKey(key);
    let type = h.types[name];
    let part = "";
    if (!type) {
      for (const suffix of ["_bucket", "_sum", "_count"]) {
        const base = name.slice(0, -suffix.length);
        if (name.endsWith(suffix) && h.types[base] === "histogram") {
          [name, type, part] = [base, "histogram", suffix];
          break;
        }
      }
    }
    if (!fam.has(name)) fam.set(name, {type: type || "untyped", series: []});
    fam.get(name).series.push({labels, part, v});
  }
  const plots = [];
  for (const [name, f] of fam) {
    if (f.type === "histogram") {
      const groups = new Map();
      for (const s of f.series) {
        if (s.part !== "_bucket") continue;
        const g = withoutLabel(s.labels, "le");
        if (!groups.has(g)) groups.set(g, []);
        const le = labelValue(s.labels, "le");
        groups.get(g).push({le: le === "+Inf" ? Infinity : Number(le), v: s.v});
      }
      const lines = [];
      for (const [g, buckets] of groups) {
        buckets.sort((a, b) => a.le - b.le);
        const scale = UNIT_SECONDS.test(name) ? 1000 : 1;
        for (const q of [0.5, 0.99])
          lines.push({label: "p" + q * 100 + (g ? " " + g : ""),
                      v: quantiles(buckets, q).map((x) => (x == null ? null : x * scale))});
      }
      plots.push({name, note: UNIT_SECONDS.test(name) ? "quantiles, ms" : "quantiles", lines,
                  rank: 0});
    } else if (f.type === "counter") {
      plots.push({name, note: "per second",
                  lines: f.series.map((s) => ({label: s.labels, v: rates(h.t, s.v)})), rank: 1});
    } else {
      plots.push({name, note: f.type, lines: f.series.map((s) => ({label: s.labels, v: s.v})),
                  rank: 2});
    }
  }
  // Busy lines first; a plot keeps its MAX_LINES busiest lines.
  const weight = (l) => l.v.reduce((a, x) => a + (x == null ? 0 : Math.abs(x)), 0);
  for (const p of plots) {
    p.lines.sort((a, b) => weight(b) - weight(a));
    p.hidden = Math.max(0, p.lines.length - MAX_LINES);
    p.lines = p.lines.slice(0, MAX_LINES);
    p.points = p.lines.reduce((a, l) => a + l.v.filter((x) => x != null).length, 0);
    p.active = p.lines.some((l) => l.v.some((x) => x != null && x !== 0));
  }
  plots.sort((a, b) => (b.active - a.active) || (a.rank - b.rank) || a.name.localeCompare(b.name));
  return plots;
}

function draw(canvas, t, lines) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 360, hgt = canvas.clientHeight || 140;
  canvas.width = w * dpr;
  canvas.height = hgt * dpr;
  const c = canvas.getContext("2d");
  c.scale(dpr, dpr);
  const left = 48, right = 6, top = 6, bottom = 18;
  let max = 0;
  for (const l of lines) for (const x of l.v) if (x != null && x > max) max = x;
  if (max === 0) max = 1;
  const t0 = t[0], t1 = t[t.length - 1] || t0 + 1;
  const X = (ms) => left + (w - left - right) * (t1 > t0 ? (ms - t0) / (t1 - t0) : 1);
  const Y = (v) => top + (hgt - top - bottom) * (1 - v / max);
  c.strokeStyle = "#d9dee5";
  c.fillStyle = "#6a7380";
  c.font = "10px system-ui, sans-serif";
  c.lineWidth = 1;
  for (const frac of [0, 0.5, 1]) {
    const y = Y(max * frac);
    c.beginPath(); c.moveTo(left, y); c.lineTo(w - right, y); c.stroke();
    c.fillText(number(max * frac), 2, y + 3);
  }
  if (t.length) {
    c.fillText(clock(t0), left, hgt - 4);
    const end = clock(t1);
    c.fillText(end, w - right - c.measureText(end).width, hgt - 4);
  }
  lines.forEach((l, i) => {
    c.strokeStyle = COLORS[i % COLORS.length];
    c.lineWidth = 1.5;
    c.beginPath();
    let pen = false;
    l.v.forEach((x, k) => {
      if (x == null) { pen = false; return; }
      if (pen) c.lineTo(X(t[k]), Y(x)); else c.moveTo(X(t[k]), Y(x));
      pen = true;
    });
    c.stroke();
  });
}

function renderPlots(h) {
  const box = $("#plots");
  const plots = buildPlots(h);
  const existing = new Map([...box.children].map((d) => [d.dataset.name, d]));
  const order = [];
  for (const p of plots) {
    let d = existing.get(p.name);
    if (!d) {
      d = el("div", {className: "plot"}, el("h3"), el("canvas"), el("div", {className: "legend"}));
      d.dataset.name = p.name;
    }
    d.dataset.points = p.points;
    d.querySelector("h3").replaceChildren(p.name + " ", el("span", {textContent: p.note}));
    d.querySelector(".legend").replaceChildren(
        ...p.lines.map((l, i) => el("span", {}, el("i", {style: "background:" + COLORS[i]}),
                                    l.label || "(all)")),
        ...(p.hidden ? [el("span", {textContent: "+" + p.hidden + " quieter"})] : []));
    order.push(d);
  }
  box.replaceChildren(...order);
  for (const [i, p] of plots.entries()) draw(order[i].querySelector("canvas"), h.t, p.lines);
}

// --- the loop ---------------------------------------------------------------------------
let paused = false, busy = false;

async function refresh() {
  if (busy) return;
  busy = true;
  try {
    const [snap, stalls, lost, hist] = await Promise.all([
      get("/debug/tasks?format=json"), get("/debug/stalls?format=json"),
      get("/debug/lost?format=json"), get("/debug/history")]);
    $("#who").textContent = "pid " + snap.pid + " · " + snap.backend + " · " + snap.shards.length +
                            " shard" + (snap.shards.length === 1 ? "" : "s");
    renderShards(snap);
    lastTasks = snap.tasks;
    renderTasks();
    renderReports("#stalls", "#stall-count", stalls,
                  (r) => clock(r.time_ms) + " · shard " + r.shard + " · task #" + r.task + " '" +
                         r.name + "' ran " + duration(r.ran_ms) + " without yielding");
    renderReports("#lost", "#lost-count", lost,
                  (r) => clock(r.time_ms) + " · task #" + r.task + " '" + r.name + "' lost a wake-up: " +
                         r.what + (r.where ? " in " + r.where : ""));
    renderPlots(hist);
    const s = $("#status");
    s.className = "";
    s.textContent = (paused ? "paused at " : "live · ") + clock(snap.time_ms);
    document.body.dataset.loaded = "1";
  } catch (e) {
    const s = $("#status");
    s.className = "error";
    s.textContent = e.message;
  } finally {
    busy = false;
  }
}

$("#pause").addEventListener("click", () => {
  paused = !paused;
  $("#pause").textContent = paused ? "Resume" : "Pause";
  $("#once").disabled = !paused;
  if (!paused) refresh();
});
$("#once").addEventListener("click", refresh);
$("#filter").addEventListener("input", renderTasks);
for (const th of document.querySelectorAll("#tasks th"))
  th.addEventListener("click", () => {
    sort.asc = sort.key === th.dataset.key ? !sort.asc : th.dataset.key !== "wait_ms";
    sort.key = th.dataset.key;
    renderTasks();
  });
setInterval(() => { if (!paused && !document.hidden) refresh(); }, PERIOD_MS);
refresh();
