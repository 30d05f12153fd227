#!/usr/bin/env node
// End-to-end test of the dashboard against the real services (see e2e/run.sh, which starts them).
//
//   DASHBOARD_URL    the served built bundle (scripts/serve.mjs), e.g. http://127.0.0.1:4173/
//   REALTIME_URL     realtime service, e.g. http://127.0.0.1:8003
//   GRPC_CLIENT_URL  grpc-client HTTP front, e.g. http://127.0.0.1:8001   (POST /grades)
//   REST_API_URL     rest-api, e.g. http://127.0.0.1:8002                 (POST /grades)
//   SCREENSHOT       optional: save a full-page screenshot (1600x1000 viewport) there
//   CHROMIUM_PATH    default /usr/bin/chromium
//   E2E_COURSE / E2E_SEMESTER / E2E_YEAR   the course term written to (default SO1 / 1S / 2099)
//
// The dashboard is opened once and never reloaded. Grades are posted through BOTH ingestion routes;
// the test then expects the live total to grow by exactly the number posted, the pass/fail panel to
// show the expected counts, and the other live panels to reflect the new grades. It also checks the
// published benchmark beside the route panel (GET /api/compare) and the layout at phone widths
// (360, 390 and 420 px, with hidden and with classic scrollbars: no sideways scroll, every table
// cell and figure inside its card and the viewport, no table column hidden: e2e/layout.mjs) and on
// a tall screen (1600x1800: no empty band between rows).
// Prints one line per check and a final "N passed, N failed"; exits 1 on any failure.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { layoutProblems } from './layout.mjs';

const env = process.env;
const missing = ['DASHBOARD_URL', 'REALTIME_URL', 'GRPC_CLIENT_URL', 'REST_API_URL'].filter((k) => !env[k]);
if (missing.length) {
  console.error(`dashboard.e2e: missing env ${missing.join(', ')} (use e2e/run.sh to start everything)`);
  console.log('0 passed, 1 failed');
  process.exit(2);
}
const trim = (u) => u.replace(/\/+$/, '');
const DASHBOARD_URL = env.DASHBOARD_URL;
const REALTIME_URL = trim(env.REALTIME_URL);
const GRPC_CLIENT_URL = trim(env.GRPC_CLIENT_URL);
const REST_API_URL = trim(env.REST_API_URL);
const CHROMIUM_PATH = env.CHROMIUM_PATH || '/usr/bin/chromium';
const COURSE = env.E2E_COURSE || 'SO1';
const SEMESTER = env.E2E_SEMESTER || '1S';
const YEAR = Number(env.E2E_YEAR || 2099);
const RUN = Date.now().toString(36).slice(-6);
// Phone widths the layout is checked at: the narrowest common phone (360), a current iPhone (390), 420.
const PHONE_WIDTHS = [360, 390, 420];

// What gets posted: 3 passing (>= 61) + 2 failing, over both routes. Carnets are fixed so the number
// of distinct students in the term stays 5 even when the database is reused between runs.
const POSTS = [
  { route: 'grpc', carnet: 209900001, nota: 95 },
  { route: 'rest', carnet: 209900002, nota: 78 },
  { route: 'grpc', carnet: 209900003, nota: 40 },
  { route: 'rest', carnet: 209900004, nota: 60 },
  { route: 'grpc', carnet: 209900005, nota: 61 },
].map((p, i) => ({ ...p, nombre: `E2E ${RUN} Alumno ${i + 1}` }));
const EXPECT_PASSED = POSTS.filter((p) => p.nota >= 61).length; // 3
const EXPECT_FAILED = POSTS.length - EXPECT_PASSED; // 2
const EXPECT_STUDENTS = new Set(POSTS.map((p) => p.carnet)).size; // 5

