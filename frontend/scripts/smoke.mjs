// The sandbox for real, from outside (`just smoke`, part of `just test`): `just up` builds the
// images and starts the whole compose project on a Docker engine, then this script
//   1. posts grades through the ingress and checks that both routes take a share near 50 %;
//   2. restarts rest-api's container, then grpc-server's, each while grades keep coming, retrying
//      a refused grade with its Idempotency-Key as any client should;
//   3. finds every acknowledged grade in MySQL exactly once (and nothing else), the Redis live
//      total equal to it, and the same figures from the dashboard's API, reached as the browser
//      reaches it: the address in the dashboard's /config.js, with the dashboard's Origin;
//   4. receives every grade as a Socket.IO `all_grades` push;
//   5. `just down` leaves no container, network or volume of the project behind.
// It prints each step's time. It runs as its own compose project (SMOKE_PROJECT, default
// grades-smoke) on its own host ports, so a developer's `just up` is never touched.
//
// Node 20+, with the dashboard's socket.io-client (it lives beside the dashboard for that, and for
// its lint: `cd frontend && npm ci`).
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(path.join(root, "frontend/package.json"));
let io;
try {
  ({ io } = require("socket.io-client"));
} catch {
  fail("socket.io-client is not installed: run `cd frontend && npm ci` first");
}

const project = process.env.SMOKE_PROJECT ?? "grades-smoke";
const ports = {
  INGRESS_PORT: process.env.SMOKE_INGRESS_PORT ?? "18080",
  REALTIME_PORT: process.env.SMOKE_REALTIME_PORT ?? "18003",
  DASHBOARD_PORT: process.env.SMOKE_DASHBOARD_PORT ?? "13000",
  MYSQL_PORT: process.env.SMOKE_MYSQL_PORT ?? "23306",
  REDIS_PORT: process.env.SMOKE_REDIS_PORT ?? "26379",
};
const batch = Number(process.env.SMOKE_BATCH ?? 300);
const concurrency = 8;
// compose reads the project name and the ports from the environment (compose.yaml's defaults
// otherwise); INGEST_TOKEN is cleared so a developer's .env cannot make every POST a 401.
const composeEnv = { ...process.env, COMPOSE_PROJECT_NAME: project, ...ports, INGEST_TOKEN: "" };
const ingress = `http://127.0.0.1:${ports.INGRESS_PORT}`;
const dashboard = `http://localhost:${ports.DASHBOARD_PORT}`;
const runId = Date.now().toString(36);
const COURSES = ["SO1", "BD1", "LFP", "SA", "AYD1"];

const steps = [];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function fail(message) {
  process.stderr.write(`smoke: FAILED: ${message}\n`);
  process.exit(1);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function step(name, body) {
  const started = performance.now();
  process.stderr.write(`smoke: ${name} ...\n`);
  const result = await body();
  const seconds = (performance.now() - started) / 1000;
  steps.push({ name, seconds });
  process.stderr.write(`smoke: ${name}: ok (${seconds.toFixed(1)} s)\n`);
  return result;
}

/** Runs a command; resolves with its stdout, rejects with its stderr's tail on a non-zero exit. */
function run(command, args, { echo = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, env: composeEnv, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (echo) process.stderr.write(chunk);
    });
    child.stderr.on("data", (chunk) => {
      err += chunk;
      if (echo) process.stderr.write(chunk);
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(" ")} exited ${code}: ${err.slice(-2000)}`)),
    );
  });
}

const compose = (...args) => run("docker", ["compose", ...args]);

function grade(i) {
  return {
    carnet: 201900000 + (i % 400),
    nombre: `Alumno ${i % 400}`,
    curso: COURSES[i % COURSES.length],
    nota: (i * 37) % 101,
    semestre: i % 2 ? "1S" : "2S",
    year: 2020 + (i % 6),
  };
}

/**
 * Posts grade `i` until it is acknowledged (201, or 200 for a replay of its key), retrying a
 * refusal (502/503/504 from the ingress while a route restarts) or a broken connection with the
 * same Idempotency-Key. Anything else fails the run.
 */
async function postUntilAcknowledged(i, counters) {
  const key = `smoke-${runId}-${i}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    let response;
    let text = "";
    let last;
    try {
      response = await fetch(`${ingress}/grades`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": key },
        body: JSON.stringify(grade(i)),
        signal: AbortSignal.timeout(15_000),
      });
      text = await response.text();
      last = `HTTP ${response.status}`;
    } catch (error) {
      response = undefined; // no answer: the connection broke or timed out
      last = error.message;
    }
    if (response?.status === 201 || response?.status === 200) {
      const body = JSON.parse(text);
      check(Number.isInteger(body.id) && ["grpc", "rest"].includes(body.route), `grade ${i}: unexpected body ${text}`);
      if (response.status === 200) counters.replays += 1;
      return { key, id: body.id, route: body.route };
    }
    if (response && ![502, 503, 504].includes(response.status)) throw new Error(`grade ${i}: HTTP ${response.status} ${text}`);
    counters.retries += 1;
    check(Date.now() < deadline, `grade ${i} was not acknowledged within 90 s (last: ${last})`);
    const retryAfter = Number(response?.headers.get("retry-after") ?? 0);
    await sleep(Math.min(2000, Math.max(100, retryAfter * 1000)));
  }
}

