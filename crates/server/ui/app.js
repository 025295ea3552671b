// The xisuan dashboard. Its only data source is the server's HTTP API, called with the
// tenant's token; nothing is fetched from anywhere else. Views: overview (map and headline
// figures), timeline (canvas, pans and zooms over 10,000 jobs), job (placement, reasons,
// history, cancel), submit and estimate.
"use strict";

const S = {
  token: sessionStorage.getItem("xisuan-token") || "",
  jobs: [], plan: null, sites: [], world: null,
  view: "overview", job: null,
  tl: { t0: null, span: 72, colour: "state", bars: [] },
  busy: false, lastFetchMs: 0, timer: null,
};
const $ = (id) => document.getElementById(id);
const HOUR_MS = 3600 * 1000;
const STATE_COLOURS = { pending: "#8c8c8c", planned: "#5b8fd6", dispatched: "#e0a200", running: "#2e8b3d", completed: "#6d4c9f", cancelled: "#c9c9c9" };
const fmt = (x, d = 0) => (x == null || !isFinite(x)) ? "–" : Number(x).toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const hourText = (h) => (h == null) ? "–" : new Date(h * HOUR_MS).toISOString().slice(0, 16).replace("T", " ") + " UTC";
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

async function api(path, opts = {}) {
  const headers = Object.assign({ "Authorization": "Bearer " + S.token }, opts.body ? { "Content-Type": "application/json" } : {});
  const r = await fetch(path, Object.assign({}, opts, { headers }));
  const text = await r.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = { error: { message: text } }; }
  if (!r.ok) {
    const e = body && body.error ? body.error : { message: r.statusText };
    const err = new Error((e.field ? e.field + ": " : "") + (e.message || r.status));
    err.status = r.status;
    throw err;
  }
  return body;
}

// ---------- data ----------
async function allJobs() {
  let out = [], after = null;
  for (;;) {
    const page = await api("/v1/jobs?limit=1000" + (after ? "&after=" + encodeURIComponent(after) : ""));
    out = out.concat(page.jobs);
    if (!page.next) return out;
    after = page.next;
  }
}

async function refresh() {
  if (!S.token || S.busy) return;
  S.busy = true;
  const t0 = performance.now();
  try {
    const [jobs, plan, sites, transfers] = await Promise.all([allJobs(), api("/v1/plan"), api("/v1/sites"), api("/v1/transfers")]);
    S.jobs = jobs; S.plan = plan; S.sites = sites; S.transfers = transfers.transfers;
    S.lastFetchMs = performance.now() - t0;
    window.xisuanStats.refreshes++;
    window.xisuanStats.lastRefreshMs = S.lastFetchMs;
    $("who").textContent = "";
    $("updated").textContent = `Updated ${new Date().toLocaleTimeString()} · ${fmt(jobs.length)} jobs · round ${plan.round} by ${plan.solver}`;
    render();
  } catch (e) {
    $("who").textContent = e.status === 401 ? "That token is not known to this server." : "Cannot reach the server: " + e.message;
    $("who").className = "error";
  } finally {
    S.busy = false;
  }
}

// Refresh every 3 s, less often when a refresh itself is slow (10,000 jobs).
function schedule() {
  clearTimeout(S.timer);
  S.timer = setTimeout(async () => { await refresh(); schedule(); }, Math.max(3000, S.lastFetchMs * 4));
}

// ---------- tabs ----------
const VIEWS = ["overview", "timeline", "job", "submit"];
function show(view) {
  S.view = view;
  for (const v of VIEWS) {
    const tab = $("tab-" + v), panel = $("view-" + v);
    const on = v === view;
    tab.setAttribute("aria-selected", on ? "true" : "false");
    tab.tabIndex = on ? 0 : -1;
    panel.hidden = !on;
  }
  render();
}
function setupTabs() {
  for (const v of VIEWS) $("tab-" + v).addEventListener("click", () => show(v));
  $("tabs").addEventListener("keydown", (e) => {
    const i = VIEWS.indexOf(S.view);
    let j = null;
    if (e.key === "ArrowRight") j = (i + 1) % VIEWS.length;
    if (e.key === "ArrowLeft") j = (i + VIEWS.length - 1) % VIEWS.length;
    if (e.key === "Home") j = 0;
    if (e.key === "End") j = VIEWS.length - 1;
    if (j !== null) { e.preventDefault(); show(VIEWS[j]); $("tab-" + VIEWS[j]).focus(); }
  });
}

function render() {
  if (S.view === "overview") renderOverview();
  if (S.view === "timeline") renderTimeline();
  if (S.view === "job") renderJob();
  if (S.view === "submit") renderSubmit();
}

