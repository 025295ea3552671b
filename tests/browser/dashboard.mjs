// End-to-end test of the dashboard in a real browser: Debian's Chromium, headless, driven by
// playwright-core, against a running `xisuan server`. It signs in with a tenant's token, takes
// a screenshot of each view (docs/dashboard-*.png), submits a job through the form, sees it
// planned on the timeline with its site, opens it and reads the reasons, cancels it, checks
// keyboard navigation, labels and text contrast on every view, and then loads 10,000 jobs and
// measures the time to first render of the timeline and to pan it.
//
//   node tests/browser/dashboard.mjs        (after `cargo build --release -p xisuan`)
//
// Environment: XISUAN_BIN (default target/release/xisuan), CHROMIUM (default
// /usr/bin/chromium), XISUAN_BROWSER_JOBS (default 10000), XISUAN_SCREENSHOTS (default docs/).

import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import assert from "node:assert/strict";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = process.env.XISUAN_BIN || join(root, "target/release/xisuan");
const shots = process.env.XISUAN_SCREENSHOTS || join(root, "docs");
const many = Number(process.env.XISUAN_BROWSER_JOBS || 10000);
const ADMIN = "browser-test-admin";

const freePort = () => new Promise((ok) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => ok(p)); }); });
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const log = (...a) => console.log("dashboard test:", ...a);

async function until(what, f, ms = 60000, every = 200) {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error("timed out waiting for " + what);
    await sleep(every);
  }
}

// ---------- the server ----------
const dir = mkdtempSync(join(tmpdir(), "xisuan-browser-"));
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const server = spawn(bin, ["server", "--listen", `127.0.0.1:${port}`, "--db", `sqlite:${join(dir, "s.db")}`, "--hour-seconds", "600", "--plan-budget", "5"],
  { env: { ...process.env, XISUAN_ADMIN_TOKEN: ADMIN }, stdio: ["ignore", "ignore", openSync(join(dir, "server.log"), "w")] });
let browser, current;
const stop = async () => { if (browser) await browser.close().catch(() => {}); server.kill("SIGKILL"); };
process.on("exit", () => server.kill("SIGKILL"));

async function call(token, method, path, body) {
  const r = await fetch(url + path, { method, headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// WCAG 2 contrast of every visible text element against its nearest opaque background.
function contrastReport() {
  const parse = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null; const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const lum = ({ r, g, b }) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bg = (el) => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a > 0.9) return c; } return { r: 255, g: 255, b: 255, a: 1 }; };
  const worst = [];
  for (const el of document.querySelectorAll("body *")) {
    if (!el.offsetParent && el.tagName !== "BODY") continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const st = getComputedStyle(el);
    const fg = parse(st.color);
    if (!fg) continue;
    const L1 = lum(fg), L2 = lum(bg(el));
    const ratio = (Math.max(L1, L2) + 0.05) / (Math.min(L1, L2) + 0.05);
    const large = parseFloat(st.fontSize) >= 24 || (parseFloat(st.fontSize) >= 18.66 && Number(st.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) worst.push(`${el.tagName}#${el.id} "${el.textContent.trim().slice(0, 30)}": ${ratio.toFixed(2)}`);
  }
  return worst;
}

// Every visible form control has an accessible name (a label or aria-label).
function unlabelled() {
  return [...document.querySelectorAll("input, select, textarea, button")].filter((e) => e.offsetParent).filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.textContent.trim()).map((e) => e.outerHTML.slice(0, 80));
}