/** Posts grades `from..from+count` with `concurrency` clients; calls `midway` once a quarter are in. */
async function postBatch(from, count, counters, midway) {
  const acknowledged = [];
  let next = from;
  let midwayRun;
  const client = async () => {
    while (next < from + count) {
      const i = next++;
      acknowledged.push(await postUntilAcknowledged(i, counters));
      if (midway && !midwayRun && acknowledged.length >= count / 4) midwayRun = midway();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  if (midwayRun) await midwayRun;
  return acknowledged;
}

async function mysqlIds() {
  const out = await compose(
    "exec", "-T", "mysql", "sh", "-c",
    'mysql -uroot -p"$MYSQL_ROOT_PASSWORD" -N -B grades -e "SELECT id FROM grades ORDER BY id" 2>/dev/null',
  );
  return out.split("\n").filter(Boolean).map(Number);
}

async function until(what, seconds, probe) {
  const deadline = Date.now() + seconds * 1000;
  let last;
  for (;;) {
    last = await probe().catch((error) => ({ error }));
    if (last === true) return;
    if (Date.now() > deadline) throw new Error(`${what} within ${seconds} s (last: ${JSON.stringify(last)})`);
    await sleep(250);
  }
}

async function leftovers() {
  const label = `label=com.docker.compose.project=${project}`;
  const [containers, networks, volumes] = await Promise.all([
    run("docker", ["ps", "-aq", "--filter", label]),
    run("docker", ["network", "ls", "-q", "--filter", label]),
    run("docker", ["volume", "ls", "-q", "--filter", label]),
  ]);
  return { containers: containers.trim(), networks: networks.trim(), volumes: volumes.trim() };
}

async function main() {
  const before = await leftovers();
  if (before.containers || before.volumes) {
    process.stderr.write(`smoke: removing what an earlier run of project ${project} left\n`);
    await run("just", ["down"]);
  }
  let up = false;
  let socket;
  try {
    await step("just up (build, start, wait until healthy)", async () => {
      up = true; // from here on, whatever happens, `just down` cleans up
      await run("just", ["up"], { echo: true });
    });

    const { apiBase } = await step("dashboard: /config.js names the API", async () => {
      const response = await fetch(`${dashboard}/config.js`);
      check(response.ok, `GET ${dashboard}/config.js: HTTP ${response.status}`);
      const match = /apiBaseUrl:\s*"([^"]*)"/.exec(await response.text());
      check(match && match[1], "config.js has no apiBaseUrl");
      return { apiBase: match[1] };
    });

    const pushed = new Map();
    await step("Socket.IO: subscribe to every grade (all_grades)", async () => {
      socket = io(apiBase, { transports: ["websocket"], extraHeaders: { Origin: dashboard }, reconnection: true });
      socket.on("all_grades", (grades) => {
        for (const g of grades) pushed.set(g.id, (pushed.get(g.id) ?? 0) + 1);
      });
      await new Promise((resolve, reject) => {
        socket.once("connect_error", (error) => reject(new Error(`Socket.IO connect: ${error.message}`)));
        socket.once("connect", resolve);
      });
      const ack = await socket.timeout(5000).emitWithAck("subscribe_all_grades");
      check(ack?.all_grades === true, `subscribe_all_grades answered ${JSON.stringify(ack)}`);
    });

    const counters = { retries: 0, replays: 0 };
    const first = await step(`post ${batch} grades through the ingress`, () => postBatch(0, batch, counters));
    const split = await step("both routes take a share near 50 %", async () => {
      const grpc = first.filter((a) => a.route === "grpc").length;
      // A fair coin per request: 5 standard deviations either side of half.
      const sigma = Math.sqrt(batch * 0.25);
      check(Math.abs(grpc - batch / 2) <= 5 * sigma, `grpc took ${grpc} of ${batch} (outside 50 % ± ${(500 * sigma / batch).toFixed(1)} %)`);
      return { grpc, rest: batch - grpc };
    });

    const restart = (service) => async () => {
      const started = performance.now();
      await compose("restart", service);
      return (performance.now() - started) / 1000;
    };
    const second = await step(`post ${batch} grades while rest-api's container restarts`, () =>
      postBatch(batch, batch, counters, restart("rest-api")),
    );
    const third = await step(`post ${batch} grades while grpc-server's container restarts`, () =>
      postBatch(2 * batch, batch, counters, restart("grpc-server")),
    );
    const acknowledged = [...first, ...second, ...third];
    const ids = acknowledged.map((a) => a.id);
    check(new Set(ids).size === ids.length, "two grades were acknowledged with the same id");

    await step("MySQL holds every acknowledged grade once, and nothing else", async () => {
      const stored = await mysqlIds();
      const expected = [...ids].sort((a, b) => a - b);
      const missing = expected.filter((id) => !stored.includes(id));
      check(missing.length === 0, `${missing.length} acknowledged grades are not in MySQL: ${missing.slice(0, 10)}`);
      check(stored.length === expected.length, `MySQL holds ${stored.length} grades, ${expected.length} were acknowledged`);
    });

    const total = acknowledged.length;
    const perRoute = { grpc: acknowledged.filter((a) => a.route === "grpc").length };
    perRoute.rest = total - perRoute.grpc;
    await step("Redis live total equals MySQL's count", () =>
      until("the Redis live total to reach the count", 15, async () => {
        const value = (await compose("exec", "-T", "redis", "redis-cli", "HGET", "grades:live", "total")).trim();
        return Number(value) === total || { redis: value, expected: total };
      }),
    );

    await step("dashboard API (its origin, its config): totals, per-route counts, newest grades", async () => {
      const get = async (pathAndQuery) => {
        const response = await fetch(`${apiBase}${pathAndQuery}`, { headers: { Origin: dashboard } });
        check(response.ok, `GET ${pathAndQuery}: HTTP ${response.status}`);
        const allowed = response.headers.get("access-control-allow-origin");
        check(allowed === dashboard, `GET ${pathAndQuery}: CORS allows ${allowed}, not the dashboard's origin ${dashboard}`);
        return response.json();
      };
      await until("GET /api/live to show every grade", 15, async () => {
        const live = await get("/api/live");
        return (live.total === total && live.route_count.grpc === perRoute.grpc && live.route_count.rest === perRoute.rest) || live;
      });
      const page = await get("/api/grades?limit=5");
      const newest = [...ids].sort((a, b) => b - a).slice(0, 5);
      check(JSON.stringify(page.items.map((g) => g.id)) === JSON.stringify(newest), `GET /api/grades: ${page.items.map((g) => g.id)} is not the newest ${newest}`);
      const routes = await get("/api/stats/routes");
      const stored = Object.fromEntries(routes.routes.map((r) => [r.route, r.stored]));
      check(stored.grpc === perRoute.grpc && stored.rest === perRoute.rest, `GET /api/stats/routes: ${JSON.stringify(stored)}`);
    });

    await step("Socket.IO pushed every grade once (all_grades)", () =>
      until("every acknowledged grade to be pushed", 15, async () => {
        const missing = ids.filter((id) => !pushed.has(id));
        const twice = [...pushed].filter(([, n]) => n > 1).map(([id]) => id);
        check(twice.length === 0, `pushed more than once: ${twice.slice(0, 10)}`);
        return missing.length === 0 || { missing: missing.length };
      }),
    );
    socket.close();
    socket = undefined;

    await step("just down leaves no container, network or volume", async () => {
      up = false;
      await run("just", ["down"]);
      const left = await leftovers();
      check(!left.containers && !left.networks && !left.volumes, `left behind: ${JSON.stringify(left)}`);
    });

    process.stdout.write(`\nsmoke: passed. ${total} grades (grpc ${perRoute.grpc}, rest ${perRoute.rest}; first batch ${split.grpc}/${split.rest}), ` +
      `${counters.retries} retries while containers restarted, ${counters.replays} replays answered 200.\n\n`);
    process.stdout.write("| step | seconds |\n|---|---|\n");
    for (const s of steps) process.stdout.write(`| ${s.name} | ${s.seconds.toFixed(1)} |\n`);
  } catch (error) {
    socket?.close();
    if (up) {
      process.stderr.write("smoke: the services' last log lines:\n");
      process.stderr.write(await compose("logs", "--no-color", "--tail", "30").catch((e) => String(e)));
      await run("just", ["down"]).catch(() => {});
    }
    fail(error.message);
  }
}

await main();