// Bytes with an SI prefix and its unit: 13.4 kB, 200.0 MB, 44.8 TB.
function bytesText(b) {
  for (const [u, n] of [[1e12, "TB"], [1e9, "GB"], [1e6, "MB"], [1e3, "kB"]]) if (b >= u) return `${fmt(b / u, 1)} ${n}`;
  return `${fmt(b, 0)} B`;
}

// ---------- overview ----------
function carbonColour(k) {
  // 0 kg/kWh green → 0.9+ red, through yellow.
  const t = Math.max(0, Math.min(1, k / 0.9));
  const r = Math.round(t < 0.5 ? 60 + 390 * t : 255), g = Math.round(t < 0.5 ? 170 + 60 * t : 200 - 300 * (t - 0.5));
  return `rgb(${r},${Math.max(40, g)},60)`;
}

function renderOverview() {
  const svg = $("map");
  const W = 800, H = 460;
  const sites = S.sites;
  const pts = sites.map((s) => [s.lon, s.lat]);
  if (!pts.length) return;
  const lons = pts.map((p) => p[0]), lats = pts.map((p) => p[1]);
  const pad = 8;
  const box = { type: "MultiPoint", coordinates: [[Math.min(...lons) - pad, Math.min(...lats) - pad], [Math.max(...lons) + pad, Math.max(...lats) + pad]] };
  const proj = d3.geoEquirectangular().fitExtent([[10, 10], [W - 10, H - 10]], box);
  const path = d3.geoPath(proj);
  let out = `<title id="map-title">Sites on a map, coloured by this hour's carbon intensity</title>`;
  if (S.world) out += `<path class="land" d="${path(S.world)}"></path>`;
  // Data transfers of the current plan: from each job's data site to its site.
  const byId = new Map(sites.map((s) => [s.id, s]));
  let transfers = 0;
  for (const j of S.jobs) {
    if (!["planned", "dispatched"].includes(j.state) || !j.site || j.site === j.data_site || !(j.data_tb > 0)) continue;
    const a = byId.get(j.data_site), b = byId.get(j.site);
    if (!a || !b) continue;
    const [x1, y1] = proj([a.lon, a.lat]), [x2, y2] = proj([b.lon, b.lat]);
    out += `<line class="transfer" x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}"><title>${esc(j.name || j.id)}: ${fmt(j.data_tb, 1)} TB from ${esc(j.data_site)} to ${esc(j.site)}</title></line>`;
    transfers++;
  }
  // Transfers really running (rclone, between sites' storage), one line per link with what is
  // moving on it: count and bytes moved of bytes expected.
  const links = new Map();
  for (const t of S.transfers || []) {
    if (t.state !== "running" || t.from_site === t.to_site) continue;
    const k = t.from_site + "\u2192" + t.to_site;
    const l = links.get(k) || { from: t.from_site, to: t.to_site, n: 0, moved: 0, bytes: 0 };
    l.n++; l.moved += t.bytes_moved; l.bytes += t.bytes;
    links.set(k, l);
  }
  for (const l of links.values()) {
    const a = byId.get(l.from), b = byId.get(l.to);
    if (!a || !b) continue;
    const [x1, y1] = proj([a.lon, a.lat]), [x2, y2] = proj([b.lon, b.lat]);
    out += `<line class="moving" x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}"><title>${l.n} transfer(s) running from ${esc(l.from)} to ${esc(l.to)}: ${bytesText(l.moved)} of ${bytesText(l.bytes)} moved</title></line>`;
  }
  for (const s of sites) {
    const [x, y] = proj([s.lon, s.lat]);
    const gpus = s.capacity.reduce((a, c) => a + c[1], 0);
    const r = 4 + Math.min(12, Math.sqrt(gpus) / 6);
    out += `<g class="site"><circle cx="${x}" cy="${y}" r="${r}" fill="${s.down ? "#ffffff" : carbonColour(s.kg_per_kwh_now)}"><title>${esc(s.name)} (${esc(s.id)}): ${fmt(s.kg_per_kwh_now, 3)} kgCO2e/kWh, ${fmt(s.usd_per_kwh_now, 3)} USD/kWh, ${fmt(gpus)} accelerators${s.down ? ", DOWN" : ""}</title></circle>`
      + `<text x="${x + r + 2}" y="${y + 4}">${esc(s.id)}${s.down ? " (down)" : ""}</text></g>`;
  }
  svg.innerHTML = out;
  $("map-caption").textContent = `${sites.length} sites coloured by this hour's grid carbon intensity (green low, red high; white: down); circle area by accelerators; ${transfers} planned data transfers dashed; ${links.size} link(s) with data moving now solid.`;
  // Headline figures.
  const counts = {};
  for (const j of S.jobs) counts[j.state] = (counts[j.state] || 0) + 1;
  const busy = S.jobs.filter((j) => j.state === "dispatched" || j.state === "running").reduce((a, j) => a + j.gpus, 0);
  const total = sites.reduce((a, s) => a + s.capacity.reduce((b, c) => b + c[1], 0), 0);
  const p = S.plan || {};
  const pct = (a, b) => (a != null && b) ? `${fmt(100 * (a - b) / b, 1)}%` : "–";
  const cards = [
    ["Totals for", p.scope || "–"],
    ["Jobs", Object.entries(counts).map(([k, v]) => `${fmt(v)} ${k}`).join(", ") || "none"],
    ["Accelerators busy", `${fmt(busy)} of ${fmt(total)}`],
    ["Plan cost", `${fmt(p.cost_usd)} USD`],
    ["Run-now cost", `${fmt(p.run_now_cost_usd)} USD (plan ${pct(p.cost_usd, p.run_now_cost_usd)})`],
    ["Plan carbon", `${fmt(p.carbon_kg)} kgCO2e`],
    ["Run-now carbon", `${fmt(p.run_now_carbon_kg)} kgCO2e (plan ${pct(p.carbon_kg, p.run_now_carbon_kg)})`],
    ["Nearest-east cost", `${fmt(p.nearest_east_cost_usd)} USD (plan ${pct(p.cost_usd, p.nearest_east_cost_usd)})`],
    ["Nearest-east carbon", `${fmt(p.nearest_east_carbon_kg)} kgCO2e (plan ${pct(p.carbon_kg, p.nearest_east_carbon_kg)})`],
    ["Gap to bound", p.gap == null ? (p.scope === "all tenants" ? "unknown" : "the admin's") : `${fmt(100 * p.gap, 2)}%`],
    ["Unplaced", `${fmt((p.unplaced || []).length)} jobs`],
  ];
  $("headline").innerHTML = cards.map(([k, v]) => `<div class="card"><div class="k">${esc(k)}</div><div class="v">${esc(v)}</div></div>`).join("");
  let t = `<caption class="sr-only">Sites, their carbon intensity and price this hour</caption><thead><tr><th scope="col">site</th><th scope="col">name</th><th scope="col" class="num">kgCO2e/kWh</th><th scope="col" class="num">USD/kWh</th><th scope="col">accelerators</th><th scope="col">state</th></tr></thead><tbody>`;
  for (const s of sites) t += `<tr><td>${esc(s.id)}</td><td>${esc(s.name)}</td><td class="num">${fmt(s.kg_per_kwh_now, 3)}</td><td class="num">${fmt(s.usd_per_kwh_now, 3)}</td><td>${esc(s.capacity.filter((c) => c[1] > 0).map((c) => `${c[1]} ${c[0]}`).join(", "))}</td><td>${s.down ? "down" : "up"}</td></tr>`;
  $("sites-table").innerHTML = t + "</tbody>";
}

