// The generator and Socket.IO receivers of `just live` (scripts/live.sh). Node, with the
// dashboard's own socket.io-client (`npm ci` here first).
//
//   node frontend/scripts/live_probe.mjs latency --url URL --realtime URL --rate N --seconds S [--warmup W]
//        [--drain D] [--connections C] [--students K]
//     POSTs grades to URL at an open-loop Poisson rate (intended send times drawn beforehand,
//     kept whatever the server does; C keep-alive connections, more requests queue for them)
//     while two Socket.IO clients listen to realtime: one to the sampled `recent_grades` feed
//     (what the dashboard shows), one subscribed to `all_grades`. For every grade whose POST was
//     sent after the warm-up and answered 201: the time from that 201's arrival here to the
//     first push carrying its id, per feed, and the share of grades pushed at all.
//
//   node frontend/scripts/live_probe.mjs hold --realtime URL --clients N --pid PID --settle S --seconds T
//     Connects N dashboard-like clients (sampled feed, one `subscribe_students` each), prints
//     `connected`, waits S seconds, then measures PID's CPU (from /proc, % of one core) and RSS
//     over T seconds and the pushes the clients received meanwhile.
//
// Prints one JSON object on stdout. Both roles share this process's event loop: a receive time
// includes the time the loop took to notice it (the same on both sides of a latency).
import { readFileSync } from "node:fs";
import http from "node:http";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

let io;
try {
  ({ io } = await import("socket.io-client"));
} catch {
  fail("socket.io-client is not installed: run `cd frontend && npm ci` first");
}

function fail(message) {
  process.stderr.write(`live_probe: ${message}\n`);
  process.exit(1);
}

const COURSES = ["SO1", "BD1", "LFP", "SA", "AYD1"];
const now = () => performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return round(sorted[index]);
}

function round(ms) {
  return Math.round(ms * 100) / 100;
}

function stats(values) {
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    p50_ms: percentile(sorted, 50),
    p99_ms: percentile(sorted, 99),
    max_ms: sorted.length ? round(sorted[sorted.length - 1]) : null,
    min_ms: sorted.length ? round(sorted[0]) : null,
  };
}

function connect(url, name) {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ["websocket"], reconnection: false, timeout: 10_000 });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (error) => reject(new Error(`${name}: cannot connect to ${url}: ${error.message}`)));
  });
}

function grade(students) {
  const index = Math.floor(Math.random() * students);
  return JSON.stringify({
    carnet: 201_900_000 + index,
    nombre: `Alumno ${index + 1}`,
    curso: COURSES[Math.floor(Math.random() * COURSES.length)],
    nota: Math.floor(Math.random() * 101),
    semestre: Math.random() < 0.5 ? "1S" : "2S",
    year: 2019 + Math.floor(Math.random() * 7),
  });
}

async function latency(options) {
  const rate = Number(options.rate);
  const seconds = Number(options.seconds);
  const warmup = Number(options.warmup);
  const drain = Number(options.drain);
  const students = Number(options.students);
  if (!(rate > 0 && seconds > 0)) fail("latency needs --rate and --seconds above 0");

  const sampled = await connect(options.realtime, "sampled client");
  const all = await connect(options.realtime, "all_grades client");
  const sampledAt = new Map();
  const allAt = new Map();
  const allOrder = { pushes: 0, duplicates: 0, outOfOrder: 0, lastId: 0 };
  sampled.on("recent_grades", (grades) => {
    const at = now();
    for (const g of grades) if (!sampledAt.has(g.id)) sampledAt.set(g.id, at);
  });
  all.on("all_grades", (grades) => {
    const at = now();
    allOrder.pushes++;
    for (const g of grades) {
      if (allAt.has(g.id)) allOrder.duplicates++;
      else allAt.set(g.id, at);
      if (g.id <= allOrder.lastId) allOrder.outOfOrder++;
      allOrder.lastId = Math.max(allOrder.lastId, g.id);
    }
  });
  const ack = await all.timeout(5000).emitWithAck("subscribe_all_grades");
  if (!ack || ack.all_grades !== true) fail(`subscribe_all_grades was not acknowledged: ${JSON.stringify(ack)}`);

  const url = new URL(options.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Number(options.connections) });
  const created = new Map(); // id -> 201 arrival time (measured grades only)
  const ingest = [];
  const errors = {};
  let measuredSent = 0;
  let inFlight = 0;

  const post = (intended, measured) => {
    if (measured) measuredSent++;
    inFlight++;
    const body = grade(students);
    const request = http.request(
      { host: url.hostname, port: url.port, path: url.pathname, method: "POST", agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("end", () => {
          const at = now();
          inFlight--;
          if (response.statusCode !== 201) {
            errors[response.statusCode] = (errors[response.statusCode] || 0) + 1;
            return;
          }
          if (!measured) return;
          const { id } = JSON.parse(Buffer.concat(chunks).toString());
          created.set(id, at);
          ingest.push(at - intended);
        });
      },
    );
    request.on("error", (error) => {
      inFlight--;
      errors[error.code || "error"] = (errors[error.code || "error"] || 0) + 1;
    });
    request.end(body);
  };

  // Open loop: the schedule is fixed in advance; a late loop sends every overdue request at once.
  const start = now() + 50;
  const measureFrom = start + warmup * 1000;
  const end = measureFrom + seconds * 1000;
  let next = start;
  while (next < end) {
    const t = now();
    while (next <= t && next < end) {
      post(next, next >= measureFrom);
      next += (-Math.log(1 - Math.random()) / rate) * 1000;
    }
    await sleep(Math.max(0, Math.min(next - now(), 1)));
  }
  const deadline = now() + 30_000;
  while (inFlight > 0 && now() < deadline) await sleep(10);
  await sleep(drain * 1000);

  const feed = (seen) => {
    const delays = [];
    for (const [id, at] of created) if (seen.has(id)) delays.push(seen.get(id) - at);
    return { pushed: delays.length, share: created.size ? round((delays.length / created.size) * 100) : null, ...stats(delays) };
  };
  const result = {
    offered_rate: rate,
    measured_seconds: seconds,
    sent: measuredSent,
    created: created.size,
    stored_rate: round(created.size / seconds),
    errors,
    unanswered: inFlight,
    ingest: stats(ingest),
    sampled: feed(sampledAt),
    all_grades: { ...feed(allAt), pushes: allOrder.pushes, duplicates: allOrder.duplicates, out_of_order: allOrder.outOfOrder },
  };
  sampled.close();
  all.close();
  agent.destroy();
  return result;
}

