// Parallel coordinates: one vertical axis per parameter plus one for a metric, one
// polyline per run. Pure: scales and paths only; ParallelCoordinates.tsx draws them.
//
// A numeric axis is linear from its minimum (bottom) to its maximum (top); any other
// axis (strings, booleans, lists) places its distinct values evenly, sorted. A run
// without a value on an axis (or a non-finite metric) breaks its line there.
import { toNumber } from "../../lib/format";

export interface Axis {
  name: string;
  kind: "number" | "category";
  /** For numbers: [min, max]. */
  domain: [number, number];
  /** For categories: the distinct values, in axis order (bottom to top). */
  categories: string[];
  /** True for the metric axis. */
  metric: boolean;
}

export interface ParallelInput {
  runIds: string[];
  /** name -> one value per run (in runIds order). */
  params: Array<{ name: string; values: unknown[] }>;
  metric: { name: string; values: unknown[] } | null;
}

export interface ParallelLayout {
  axes: Array<Axis & { x: number }>;
  lines: Array<{ runId: string; path: string; points: number }>;
  width: number;
  height: number;
}

function key(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function numeric(values: unknown[]): number[] | null {
  const present = values.filter((v) => v !== null && v !== undefined);
  if (present.length === 0) return null;
  const numbers = present.map((v) => (typeof v === "boolean" ? null : toNumber(v)));
  if (numbers.some((n) => n === null)) return null;
  return (numbers as number[]).filter((n) => Number.isFinite(n));
}

export function makeAxis(name: string, values: unknown[], metric = false): Axis {
  const numbers = numeric(values);
  if (numbers !== null) {
    const domain: [number, number] = numbers.length ? [Math.min(...numbers), Math.max(...numbers)] : [0, 1];
    return { name, kind: "number", domain, categories: [], metric };
  }
  const categories = [...new Set(values.filter((v) => v !== null && v !== undefined).map(key))].sort();
  return { name, kind: "category", domain: [0, Math.max(0, categories.length - 1)], categories, metric };
}

/** Where `value` falls on `axis`, 0 (bottom) to 1 (top); null when it has no place. */
export function position(axis: Axis, value: unknown): number | null {
  if (value === null || value === undefined) return null;
  if (axis.kind === "number") {
    const n = toNumber(value);
    if (n === null || !Number.isFinite(n)) return null;
    const [lo, hi] = axis.domain;
    return hi === lo ? 0.5 : (n - lo) / (hi - lo);
  }
  const i = axis.categories.indexOf(key(value));
  if (i < 0) return null;
  return axis.categories.length === 1 ? 0.5 : i / (axis.categories.length - 1);
}

/** Axes evenly spaced across `width`, lines through each run's value on each axis. */
export function layoutParallel(input: ParallelInput, width: number, height: number, pad = 24): ParallelLayout {
  const axes: Axis[] = input.params.map((p) => makeAxis(p.name, p.values));
  if (input.metric) axes.push(makeAxis(input.metric.name, input.metric.values, true));
  const columns = [...input.params.map((p) => p.values), ...(input.metric ? [input.metric.values] : [])];
  const span = width - 2 * pad;
  const placed = axes.map((axis, i) => ({
    ...axis,
    x: axes.length === 1 ? width / 2 : pad + (i * span) / (axes.length - 1),
  }));
  const y = (t: number) => Math.round((height - pad - t * (height - 2 * pad)) * 10) / 10;
  const lines = input.runIds.map((runId, r) => {
    const parts: string[] = [];
    let pen = false;
    let points = 0;
    placed.forEach((axis, a) => {
      const t = position(axis, columns[a]?.[r]);
      if (t === null) {
        pen = false;
        return;
      }
      parts.push(`${pen ? "L" : "M"}${Math.round(axis.x * 10) / 10},${y(t)}`);
      pen = true;
      points += 1;
    });
    return { runId, path: parts.join(" "), points };
  });
  return { axes: placed, lines, width, height };
}

/** The best run of `values` (one per run) by `mode`: finite numbers only, ties to the first. */
export function bestIndex(values: unknown[], mode: "max" | "min", eligible?: boolean[]): number | null {
  let best: number | null = null;
  let bestValue = 0;
  values.forEach((v, i) => {
    const n = toNumber(v);
    if (n === null || !Number.isFinite(n) || (eligible && !eligible[i])) return;
    if (best === null || (mode === "max" ? n > bestValue : n < bestValue)) {
      best = i;
      bestValue = n;
    }
  });
  return best;
}