// ---------- timeline ----------
const ROW_H = 64, LABEL_W = 130, AXIS_H = 22;
function tenantColour(t) {
  let h = 0;
  for (const c of t) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return `hsl(${h % 360},55%,45%)`;
}

// Render counts and times, read by the browser test (window.xisuanStats).
const STATS = (window.xisuanStats = { timelineRenders: 0, lastTimelineMs: 0, barsInView: 0, refreshes: 0, lastRefreshMs: 0 });

function renderTimeline() {
  const started = performance.now();
  drawTimeline();
  STATS.timelineRenders++;
  STATS.lastTimelineMs = performance.now() - started;
  STATS.barsInView = S.tl.bars.length;
}

function drawTimeline() {
  const cv = $("timeline");
  const dpr = window.devicePixelRatio || 1;
  const W = cv.clientWidth, H = Math.max(200, AXIS_H + ROW_H * S.sites.length + 10);
  cv.style.height = H + "px";
  cv.width = W * dpr; cv.height = H * dpr;
  const g = cv.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
  const now = S.plan ? S.plan.at_h : Date.now() / HOUR_MS;
  if (S.tl.t0 == null) S.tl.t0 = Math.floor(now) - 6;
  const t0 = S.tl.t0, span = S.tl.span;
  const x = (h) => LABEL_W + (h - t0) / span * (W - LABEL_W);
  const rows = new Map(S.sites.map((s, i) => [s.id, i]));
  // Rows: label, capacity use and carbon beneath, bars above.
  const used = S.sites.map(() => new Map());
  const bars = [];
  for (const j of S.jobs) {
    if (!j.site || j.start_h == null || !rows.has(j.site)) continue;
    const end = j.end_h != null ? j.end_h : j.start_h + j.hours;
    if (end < t0 || j.start_h > t0 + span) { bars.push({ j, hidden: true }); continue; }
    bars.push({ j, row: rows.get(j.site), s: j.start_h, e: end });
  }
  for (const b of bars) {
    if (b.hidden || b.j.state === "completed" || b.j.state === "cancelled") continue;
    const m = used[b.row];
    for (let h = Math.max(Math.floor(b.s), Math.floor(t0)); h < Math.min(Math.ceil(b.e), t0 + span + 1); h++) m.set(h, (m.get(h) || 0) + b.j.gpus);
  }
  S.sites.forEach((s, i) => {
    const y = AXIS_H + i * ROW_H;
    g.fillStyle = i % 2 ? "#f7f8fa" : "#ffffff"; g.fillRect(LABEL_W, y, W - LABEL_W, ROW_H);
    g.fillStyle = "#1a1a1a"; g.font = "12px system-ui, sans-serif";
    g.fillText(s.id + (s.down ? " (down)" : ""), 4, y + 16);
    const cap = s.capacity.reduce((a, c) => a + c[1], 0);
    g.fillStyle = "#4a4a4a"; g.font = "10px system-ui, sans-serif";
    g.fillText(`${fmt(cap)} acc.`, 4, y + 30);
    // Capacity in use (grey area, lower third) and carbon curve (line, lower third).
    const base = y + ROW_H - 2, h3 = ROW_H / 3;
    g.fillStyle = "rgba(80,80,80,0.25)";
    for (const [h, n] of used[i]) g.fillRect(x(h), base - h3 * Math.min(1, n / Math.max(1, cap)), Math.max(1, x(h + 1) - x(h)), h3 * Math.min(1, n / Math.max(1, cap)));
    const ks = s.kg_per_kwh_hourly || [];
    g.strokeStyle = "#a4161a"; g.lineWidth = 1.2; g.beginPath();
    let first = true;
    for (let k = 0; k < ks.length; k++) {
      const h = s.start_h + k;
      if (h < t0 - 1 || h > t0 + span + 1) continue;
      const py = base - h3 * Math.min(1, ks[k] / 1.0);
      if (first) { g.moveTo(x(h), py); first = false; } else g.lineTo(x(h), py);
    }
    g.stroke();
  });
  // Axis: hours, with grid lines over the rows' backgrounds.
  g.font = "11px system-ui, sans-serif";
  const step = span > 240 ? 24 : span > 96 ? 12 : span > 36 ? 6 : span > 12 ? 2 : 1;
  for (let h = Math.ceil(t0 / step) * step; h <= t0 + span; h += step) {
    const px = x(h);
    g.fillStyle = "#d5d9de"; g.fillRect(px, AXIS_H, 1, H - AXIS_H);
    g.fillStyle = "#1a1a1a";
    const d = new Date(h * HOUR_MS);
    g.fillText(h % 24 === 0 ? d.toISOString().slice(5, 10) : d.toISOString().slice(11, 13) + "h", px + 2, 14);
  }
  // Bars: stacked in lanes within the top two thirds of a row.
  const lanes = S.sites.map(() => []);
  const drawn = [];
  bars.filter((b) => !b.hidden).sort((a, b) => a.s - b.s).forEach((b) => {
    const ln = lanes[b.row];
    let k = ln.findIndex((endAt) => endAt <= b.s);
    if (k < 0) { k = ln.length; ln.push(0); }
    ln[k] = b.e;
    const lanesH = (ROW_H * 2 / 3) - 4, n = 6;
    const lh = lanesH / n;
    const y = AXIS_H + b.row * ROW_H + 2 + (k % n) * lh;
    const x1 = Math.max(LABEL_W, x(b.s)), x2 = Math.min(W, x(b.e));
    g.fillStyle = S.tl.colour === "tenant" ? tenantColour(b.j.tenant) : (STATE_COLOURS[b.j.state] || "#888");
    g.fillRect(x1, y, Math.max(1, x2 - x1 - 1), Math.max(2, lh - 1));
    drawn.push({ j: b.j, x1, x2, y, h: lh });
  });
  // Now.
  g.fillStyle = "#c25e00"; g.fillRect(x(now), AXIS_H, 2, H - AXIS_H);
  S.tl.bars = drawn;
  $("tl-range").textContent = `${hourText(t0)} to ${hourText(t0 + span)} (${fmt(span)} h), ${fmt(drawn.length)} jobs in view`;
  // Legend and the accessible list of what is in view.
  $("legend").innerHTML = S.tl.colour === "state"
    ? Object.entries(STATE_COLOURS).map(([k, c]) => `<span data-c="${c}">${k}</span>`).join("") + `<span data-c="rgba(80,80,80,0.35)">accelerators in use</span><span data-c="#a4161a">kgCO2e/kWh (0–1)</span><span data-c="#c25e00">now</span>`
    : `<span class="muted">colour by tenant</span>`;
  for (const sp of $("legend").querySelectorAll("span[data-c]")) sp.style.setProperty("--c", sp.dataset.c);
  const list = drawn.slice().sort((a, b) => a.j.start_h - b.j.start_h).slice(0, 200);
  let t = `<caption>Jobs in view (${fmt(drawn.length)}${drawn.length > 200 ? ", first 200 by start" : ""})</caption><thead><tr><th scope="col">job</th><th scope="col">state</th><th scope="col">site</th><th scope="col">accelerators</th><th scope="col">start</th><th scope="col">end</th></tr></thead><tbody>`;
  for (const b of list) t += `<tr data-job="${esc(b.j.id)}"><td><a href="#job=${encodeURIComponent(b.j.id)}">${esc(b.j.name || b.j.id)}</a></td><td>${esc(b.j.state)}</td><td>${esc(b.j.site)}</td><td>${fmt(b.j.gpus)} ${esc(b.j.accelerator || "")}</td><td>${hourText(b.j.start_h)}</td><td>${hourText(b.j.end_h)}</td></tr>`;
  $("tl-table").innerHTML = t + "</tbody>";
}

