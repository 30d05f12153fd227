/** Number / percent / latency formatting shared by every panel. */

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const compactFmt = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

export const DASH = '—';

function isNum(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n);
}

/** 1234567 -> "1,234,567"; non-numbers -> "—". */
export function formatNumber(n: number | null | undefined): string {
  return isNum(n) ? intFmt.format(n) : DASH;
}

/** 15300 -> "15.3K" (used on chart axes). */
export function formatCompact(n: number | null | undefined): string {
  return isNum(n) ? compactFmt.format(n) : DASH;
}

/** Ratio 0..1 -> "62.5%". Whole percentages lose the decimal: 1 -> "100%", 0.5 -> "50%". */
export function formatPercent(ratio: number | null | undefined, digits = 1): string {
  if (!isNum(ratio)) return DASH;
  const pct = ratio * 100;
  const rounded = Number(pct.toFixed(digits));
  if (Number.isInteger(rounded)) return `${rounded}%`;
  return `${rounded.toFixed(digits)}%`;
}

/** Latency in ms, with precision that fits the magnitude. */
export function formatMs(ms: number | null | undefined): string {
  if (!isNum(ms)) return DASH;
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10000 ? 1 : 2)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

/** Requests per second: 9.66 -> "9.7/s", 0 -> "0/s", 1234 -> "1,234/s". */
export function formatRate(perSec: number | null | undefined): string {
  if (!isNum(perSec)) return DASH;
  if (perSec === 0) return '0/s';
  if (perSec >= 100) return `${intFmt.format(Math.round(perSec))}/s`;
  if (perSec >= 10) return `${perSec.toFixed(1)}/s`;
  return `${Number(perSec.toFixed(2))}/s`;
}

/** Grade averages: 97.5 -> "97.50". */
export function formatAverage(avg: number | null | undefined): string {
  return isNum(avg) ? avg.toFixed(2) : DASH;
}

/** "3s ago", "4m ago", "2h ago", "3d ago"; future or unparsable -> "just now" / "". */
export function formatRelative(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '';
  const s = Math.floor((now - t) / 1000);
  if (s < 2) return 'just now';
  if (s < 60) return `${s}s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ago`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ago`;
  return `${Math.floor(h / 24)}d ago`;
}

/** Local "HH:MM:SS" for timestamps in tables. */
export function formatClock(iso: string | number | Date | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return DASH;
  const d = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(d.getTime())) return DASH;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Local "YYYY-MM-DD HH:MM:SS". */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return DASH;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return DASH;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${formatClock(d)}`;
}

/** Short axis label for a rate: 0.045 -> "0.045", 0.05 -> "0.05", 2.5 -> "2.5", 12 -> "12"; none for no number. */
export function formatAxisRate(v: number | null | undefined): string {
  if (!isNum(v)) return '';
  if (v === 0) return '0';
  if (Math.abs(v) >= 10) return formatCompact(Math.round(v));
  return String(Number(v.toPrecision(2)));
}
