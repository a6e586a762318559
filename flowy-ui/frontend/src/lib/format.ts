// Display formatting for numbers, times, durations and sizes. Pure functions.
//
// The API sends non-finite metric values as the strings "NaN", "Infinity" and
// "-Infinity" (JSON has no literal for them); toNumber() turns those back into numbers.

const NON_FINITE = new Map<string, number>([
  ["NaN", Number.NaN],
  ["Infinity", Number.POSITIVE_INFINITY],
  ["-Infinity", Number.NEGATIVE_INFINITY],
]);

/** A metric value as a number: numbers as they are, the three non-finite strings, else null. */
export function toNumber(value: unknown): number | null {
  if (typeof value === "number") return value;
  if (typeof value === "string") return NON_FINITE.get(value) ?? null;
  return null;
}

/** A number for a table cell: integers whole, others to 4 significant digits (one decimal
 * from 1000 up), very large or small ones in exponent notation. */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "∞";
  if (value === Number.NEGATIVE_INFINITY) return "-∞";
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) {
    // 1.235e-5, without trailing zeros in the mantissa.
    const [mantissa, exponent] = value.toExponential(3).split("e");
    return `${trimZeros(mantissa ?? "")}e${exponent ?? ""}`;
  }
  if (abs >= 1000) return trimZeros(value.toFixed(1));
  return trimZeros(value.toPrecision(4));
}

function trimZeros(text: string): string {
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

/** A metric value (number or non-finite string) or a parameter of any JSON type. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return "";
  const number = toNumber(value);
  if (number !== null) return formatNumber(number);
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  return JSON.stringify(value);
}

/** A table cell of any JSON value: lists joined by commas, objects as "key: value; ...". */
export function formatCell(value: unknown): string {
  if (Array.isArray(value)) return value.map(formatCell).join(", ");
  if (value !== null && typeof value === "object") {
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${k}: ${formatCell(v)}`)
      .join("; ");
  }
  return formatValue(value);
}

/** Seconds as "350 ms", "12.3 s", "4m 05s", "2h 03m" or "1d 02h"; "" when unknown. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return "";
  }
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${trimZeros(seconds.toFixed(1))} s`;
  const whole = Math.floor(seconds);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (whole < 3600) return `${Math.floor(whole / 60)}m ${pad(whole % 60)}s`;
  if (whole < 86400) return `${Math.floor(whole / 3600)}h ${pad(Math.floor((whole % 3600) / 60))}m`;
  return `${Math.floor(whole / 86400)}d ${pad(Math.floor((whole % 86400) / 3600))}h`;
}

/** Epoch seconds as "2026-12-07 13:45:12" in local time (UTC when utc is true). */
export function formatTime(epoch: number | null | undefined, utc = false): string {
  if (epoch === null || epoch === undefined || !Number.isFinite(epoch)) return "";
  const d = new Date(epoch * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  const [y, mo, da, h, mi, s] = utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  return `${y}-${pad(mo)}-${pad(da)} ${pad(h)}:${pad(mi)}:${pad(s)}`;
}

/** Bytes as "512 B", "1.5 KiB", "3.2 MiB"... */
export function formatBytes(size: number | null | undefined): string {
  if (size === null || size === undefined || !Number.isFinite(size)) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = size;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${trimZeros(value.toFixed(1))} ${units[unit]}`;
}

/** The first 8 characters of an id, as `flowy runs list` shows them. */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

const KNOWN_STATUSES = new Set([
  "completed",
  "cached",
  "failed",
  "timed_out",
  "skipped",
  "cancelled",
  "running",
  "pending",
  "crashed",
]);

/** The CSS class for a run or step status; unknown statuses share one class. */
export function statusClass(status: string | null | undefined): string {
  return status && KNOWN_STATUSES.has(status) ? `status-${status}` : "status-unknown";
}

/** Statuses that change on their own, so a page showing them refreshes. */
export function isLive(status: string | null | undefined): boolean {
  return status === "running" || status === "pending";
}