function setupTimeline() {
  const cv = $("timeline");
  const pan = (f) => { S.tl.t0 += S.tl.span * f; renderTimeline(); };
  const zoom = (f, at) => {
    const span = Math.max(2, Math.min(24 * 60, S.tl.span * f));
    const anchor = at != null ? at : S.tl.t0 + S.tl.span / 2;
    S.tl.t0 = anchor - (anchor - S.tl.t0) * span / S.tl.span;
    S.tl.span = span;
    renderTimeline();
  };
  $("tl-left").onclick = () => pan(-0.25);
  $("tl-right").onclick = () => pan(0.25);
  $("tl-in").onclick = () => zoom(0.5);
  $("tl-out").onclick = () => zoom(2);
  $("tl-now").onclick = () => { S.tl.t0 = null; renderTimeline(); };
  $("tl-colour").onchange = (e) => { S.tl.colour = e.target.value; renderTimeline(); };
  cv.addEventListener("keydown", (e) => {
    const k = { ArrowLeft: () => pan(-0.1), ArrowRight: () => pan(0.1), "+": () => zoom(0.5), "=": () => zoom(0.5), "-": () => zoom(2) }[e.key];
    if (k) { e.preventDefault(); k(); }
  });
  cv.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = cv.getBoundingClientRect();
    const at = S.tl.t0 + (e.clientX - r.left - LABEL_W) / (r.width - LABEL_W) * S.tl.span;
    zoom(e.deltaY > 0 ? 1.25 : 0.8, at);
  }, { passive: false });
  let drag = null;
  cv.addEventListener("mousedown", (e) => { drag = { x: e.clientX, t0: S.tl.t0, moved: false }; });
  window.addEventListener("mouseup", (e) => {
    if (drag && !drag.moved) {
      const r = cv.getBoundingClientRect(), px = e.clientX - r.left, py = e.clientY - r.top;
      const hit = S.tl.bars.find((b) => px >= b.x1 && px <= b.x2 && py >= b.y && py <= b.y + b.h);
      if (hit) openJob(hit.j.id);
    }
    drag = null;
  });
  window.addEventListener("mousemove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    if (Math.abs(dx) > 3) drag.moved = true;
    const r = cv.getBoundingClientRect();
    S.tl.t0 = drag.t0 - dx / (r.width - LABEL_W) * S.tl.span;
    if (drag.moved) renderTimeline();
  });
  window.addEventListener("resize", () => { if (S.view === "timeline") renderTimeline(); });
}

