/**
 * Runtime configuration: `/config.js` (loaded by index.html before the bundle) sets
 * `window.__GRADES_CONFIG__`. Nothing here is baked in at build time.
 */
export interface GradesConfig {
  apiBaseUrl?: string;
}

declare global {
  interface Window {
    __GRADES_CONFIG__?: GradesConfig;
  }
}

export interface Endpoints {
  /** Base for HTTP calls, no trailing slash, e.g. "http://localhost:8003". */
  apiBase: string;
  /** Origin Socket.IO connects to (never carries a path: a path would be read as a namespace). */
  socketOrigin: string;
  /** Socket.IO engine path, "/socket.io" unless apiBaseUrl has a path prefix. */
  socketPath: string;
}

/**
 * apiBaseUrl "" / missing -> the page's own origin. A path prefix (e.g. behind a proxy at
 * "/realtime") is kept for HTTP calls and put in front of the Socket.IO path.
 */
export function resolveEndpoints(config: GradesConfig | undefined | null, pageOrigin: string): Endpoints {
  const raw = typeof config?.apiBaseUrl === 'string' ? config.apiBaseUrl.trim() : '';
  let url: URL;
  try {
    url = new URL(raw === '' ? pageOrigin : raw, pageOrigin);
  } catch {
    url = new URL(pageOrigin);
  }
  const prefix = url.pathname.replace(/\/+$/, '');
  return {
    apiBase: url.origin + prefix,
    socketOrigin: url.origin,
    socketPath: `${prefix}/socket.io`,
  };
}

export function currentEndpoints(): Endpoints {
  return resolveEndpoints(window.__GRADES_CONFIG__, window.location.origin);
}