function procSample(pid) {
  // /proc/PID/stat: fields after the `(comm)` field; utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]);
  return { ticks, rssKib: rss, at: now() };
}

async function hold(options) {
  const clients = Number(options.clients);
  const pid = Number(options.pid);
  procSample(pid); // fails early on a wrong pid
  const sockets = [];
  let pushes = 0;
  let grades = 0;
  let total = null; // the stored total as the `total` pushes say (counted by the projector)
  for (let i = 0; i < clients; i++) {
    const socket = await connect(options.realtime, `client ${i + 1}`);
    socket.onAny((event, data) => {
      pushes++;
      if (event === "recent_grades") grades += data.length;
      if (event === "total" && i === 0) total = data.total;
    });
    // As the dashboard does: one course term's student count.
    socket.emit("subscribe_students", { curso: COURSES[i % COURSES.length], semestre: "2S", year: 2023 });
    sockets.push(socket);
  }
  process.stdout.write("connected\n");
  await sleep(Number(options.settle) * 1000);
  // Clock ticks per second: 100 on Linux (USER_HZ), whatever the kernel's HZ.
  const hz = Number(options.hz);
  const before = procSample(pid);
  const pushesBefore = pushes;
  const gradesBefore = grades;
  const totalBefore = total;
  let rssPeak = before.rssKib;
  const seconds = Number(options.seconds);
  for (let elapsed = 0; elapsed < seconds * 10; elapsed++) {
    await sleep(100);
    rssPeak = Math.max(rssPeak, procSample(pid).rssKib);
  }
  const after = procSample(pid);
  const wall = (after.at - before.at) / 1000;
  const connected = sockets.filter((s) => s.connected).length;
  const totalAfter = total;
  for (const socket of sockets) socket.close();
  return {
    clients,
    connected_at_end: connected,
    seconds: round(wall),
    cpu_percent_of_one_core: round((((after.ticks - before.ticks) / hz) / wall) * 100),
    rss_mib: round(after.rssKib / 1024),
    rss_peak_mib: round(rssPeak / 1024),
    pushes_per_client_per_second: round((pushes - pushesBefore) / clients / wall),
    grades_per_client_per_second: round((grades - gradesBefore) / clients / wall),
    // Grades stored and folded during the window: what the routes actually took, whatever was offered.
    stored_per_second: totalBefore === null || totalAfter === null ? null : round((totalAfter - totalBefore) / wall),
  };
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: "string" },
    realtime: { type: "string" },
    rate: { type: "string" },
    seconds: { type: "string", default: "20" },
    warmup: { type: "string", default: "3" },
    drain: { type: "string", default: "3" },
    connections: { type: "string", default: "64" },
    students: { type: "string", default: "500" },
    clients: { type: "string", default: "100" },
    pid: { type: "string" },
    settle: { type: "string", default: "3" },
    hz: { type: "string", default: "100" },
  },
});
const [mode] = positionals;
if (!values.realtime) fail("--realtime URL is required");
let result;
if (mode === "latency") {
  if (!values.url || !values.rate) fail("latency needs --url and --rate");
  result = await latency(values);
} else if (mode === "hold") {
  if (!values.pid) fail("hold needs --pid (realtime's process id)");
  result = await hold(values);
} else {
  fail(`unknown mode ${JSON.stringify(mode)}: latency or hold`);
}
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