// ---------- job ----------
function openJob(id) {
  S.job = id;
  $("job-id").value = id;
  show("job");
}

async function renderJob() {
  $("job-ids").innerHTML = S.jobs.slice(0, 2000).map((j) => `<option value="${esc(j.id)}">${esc(j.name || "")}</option>`).join("");
  const el = $("job-detail");
  if (!S.job) return;
  let j;
  try { j = await api("/v1/jobs/" + encodeURIComponent(S.job)); } catch (e) { el.innerHTML = `<p class="error">${esc(e.message)}</p>`; return; }
  const p = (S.plan && S.plan.placements || []).find((x) => x.job === j.id);
  const u = (S.plan && S.plan.unplaced || []).find((x) => x.job === j.id);
  const cancellable = !["completed", "cancelled"].includes(j.state);
  el.innerHTML = `<h3 id="job-title">${esc(j.name || j.id)} <span class="muted">(${esc(j.id)})</span></h3>
    <dl class="kv">
      <dt>State</dt><dd id="job-state">${esc(j.state)}</dd>
      <dt>Site</dt><dd id="job-site">${esc(j.site || "none yet")}</dd>
      <dt>Accelerators</dt><dd>${fmt(j.gpus)} × ${esc(j.accelerator || "(any of its types)")}</dd>
      <dt>Start, end</dt><dd>${hourText(j.start_h)} → ${hourText(j.end_h)}</dd>
      <dt>Work</dt><dd>${fmt(j.done_hours, 2)} of ${fmt(j.hours, 2)} h saved by checkpoints; ${j.attempts} attempt(s)</dd>
      <dt>Data</dt><dd>${bytesText(j.data_tb * 1e12)} at ${esc(j.data_site)}${j.site && j.site !== j.data_site && j.data_tb > 0 ? ` (moves to ${esc(j.site)})` : ""}</dd>
      ${p ? `<dt>Planned cost</dt><dd>${fmt(p.cost_usd, 2)} USD, ${fmt(p.carbon_kg, 1)} kgCO2e</dd>` : ""}
      <dt>Runs</dt><dd id="job-runs">${j.command ? `<code>${esc(j.command.join(" "))}</code>` : j.script ? "a batch script" : "nothing (planning-only: never handed to a real cluster)"}${j.image ? ` in ${esc(j.image)}` : ""}</dd>
      ${(j.inputs || []).length ? `<dt>Inputs</dt><dd>${j.inputs.map(esc).join("<br>")}</dd>` : ""}
      ${j.checkpoint ? `<dt>Newest checkpoint</dt><dd>${esc(j.checkpoint)}</dd>` : ""}
      ${j.fence ? `<dt>Fenced</dt><dd id="job-fence">attempt ${j.fence.attempt} may still be running at ${esc(j.fence.site)} (${esc(j.fence.reason)}): it starts nowhere else until ${esc(j.fence.site)}'s cluster confirms it ended, or an admin who knows the work there is gone releases it<br>
        <input id="release-reason" placeholder="why the work there is known to be gone" size="40" aria-label="reason for the release"> <button id="job-release">Release the work fenced at ${esc(j.fence.site)}</button></dd>` : ""}
    </dl>
    <div id="job-transfers"></div>
    <div id="job-log"></div>
    <h4>${u ? "Why it is not placed" : "Why not the other sites"}</h4>
    <ul class="reasons" id="job-reasons">${(j.reasons || []).map((r) => `<li>${esc(r)}</li>`).join("") || "<li>none given (no other site to compare, or not planned yet)</li>"}</ul>
    ${Object.keys(j.refused || {}).length ? `<h4>Refused by</h4><ul class="reasons">${Object.entries(j.refused).map(([s, r]) => `<li>${esc(s)}: ${esc(r)}</li>`).join("")}</ul>` : ""}
    <h4>Events</h4>
    <table><thead><tr><th scope="col">when</th><th scope="col">what</th></tr></thead><tbody>${(j.history || []).map((h) => `<tr><td>${hourText(h.at_h)}</td><td>${esc(h.what)}</td></tr>`).join("")}</tbody></table>
    <p>${cancellable ? `<button id="job-cancel">Cancel this job</button>` : ""} <span id="job-msg" role="status"></span></p>`;
  // Its transfers and the tail of its latest attempt's output (where it ran on a real cluster).
  if ((j.inputs || []).length || Object.keys(j.attempt_sites || {}).length) {
    try {
      const ts = (await api("/v1/transfers")).transfers.filter((t) => t.job === j.id);
      if (ts.length) $("job-transfers").innerHTML = `<h4>Transfers</h4><table><thead><tr><th scope="col">what</th><th scope="col">from → to</th><th scope="col">state</th><th scope="col">moved</th><th scope="col">rate</th></tr></thead><tbody>${ts.map((t) => `<tr><td>${esc(t.kind)} (attempt ${t.attempt})</td><td>${esc(t.from_site)} → ${esc(t.to_site)}</td><td>${esc(t.state)}${t.state === "failed" ? ": " + esc(t.note) : ""}</td><td>${bytesText(t.bytes_moved)}</td><td>${t.mb_per_s ? bytesText(t.mb_per_s * 1e6) + "/s" : "–"}</td></tr>`).join("")}</tbody></table>`;
    } catch (e) { /* no transfers to show */ }
    if (Object.keys(j.attempt_sites || {}).length) {
      try {
        const l = await api("/v1/jobs/" + encodeURIComponent(j.id) + "/logs");
        const tail = l.text.split("\n").slice(-15).join("\n");
        $("job-log").innerHTML = `<h4>Output of attempt ${l.attempt} at ${esc(l.site)} (last lines)</h4><pre class="log">${esc(tail) || "(nothing written yet)"}</pre>`;
      } catch (e) { /* no log at this site (the simulated backend writes none) */ }
    }
  }
  // An admin's word that fenced work is gone there (the API refuses anyone else, saying so).
  if (j.fence) $("job-release").onclick = async () => {
    try {
      const reason = $("release-reason").value.trim();
      const r = await api("/v1/sites/" + encodeURIComponent(j.fence.site) + "/release", { method: "POST", body: JSON.stringify({ reason }) });
      $("job-msg").textContent = `Released ${r.jobs.length} job(s) fenced at ${r.site}.`;
      $("job-msg").className = "ok";
      await refresh();
    } catch (e) { $("job-msg").textContent = e.message; $("job-msg").className = "error"; }
  };
  if (cancellable) $("job-cancel").onclick = async () => {
    try {
      await api("/v1/jobs/" + encodeURIComponent(j.id), { method: "DELETE" });
      $("job-msg").textContent = "Cancelled.";
      $("job-msg").className = "ok";
      await refresh();
    } catch (e) { $("job-msg").textContent = e.message; $("job-msg").className = "error"; }
  };
}

