// Runtime configuration of the grades dashboard. Loaded by index.html before the bundle.
// The container image rewrites this file at start; scripts/serve.mjs generates it from API_BASE_URL.
// apiBaseUrl: base URL of the realtime service (HTTP API + Socket.IO at /socket.io).
// An empty string means "the origin this page was served from".
window.__GRADES_CONFIG__ = { apiBaseUrl: "http://localhost:8003" };