// ---------------------------------------------------------------- tiny runner
const results = [];
let stopAll = false;
async function check(name, fn, { critical = false } = {}) {
  if (stopAll) {
    results.push({ name, ok: false, skipped: true });
    console.log(`SKIP ${name} (an earlier critical check failed)`);
    return;
  }
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name} (${Date.now() - t0} ms)\n     ${String(err?.stack || err).split('\n').slice(0, 4).join('\n     ')}`);
    if (critical) stopAll = true;
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
async function eventually(what, fn, timeoutMs = 20_000, everyMs = 250) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v !== false && v !== undefined && v !== null) return v;
      last = 'condition false';
    } catch (err) {
      last = err?.message || String(err);
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
async function getJson(url) {
  const res = await fetch(url, { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url} -> ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

// ---------------------------------------------------------------- browser
const BROWSER_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];
const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: BROWSER_ARGS });
const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
const consoleErrors = [];
page.on('console', (m) => {
  if (m.type() === 'error') consoleErrors.push(m.text());
});
page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
let navigations = 0;
page.on('framenavigated', (f) => {
  if (f === page.mainFrame()) navigations++;
});

const tid = (id) => page.locator(`[data-testid="${id}"]`);
const attr = async (id, name) => (await tid(id).first().getAttribute(name, { timeout: 2000 })) ?? '';
const text = async (id) => ((await tid(id).first().textContent({ timeout: 2000 })) ?? '').trim();
const num = (s) => Number(String(s).replace(/[^0-9.-]/g, ''));

let total0 = NaN;
let grpc0 = NaN;
let rest0 = NaN;
let pf0 = { passed: 0, failed: 0 };
const posted = [];

try {
  await check(
    'dashboard loads and the connection indicator says connected',
    async () => {
      await page.goto(DASHBOARD_URL, { waitUntil: 'domcontentloaded', timeout: 30_000 });
      await eventually('connection-status = connected', async () => (await attr('connection-status', 'data-state')) === 'connected', 30_000);
      const label = await text('connection-status');
      assert(/live/i.test(label), `connection label is "${label}"`);
    },
    { critical: true },
  );

  await check(
    'live total shows the current total (matches GET /api/live)',
    async () => {
      const v = await eventually('live-total data-value', async () => {
        const raw = await attr('live-total', 'data-value');
        return raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : null;
      });
      total0 = v;
      grpc0 = Number(await attr('live-total-grpc', 'data-value'));
      rest0 = Number(await attr('live-total-rest', 'data-value'));
      const api = await getJson(`${REALTIME_URL}/api/live`);
      assert(api.total === total0, `UI total ${total0} != GET /api/live total ${api.total}`);
      await eventually('live-total text', async () => num(await text('live-total')) === total0, 5000);
    },
    { critical: true },
  );

  await check('baseline pass/fail for the test term (GET /api/stats/pass-fail)', async () => {
    const pf = await getJson(
      `${REALTIME_URL}/api/stats/pass-fail?curso=${encodeURIComponent(COURSE)}&semestre=${SEMESTER}&year=${YEAR}`,
    );
    assert(Number.isInteger(pf.passed) && Number.isInteger(pf.failed), `unexpected body ${JSON.stringify(pf)}`);
    pf0 = { passed: pf.passed, failed: pf.failed };
  });

  await page.evaluate(() => {
    window.__e2eMarker = 'not reloaded';
  });
  const navBefore = navigations;

  await check(
    `POST ${POSTS.length} grades through both routes (grpc-client and rest-api)`,
    async () => {
      for (const p of POSTS) {
        const base = p.route === 'grpc' ? GRPC_CLIENT_URL : REST_API_URL;
        const body = { carnet: p.carnet, nombre: p.nombre, curso: COURSE, nota: p.nota, semestre: SEMESTER, year: YEAR };
        const res = await fetch(`${base}/grades`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        const txt = await res.text();
        assert(res.status === 201, `POST ${base}/grades -> ${res.status} ${txt.slice(0, 600)}`);
        const json = JSON.parse(txt);
        assert(json.route === p.route, `expected route "${p.route}", got ${txt}`);
        const hdr = res.headers.get('x-route');
        assert(hdr === p.route, `expected X-Route: ${p.route}, got ${hdr}`);
        assert(Number.isInteger(json.id), `no id in ${txt}`);
        posted.push({ ...p, id: json.id });
      }
    },
    { critical: true },
  );

  await check(`live total rises by exactly ${POSTS.length} without a reload`, async () => {
    const want = total0 + POSTS.length;
    await eventually(`live-total = ${want}`, async () => Number(await attr('live-total', 'data-value')) >= want, 20_000);
    // Stays exact (no double counting) for a moment, and the animated text lands on it.
    await page.waitForTimeout(1500);
    const now = Number(await attr('live-total', 'data-value'));
    assert(now === want, `live total is ${now}, expected exactly ${want} (was ${total0})`);
    await eventually('live-total text', async () => num(await text('live-total')) === want, 5000);
    assert(navigations === navBefore, 'the page navigated/reloaded');
    assert((await page.evaluate(() => window.__e2eMarker)) === 'not reloaded', 'the page was reloaded');
  });

  await check('per-route live counts rise by the number posted on each route', async () => {
    const g = POSTS.filter((p) => p.route === 'grpc').length;
    const r = POSTS.length - g;
    await eventually('route counts', async () => {
      const gv = Number(await attr('live-total-grpc', 'data-value'));
      const rv = Number(await attr('live-total-rest', 'data-value'));
      return gv === grpc0 + g && rv === rest0 + r;
    }, 10_000);
  });

  await check(`pass/fail panel shows +${EXPECT_PASSED} passed / +${EXPECT_FAILED} failed for ${COURSE} ${SEMESTER} ${YEAR}`, async () => {
    await tid('passfail-course').selectOption(COURSE);
    await tid('passfail-semester').selectOption(SEMESTER);
    await tid('passfail-year').fill(String(YEAR));
    const wantP = pf0.passed + EXPECT_PASSED;
    const wantF = pf0.failed + EXPECT_FAILED;
    await tid('passfail-refresh').click();
    let tries = 0;
    await eventually(
      `passed=${wantP} failed=${wantF}`,
      async () => {
        // Click refresh again now and then (not every poll: that would cancel the request in flight).
        if (++tries % 6 === 0) await tid('passfail-refresh').click();
        if ((await tid('passfail-error').count()) > 0) throw new Error(`panel error: ${await text('passfail-error')}`);
        if ((await tid('passfail-passed').count()) === 0) return false;
        const p = num(await text('passfail-passed'));
        const f = num(await text('passfail-failed'));
        if (p === wantP && f === wantF) return true;
        throw new Error(`panel shows passed=${p} failed=${f}`);
      },
      15_000,
      500,
    );
    const subtitle = (await tid('panel-passfail').locator('.panel-sub').textContent()) ?? '';
    assert(subtitle.includes(`${COURSE} ${SEMESTER} ${YEAR}`), `panel subtitle "${subtitle}" does not name the term`);
  });

  await check('live feed lists every posted grade', async () => {
    await eventually('recent-item for each posted grade', async () => {
      const items = await tid('recent-item').allTextContents();
      const missingNames = POSTS.filter((p) => !items.some((t) => t.includes(p.nombre))).map((p) => p.nombre);
      if (missingNames.length) throw new Error(`missing ${missingNames.join(', ')}`);
      return true;
    }, 10_000);
  });

  await check(`distinct students (live) for ${COURSE} ${SEMESTER} ${YEAR} is ${EXPECT_STUDENTS}`, async () => {
    await tid('students-course').selectOption(COURSE);
    await tid('students-semester').selectOption(SEMESTER);
    await tid('students-year').fill(String(YEAR));
    await eventually(`students-count = ${EXPECT_STUDENTS}`, async () => {
      if ((await tid('students-error').count()) > 0) throw new Error(`panel error: ${await text('students-error')}`);
      const raw = (await tid('students-count').count()) ? await attr('students-count', 'data-value') : '';
      if (raw === '') return false;
      if (Number(raw) !== EXPECT_STUDENTS) throw new Error(`students-count is ${raw}`);
      return true;
    }, 15_000);
  });

  await check('stored grades table (filtered to the term) lists the new grades newest first', async () => {
    await tid('grades-course').selectOption(COURSE);
    await tid('grades-semester').selectOption(SEMESTER);
    await tid('grades-year').fill(String(YEAR));
    const expectIds = posted.map((p) => p.id).sort((a, b) => b - a);
    await eventually('grades rows', async () => {
      if ((await tid('grades-error').count()) > 0) throw new Error(`panel error: ${await text('grades-error')}`);
      const ids = await tid('grades-row').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-id'))));
      const top = ids.slice(0, expectIds.length);
      if (JSON.stringify(top) !== JSON.stringify(expectIds)) throw new Error(`rows ${JSON.stringify(ids)}`);
      return true;
    }, 15_000);
  });

  await check('grades table pages forward and back with the cursor stack', async () => {
    const rowIds = () => tid('grades-row').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-id'))));
    // Unfiltered: the whole table, so there is a second page whenever more grades than fit exist.
    await tid('grades-course').selectOption('');
    await tid('grades-semester').selectOption('');
    await tid('grades-year').fill('');
    const first = await eventually('page 1 rows', async () => {
      const ids = await rowIds();
      return ids.length && ids[0] >= Math.max(...posted.map((p) => p.id)) ? ids : null;
    }, 10_000);
    assert(Number(await attr('grades-page', 'data-value')) === 1, 'not on page 1');
    assert(await tid('grades-prev').isDisabled(), 'Back is enabled on page 1');
    if (await tid('grades-next').isDisabled()) {
      console.log(`     (only ${first.length} grades stored: a single page, Next disabled as expected)`);
      return;
    }
    await tid('grades-next').click();
    await eventually('page 2 rows', async () => {
      const ids = await rowIds();
      if (Number(await attr('grades-page', 'data-value')) !== 2) return false;
      return ids.length > 0 && Math.max(...ids) < Math.min(...first) ? true : null;
    }, 10_000);
    await tid('grades-prev').click();
    await eventually('back on page 1', async () => {
      const ids = await rowIds();
      return Number(await attr('grades-page', 'data-value')) === 1 && ids[0] === first[0];
    }, 10_000);
  });

  await check('route comparison shows gRPC and REST rows with their traffic share', async () => {
    await eventually('routes rows', async () => {
      for (const r of ['grpc', 'rest']) {
        if ((await tid(`routes-row-${r}`).count()) !== 1) throw new Error(`no routes-row-${r}`);
        const share = Number(await attr(`routes-share-${r}`, 'data-value'));
        if (!(share > 0 && share < 1)) throw new Error(`routes-share-${r} = ${share}`);
      }
      return true;
    }, 10_000);
  });

  await check('route panel shows the published benchmark (GET /api/compare), labelled apart from the live figures', async () => {
    const res = await fetch(`${REALTIME_URL}/api/compare`, { signal: AbortSignal.timeout(10_000) });
    const body = await res.json();
    if (res.status === 404) {
      // No docs/compare.json where realtime looks (COMPARE_JSON): the panel says to run `just compare`.
      assert(/just compare/.test(body.detail), `404 without the hint: ${JSON.stringify(body)}`);
      await eventually('published missing state', async () => (await attr('routes-published', 'data-state')) === 'missing', 10_000);
      console.log('     (realtime has no published comparison: checked the "run just compare" state)');
      return;
    }
    assert(res.status === 200, `GET /api/compare -> ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
    await eventually('published benchmark shown', async () => (await attr('routes-published', 'data-state')) === 'shown', 10_000);
    assert((await attr('routes-published', 'data-measured-at')) === body.measured_at, 'a different measurement is shown');
    const source = await text('routes-published-source');
    assert(source.includes(body.measured_at.slice(0, 10)) && /not live/.test(source), `source label "${source}"`);
    // A route where no step held has null figures: the panel shows them as absent, not as 0.
    const asShown = (v) => (v === null || v === undefined ? '' : String(v));
    for (const r of body.routes) {
      const shown = await attr(`published-max-${r.route}`, 'data-value');
      assert(shown === asShown(r.max_sustainable_per_sec), `${r.route}: shows max "${shown}", API says ${r.max_sustainable_per_sec}`);
      const cpu = await attr(`published-cpu-${r.route}`, 'data-value');
      const want = asShown(r.half_load?.cpu_seconds_per_1000);
      assert(cpu === want, `${r.route}: shows CPU "${cpu}", API says ${want}`);
    }
  });

  await check('live feed says that at high rates it shows a sample', async () => {
    const note = await text('recent-sample-note');
    assert(/at high rates this list shows a sample/i.test(note), `note is "${note}"`);
  });

  // Layout: what a new user sees on a phone and on a tall screen.
  const layout = () =>
    page.evaluate(() => {
      const rect = (el) => {
        const r = el.getBoundingClientRect();
        return { left: r.left, right: r.right, top: r.top + window.scrollY, bottom: r.bottom + window.scrollY, width: r.width, height: r.height };
      };
      return {
        innerWidth: window.innerWidth,
        scrollWidth: document.scrollingElement.scrollWidth,
        charts: [...document.querySelectorAll('[data-testid$="-chart"], .routes-chart .chart, .passfail-chart')].map((el) => ({
          id: el.getAttribute('data-testid') || el.className,
          box: rect(el),
          svgs: [...el.querySelectorAll('svg.recharts-surface')].map(rect),
        })),
        panels: [...document.querySelectorAll('main.grid > .panel')].map((el) => ({ id: el.getAttribute('data-testid'), ...rect(el) })),
      };
    });
  const settle = async () => {
    await page.waitForTimeout(700); // ResponsiveContainer re-measures after a resize
    await eventually('both top charts drawn', async () => (await tid('topcourses-chart').count()) === 1 && (await tid('topstudents-chart').count()) === 1, 10_000);
  };

  // Phones, narrowest first: every figure readable (layoutProblems in e2e/layout.mjs says what
  // that means: no sideways page scroll, every table cell and figure inside its card and the
  // viewport, no table column hidden).
  for (const width of PHONE_WIDTHS) {
    await check(`at ${width} px wide: no sideways page scroll, every table cell and figure inside its card and the viewport`, async () => {
      await page.setViewportSize({ width, height: 900 });
      await settle();
      const l = await layout();
      assert(l.scrollWidth <= l.innerWidth, `the page scrolls sideways: scrollWidth ${l.scrollWidth} > innerWidth ${l.innerWidth}`);
      for (const id of ['topcourses-chart', 'topstudents-chart']) assert(l.charts.some((c) => c.id === id), `${id} not drawn`);
      for (const c of l.charts) for (const svg of c.svgs) assert(svg.width > 0, `${c.id} has an empty chart`);
      for (const id of ['routes-p99-grpc', 'routes-p99-rest']) assert((await tid(id).count()) === 1, `${id} not rendered`);
      const problems = await page.evaluate(layoutProblems);
      assert(problems.length === 0, `${problems.length} layout problems:\n       ${problems.slice(0, 12).join('\n       ')}`);
    });
  }

  // The same with classic scrollbars, which take room from the page's width (headless Chromium
  // hides them unless told not to): a second browser, the same dashboard.
  await check(`with classic scrollbars at ${PHONE_WIDTHS.join(', ')} px: no sideways page scroll, every table cell and figure inside its card`, async () => {
    const classic = await chromium.launch({ executablePath: CHROMIUM_PATH, args: BROWSER_ARGS, ignoreDefaultArgs: ['--hide-scrollbars'] });
    try {
      const phone = await classic.newPage({ viewport: { width: PHONE_WIDTHS[0], height: 900 } });
      await phone.goto(DASHBOARD_URL, { waitUntil: 'domcontentloaded', timeout: 30_000 });
      await eventually('route rows and the published benchmark drawn', async () => {
        const rows = await phone.locator('[data-testid^="routes-row-"]').count();
        const published = await phone.locator('[data-testid="routes-published"]').getAttribute('data-state');
        return rows === 2 && (published === 'shown' || published === 'missing');
      }, 15_000);
      for (const width of PHONE_WIDTHS) {
        await phone.setViewportSize({ width, height: 900 });
        await phone.waitForTimeout(700);
        const { inner, client } = await phone.evaluate(() => ({ inner: innerWidth, client: document.scrollingElement.clientWidth }));
        assert(client < inner, `at ${width} px the scrollbar takes no room (clientWidth ${client}, innerWidth ${inner}): not classic scrollbars`);
        const problems = await phone.evaluate(layoutProblems);
        assert(problems.length === 0, `at ${width} px, ${problems.length} layout problems:\n       ${problems.slice(0, 12).join('\n       ')}`);
      }
    } finally {
      await classic.close().catch(() => undefined);
    }
  });

  await check('at 1600x1800: no empty band between the rows of panels', async () => {
    await page.setViewportSize({ width: 1600, height: 1800 });
    await settle();
    const l = await layout();
    assert(l.scrollWidth <= l.innerWidth, `the page scrolls sideways: scrollWidth ${l.scrollWidth} > innerWidth ${l.innerWidth}`);
    // Walk down the page: the largest vertical stretch that no panel covers, between the first
    // panel's top and the last panel's bottom, must stay about one grid gap.
    const spans = l.panels.map((p) => [p.top, p.bottom]).sort((a, b) => a[0] - b[0]);
    let reach = spans[0][1];
    let widest = 0;
    for (const [top, bottom] of spans.slice(1)) {
      widest = Math.max(widest, top - reach);
      reach = Math.max(reach, bottom);
    }
    assert(widest <= 32, `an empty band of ${Math.round(widest)} px opens between rows: ${JSON.stringify(l.panels.map((p) => [p.id, Math.round(p.top), Math.round(p.bottom)]))}`);
    for (const c of l.charts) for (const svg of c.svgs) assert(svg.right <= l.innerWidth + 0.5, `${c.id}'s chart is cut off on the right`);
    await page.setViewportSize({ width: 1600, height: 1000 });
  });

  await check('no uncaught errors in the page', async () => {
    const serious = consoleErrors.filter((e) => /pageerror|Uncaught|TypeError|ReferenceError/.test(e));
    assert(serious.length === 0, serious.join('\n'));
  });

  if (env.SCREENSHOT) {
    await check(`screenshot saved to ${env.SCREENSHOT}`, async () => {
      const out = path.resolve(env.SCREENSHOT);
      mkdirSync(path.dirname(out), { recursive: true });
      await tid('refresh-all').click(); // every static panel current, not up to 10 s old
      await page.waitForTimeout(2500); // let the throughput history and charts fill in
      await page.screenshot({ path: out, fullPage: true });
    });
  }
} finally {
  if (results.some((r) => !r.ok) && consoleErrors.length) {
    console.log(`browser console errors:\n  ${consoleErrors.slice(0, 20).join('\n  ')}`);
  }
  await browser.close().catch(() => undefined);
}

const passed = results.filter((r) => r.ok).length;
const skipped = results.filter((r) => r.skipped).length;
const failed = results.length - passed - skipped;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed || skipped ? 1 : 0);