// ---------- submit and estimate ----------
// The unit of each number the estimator returns (its types carry units in Rust; the JSON
// carries bare numbers), by field name, then by the name's suffix.
const UNITS = {
  flops: "FLOP", "breakdown.dense": "FLOP", "breakdown.attention": "FLOP", "breakdown.hardware": "FLOP",
  pf_days: "PF-days", gpu_hours: "accelerator-hours", gpu_hours_p10: "accelerator-hours", gpu_hours_p90: "accelerator-hours", mfu_effective: "fraction of peak", wall: "hours", it_power_per_gpu: "W per accelerator",
  energy: "kWh", emissions: "kgCO2e", min_gpus_for_memory: "accelerators", hfu: "fraction of peak",
  "cost.compute": "USD", "cost.electricity": "USD", "cost.total": "USD",
  replicas: "replicas", gpus: "accelerators", servers: "servers", capacity_rps: "requests/s",
  peak_utilisation: "fraction", power_kw: "kW", tokens_per_day: "tokens/day",
  "replica.batch": "requests", "replica.gpus": "accelerators", "replica.decode_tokens_per_s": "tokens/s",
  "replica.prefill_s": "s", "replica.seconds_per_request": "s", "replica.step_ms": "ms",
};
function unitOf(path) {
  const key = path.replace(/\[[^\]]*\]/g, "");
  if (UNITS[path]) return UNITS[path];
  const leaf = key.split(".").pop();
  if (UNITS[leaf]) return UNITS[leaf];
  const rules = [[/usd_per_million_tokens$/, "USD per million tokens"], [/_usd_per_day$/, "USD/day"], [/_mwh_per_day$/, "MWh/day"], [/_usd$/, "USD"],
    [/tokens_per_month$/, "tokens/month"], [/accelerators$/, "accelerators"], [/_kwh$/, "kWh"], [/_kg$/, "kgCO2e"], [/_ms$/, "ms"], [/_s$/, "s"]];
  for (const [re, u] of rules) if (re.test(leaf)) return u;
  return "(unitless)";
}

