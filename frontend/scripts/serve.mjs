#!/usr/bin/env node
// Tiny static server for the built dashboard (no dependencies).
//
//   PORT=4173 API_BASE_URL=http://127.0.0.1:8003 node scripts/serve.mjs [dir]
//
// - serves `dir` (default: ../dist next to this script) with an SPA fallback to index.html;
// - answers /config.js from the environment when API_BASE_URL is set (even to ""), exactly like
//   the container image does at start, so the runtime configuration path is exercised;
//   without API_BASE_URL the bundle's own config.js is served;
// - HOST (default 127.0.0.1) and PORT (default 4173) choose where it listens.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(process.argv[2] ?? path.join(here, '..', 'dist'));
const port = Number(process.env.PORT ?? 4173);
const host = process.env.HOST ?? '127.0.0.1';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

function configJs(apiBaseUrl) {
  return `window.__GRADES_CONFIG__ = ${JSON.stringify({ apiBaseUrl })};\n`;
}

async function fileIfExists(p) {
  try {
    const s = await stat(p);
    return s.isFile() ? s : null;
  } catch {
    return null;
  }
}

function send(res, status, headers, body) {
  res.writeHead(status, headers);
  res.end(body);
}

async function handle(req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }, 'method not allowed\n');
  }
  let pathname;
  try {
    pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    return send(res, 400, { 'Content-Type': 'text/plain' }, 'bad request\n');
  }

  if (pathname === '/healthz') return send(res, 200, { 'Content-Type': 'text/plain' }, 'ok\n');

  if (pathname === '/config.js' && process.env.API_BASE_URL !== undefined) {
    const body = configJs(process.env.API_BASE_URL);
    return send(
      res,
      200,
      { 'Content-Type': TYPES['.js'], 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) },
      req.method === 'HEAD' ? undefined : body,
    );
  }

  // Resolve inside root only (no "..", no absolute escapes).
  const target = path.resolve(root, '.' + path.posix.normalize('/' + pathname));
  if (target !== root && !target.startsWith(root + path.sep)) {
    return send(res, 403, { 'Content-Type': 'text/plain' }, 'forbidden\n');
  }

  let file = target;
  let st = await fileIfExists(file);
  if (!st && (await fileIfExists(path.join(target, 'index.html')))) {
    file = path.join(target, 'index.html');
    st = await fileIfExists(file);
  }
  const ext = path.extname(pathname);
  if (!st) {
    // SPA fallback for routes; real missing assets (with an extension) stay 404.
    if (ext && ext !== '.html') return send(res, 404, { 'Content-Type': 'text/plain' }, 'not found\n');
    file = path.join(root, 'index.html');
    st = await fileIfExists(file);
    if (!st) return send(res, 500, { 'Content-Type': 'text/plain' }, `no index.html in ${root} (run npm run build)\n`);
  }

  const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
  const immutable = file.startsWith(path.join(root, 'assets') + path.sep);
  res.writeHead(200, {
    'Content-Type': type,
    'Content-Length': st.size,
    'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    'X-Content-Type-Options': 'nosniff',
  });
  if (req.method === 'HEAD') return res.end();
  createReadStream(file).pipe(res);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error(err);
    if (!res.headersSent) send(res, 500, { 'Content-Type': 'text/plain' }, 'internal error\n');
    else res.destroy();
  });
});

server.listen(port, host, () => {
  const cfg = process.env.API_BASE_URL !== undefined ? `config.js from API_BASE_URL=${JSON.stringify(process.env.API_BASE_URL)}` : 'config.js from the bundle';
  console.log(`serving ${root} on http://${host}:${server.address().port} (${cfg})`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