try {
  await until("the server", async () => { try { return (await fetch(url + "/readyz")).ok; } catch { return false; } }, 60000);
  const { token } = await call(ADMIN, "POST", "/v1/tenants", { name: "browser" });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = (current = await browser.newPage({ viewport: { width: 1280, height: 860 } }));
  const outside = [];
  page.on("request", (r) => { if (!r.url().startsWith(url) && !r.url().startsWith("data:")) outside.push(r.url()); });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url + "/");
  await page.fill("#token", token);
  await page.click("text=Use token");
  await until("sign-in", async () => (await page.textContent("#who")) === "Signed in.");
  mkdirSync(shots, { recursive: true });

  // A job through the form.
  await page.click("#tab-submit");
  await page.fill("#f-name", "browser-job-1");
  await page.fill("#f-acc", "h800");
  await page.fill("#f-gpus", "8");
  await page.fill("#f-hours", "6");
  await page.selectOption("#f-data", "edwc-yrd");
  await page.fill("#f-tb", "20");
  await page.fill("#f-deadline", "96");
  await page.click("text=Submit job");
  const id = await until("the submission", async () => { const l = await page.$("#submitted-link"); return l && (await l.textContent()); });
  log("submitted", id);
  // The estimator, with its assumptions.
  await page.fill("#e-params", "7e9");
  await page.fill("#e-tokens", "2e12");
  await page.click("#estimate-form button[type=submit]");
  await page.waitForSelector("#estimate-result caption:text('Assumptions')");
  // Every number the estimator shows has its unit, for each kind of estimate.
  const unitless = async () => page.$$eval("#estimate-result table:first-of-type tbody tr", (trs) => trs.filter((tr) => tr.children[2].textContent === "(unitless)").map((tr) => tr.textContent));
  assert.deepEqual(await unitless(), [], "train: numbers without a unit");
  for (const kind of ["serve", "choose"]) {
    await page.selectOption("#e-kind", kind);
    await page.click("#estimate-form button[type=submit]");
    await until(`the ${kind} estimate`, async () => ((await page.textContent("#estimate-result")) || "").includes(kind === "serve" ? "capacity_rps" : "cheapest"));
    assert.deepEqual(await unitless(), [], `${kind}: numbers without a unit`);
  }
  await page.selectOption("#e-kind", "train");
  await page.click("#estimate-form button[type=submit]");
  await until("the train estimate again", async () => ((await page.textContent("#estimate-result")) || "").includes("gpu_hours"));
  await page.screenshot({ path: join(shots, "dashboard-submit.png"), fullPage: true });

  // It appears on the timeline as planned, with its site.
  await page.click("#tab-timeline");
  const row = await until("the job planned on the timeline", async () => {
    const r = await page.$(`#tl-table tr[data-job="${id}"]`);
    if (!r) return null;
    const cells = await r.$$eval("td", (tds) => tds.map((t) => t.textContent));
    return ["planned", "dispatched", "running"].includes(cells[1]) && cells[2] ? cells : null;
  }, 60000);
  const site = row[2];
  log("on the timeline:", row.join(" | "));
  await page.screenshot({ path: join(shots, "dashboard-timeline.png"), fullPage: true });

  // Open it and read the reasons for every site it did not go to.
  await page.click(`#tl-table tr[data-job="${id}"] a`);
  await page.waitForSelector("#job-reasons li");
  assert.equal((await page.textContent("#job-site")).trim(), site);
  const reasons = await page.$$eval("#job-reasons li", (li) => li.map((l) => l.textContent));
  log("reasons:", reasons.length, "e.g.", reasons[0]);
  assert.ok(reasons.length >= 1 && reasons.every((r) => /^[a-z0-9-]+: /.test(r)), "a reason per other site: " + reasons.join("; "));
  assert.ok(!reasons.some((r) => r.startsWith(site + ":")), "its own site is not among the reasons");
  await page.screenshot({ path: join(shots, "dashboard-job.png"), fullPage: true });

  // Overview: the map with its sites and headline figures.
  await page.click("#tab-overview");
  await page.waitForSelector("#map .site");
  assert.ok((await page.$$("#map .site")).length >= 3);
  assert.ok((await page.$$("#map .land")).length === 1, "the map has its land");
  // The headline figures say whose totals they are: a tenant sees its own.
  const scope = await page.$$eval("#headline .card", (cards) => cards.map((c) => c.textContent).find((t) => t.startsWith("Totals for")));
  assert.equal(scope, "Totals fortenant browser");
  await page.screenshot({ path: join(shots, "dashboard-overview.png"), fullPage: true });

  // Cancel it from its page (picked by id on the job view).
  await page.click("#tab-job");
  await page.fill("#job-id", id);
  await page.click("#job-pick button");
  await page.waitForSelector("#job-cancel");
  await page.click("#job-cancel");
  await until("the cancellation", async () => ((await page.textContent("#job-state")) || "") === "cancelled");
  const after = await call(token, "GET", "/v1/jobs/" + encodeURIComponent(id));
  assert.equal(after.state, "cancelled");
  log("cancelled", id);

  // Keyboard: the tabs take arrow keys; every view's controls are reachable and named; text
  // contrast is at least WCAG AA on every view.
  await page.focus("#tab-overview");
  await page.click("#tab-overview");
  for (const [key, want] of [["ArrowRight", "timeline"], ["ArrowRight", "job"], ["ArrowRight", "submit"], ["ArrowRight", "overview"], ["End", "submit"], ["Home", "overview"]]) {
    await page.keyboard.press(key);
    const focused = await page.evaluate(() => document.activeElement.id);
    assert.equal(focused, "tab-" + want, `${key} moves to ${want}`);
    assert.equal(await page.getAttribute("#tab-" + want, "aria-selected"), "true");
    assert.equal(await page.isVisible("#view-" + want), true);
  }
  for (const v of ["overview", "timeline", "job", "submit"]) {
    await page.click("#tab-" + v);
    await sleep(200);
    const tree = await page.locator("body").ariaSnapshot();
    assert.ok(tree.includes("tablist") && tree.includes(`tab "${v === "submit" ? "Submit and estimate" : v[0].toUpperCase() + v.slice(1)}" [selected]`), `${v}: the accessibility tree shows the selected tab\n${tree.slice(0, 400)}`);
    assert.ok(/heading ".+" \[level=2\]/.test(tree), `${v}: a heading`);
    const bad = await page.evaluate(contrastReport);
    assert.deepEqual(bad, [], `${v}: text below WCAG AA contrast`);
    assert.deepEqual(await page.evaluate(unlabelled), [], `${v}: controls without a name`);
  }
  // The timeline answers the keyboard too.
  await page.click("#tab-timeline");
  await page.focus("#timeline");
  const before = await page.evaluate(() => window.xisuanStats.timelineRenders);
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("+");
  assert.ok((await page.evaluate(() => window.xisuanStats.timelineRenders)) >= before + 2, "arrow and + redraw the timeline");
  assert.deepEqual(outside, [], "no request leaves the machine");
  assert.deepEqual(errors, [], "no script errors");

  // 10,000 jobs on the timeline.
  if (many > 0) {
    const t0 = Date.now();
    const sites = ["edwc-yrd", "edwc-guian", "edwc-qingyang", "edwc-horinger", "edwc-zhongwei"];
    // One bulk request (POST /v1/jobs/bulk), durable in one transaction.
    const jobs = Array.from({ length: many }, (_, i) => ({ id: `bulk-${i}`, accelerators: ["h800", "h20", "ascend-910b"], gpus: 1 + (i % 4), hours: 1 + (i % 6), data_site: sites[i % sites.length], deadline_hour: 160 }));
    const taken = await call(token, "POST", "/v1/jobs/bulk", { jobs });
    assert.equal(taken.jobs.length, many);
    log(`submitted ${many} jobs in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // Every job has been through a round: it is in the plan (placed or not), or its start has
    // come and it left the plan (dispatched, running or completed: at some hours of the day
    // the planner starts much of the work at once).
    const started = async () => {
      const text = await (await fetch(url + "/metrics", { headers: { Authorization: "Bearer " + ADMIN } })).text();
      return ["dispatched", "running", "completed"].reduce((n, s) => n + Number((text.match(new RegExp(`^xisuan_jobs\\{state="${s}"\\} (\\d+)$`, "m")) || [0, 0])[1]), 0);
    };
    let begun = 0;
    const placed = await until("the 10,000 jobs planned", async () => {
      const p = await call(token, "GET", "/v1/plan");
      begun = await started();
      return p.placements.length + p.unplaced.length + begun >= many ? p : null;
    }, 600000, 1000);
    log(`planned: ${placed.placements.length} placed, ${placed.unplaced.length} unplaced, ${begun} started, round ${placed.round} took ${placed.seconds.toFixed(1)} s`);
    // A fresh page (the token is in the session): time to the first timeline render with them.
    const big = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    big.on("pageerror", (e) => errors.push(String(e)));
    await big.goto(url + "/");
    await big.fill("#token", token);
    await big.click("#tab-timeline");
    const t1 = Date.now();
    await big.click("text=Use token");
    await until("the timeline with 10,000 jobs", async () => (await big.evaluate(() => window.xisuanStats.barsInView)) > 0, 120000, 50);
    const firstMs = Date.now() - t1;
    const st = await big.evaluate(() => window.xisuanStats);
    // Zoom out to the whole week, then pan: the time each redraw takes, and the page answers.
    await big.focus("#timeline");
    for (let i = 0; i < 2; i++) await big.keyboard.press("-");
    const pans = [];
    const whole = await big.evaluate(() => window.xisuanStats.barsInView);
    assert.ok(whole >= 0.9 * many, `the week shows the jobs: ${whole} bars`);
    for (let i = 0; i < 10; i++) {
      const t = await big.evaluate((dir) => { const a = performance.now(); document.getElementById(dir).click(); return performance.now() - a; }, i % 2 ? "tl-left" : "tl-right");
      pans.push(t);
    }
    const inView = await big.evaluate(() => window.xisuanStats.barsInView);
    assert.ok(inView >= 0.5 * many, `still in view after panning: ${inView}`);
    pans.sort((a, b) => a - b);
    const jobsShown = await big.evaluate(() => document.querySelector("#tl-range").textContent);
    log(`10,000 jobs: ${whole} bars over the whole week; first timeline render ${firstMs} ms after sign-in (fetch ${st.lastRefreshMs.toFixed(0)} ms, draw ${st.lastTimelineMs.toFixed(0)} ms); pan redraw median ${pans[5].toFixed(1)} ms, max ${pans[9].toFixed(1)} ms with ${inView} bars in view (${jobsShown})`);
    assert.ok(pans[9] < 250, "a pan redraws in under a quarter of a second");
    await big.screenshot({ path: join(shots, "dashboard-timeline-10k.png"), fullPage: false });
  }
  assert.deepEqual(errors, [], "no script errors");
  log("ok");
  await stop();
  process.exit(0);
} catch (e) {
  console.error("dashboard test FAILED:", e);
  if (current) await current.screenshot({ path: join(dir, "failure.png"), fullPage: true }).then(() => console.error("screenshot:", join(dir, "failure.png"))).catch(() => {});
  console.error("server log:", dir + "/server.log");
  await stop();
  process.exit(1);
}