function renderSubmit() {
  const sel = $("f-data");
  if (sel.options.length !== S.sites.length) sel.innerHTML = S.sites.map((s) => `<option value="${esc(s.id)}">${esc(s.id)}: ${esc(s.name)}</option>`).join("");
}

async function submitJob(body) {
  const out = $("submit-result");
  try {
    const r = await api("/v1/jobs", { method: "POST", body: JSON.stringify(body) });
    out.innerHTML = `Submitted <a href="#job=${encodeURIComponent(r.id)}" id="submitted-link">${esc(r.id)}</a>; it is planned at the next round.`;
    out.className = "ok";
    await refresh();
  } catch (e) { out.textContent = "Not submitted: " + e.message; out.className = "error"; }
}

function setupForms() {
  $("job-pick").addEventListener("submit", (e) => {
    e.preventDefault();
    const id = $("job-id").value.trim();
    if (id) { location.hash = "job=" + encodeURIComponent(id); openJob(id); }
  });
  $("submit-form").addEventListener("submit", (e) => {
    e.preventDefault();
    submitJob({
      id: $("f-name").value.trim(),
      accelerators: $("f-acc").value.split(",").map((x) => x.trim()).filter(Boolean),
      gpus: Number($("f-gpus").value), hours: Number($("f-hours").value),
      data_site: $("f-data").value, data_tb: Number($("f-tb").value),
      deadline_hour: Number($("f-deadline").value), checkpoint_every_h: Number($("f-ckpt").value),
      pausable: $("f-pausable").checked,
    });
  });
  $("paste-form").addEventListener("submit", (e) => {
    e.preventDefault();
    let body;
    try { body = JSON.parse($("f-json").value); } catch (err) { $("submit-result").textContent = "Not JSON: " + err.message; $("submit-result").className = "error"; return; }
    submitJob(body);
  });
  $("estimate-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const kind = $("e-kind").value, out = $("estimate-result");
    const body = kind === "train" ? { params: Number($("e-params").value), tokens: Number($("e-tokens").value), gpu: $("e-gpu").value, gpus: Number($("e-gpus").value) }
      : kind === "serve" ? { params: Number($("e-params").value), gpu: $("e-gpu").value, rps: Number($("e-rps").value) }
      : { tokens_per_month: Number($("e-month").value), tier: $("e-tier").value, gpu: $("e-gpu").value };
    try {
      const r = (await api("/v1/estimate/" + kind, { method: "POST", body: JSON.stringify(body) })).estimate;
      // Every number with its unit: the estimate's fields, one level of nesting flattened
      // (cost.total, replica.step_ms), lists of options as rows.
      const rows = [];
      const walk = (v, path) => {
        if (Array.isArray(v)) { if (!["assumptions", "notes"].includes(path)) v.forEach((x, i) => walk(x, `${path}[${x && x.option ? x.option : i}]`)); return; }
        if (v && typeof v === "object") { for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k); return; }
        if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") rows.push([path, v]);
      };
      walk(r, "");
      const assumptions = r.assumptions || [];
      out.innerHTML = `<table><caption>Estimate</caption><thead><tr><th scope="col">what</th><th scope="col" class="num">value</th><th scope="col">unit</th></tr></thead><tbody>${rows.map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td class="num">${typeof v === "number" ? fmt(v, Math.abs(v) < 10 ? 3 : 0) : esc(v)}</td><td>${typeof v === "number" ? esc(unitOf(k)) : ""}</td></tr>`).join("")}</tbody></table>
        <table><caption>Assumptions</caption><thead><tr><th scope="col">what</th><th scope="col">value</th><th scope="col">source</th><th scope="col">confidence</th></tr></thead><tbody>${assumptions.map((a) => `<tr><td>${esc(a.name)}</td><td>${esc(a.value)} ${esc(a.unit || "")}</td><td>${esc(a.source)}</td><td>${esc(a.confidence)}</td></tr>`).join("")}</tbody></table>
        ${(r.notes || []).length ? `<ul>${r.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>` : ""}`;
    } catch (err) { out.innerHTML = `<p class="error">${esc(err.message)}</p>`; }
  });
}

// ---------- start ----------
function route() {
  const m = location.hash.match(/^#job=(.+)$/);
  if (m) openJob(decodeURIComponent(m[1]));
}

async function start() {
  setupTabs(); setupTimeline(); setupForms();
  $("token").value = S.token;
  $("login").addEventListener("submit", async (e) => {
    e.preventDefault();
    S.token = $("token").value.trim();
    sessionStorage.setItem("xisuan-token", S.token);
    $("who").textContent = ""; $("who").className = "";
    await refresh();
    if (!$("who").textContent) { $("who").textContent = "Signed in."; $("who").className = "ok"; }
  });
  window.addEventListener("hashchange", route);
  try {
    const w = await (await fetch("vendor/countries-110m.json")).json();
    S.world = topojson.feature(w, w.objects.countries);
  } catch (_) { S.world = null; }
  await refresh();
  route();
  schedule();
}
start();
