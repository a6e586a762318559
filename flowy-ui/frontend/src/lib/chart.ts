// Small line charts of metric series. Pure.
import { toNumber } from "./format";

export interface SeriesPath {
  /** SVG path data; the line breaks at non-finite values (NaN, ±Infinity). */
  path: string;
  min: number | null;
  max: number | null;
  /** The last value as sent (may be a non-finite number). */
  last: number | null;
  /** Finite points drawn. */
  points: number;
  /** Points with no finite neighbour to join (a one-value series): drawn as dots. */
  dots: Array<[number, number]>;
}

/**
 * Scale `series` ([index, value] pairs; values numbers or the non-finite strings) into a
 * width x height box with `pad` pixels of margin.
 */
export function seriesPath(
  series: ReadonlyArray<readonly [number, unknown]>,
  width: number,
  height: number,
  pad = 4,
): SeriesPath {
  const parsed = series.map(([x, v]) => [x, toNumber(v)] as const);
  const finite = parsed.filter(
    (p): p is readonly [number, number] => p[1] !== null && Number.isFinite(p[1]) && Number.isFinite(p[0]),
  );
  const lastValue = parsed.length ? (parsed[parsed.length - 1]?.[1] ?? null) : null;
  if (finite.length === 0) return { path: "", min: null, max: null, last: lastValue, points: 0, dots: [] };
  const xs = finite.map((p) => p[0]);
  const ys = finite.map((p) => p[1]);
  const minX = Math.min(...xs);
  const maxX = Math.max(...xs);
  const minY = Math.min(...ys);
  const maxY = Math.max(...ys);
  const sx = (x: number) =>
    maxX === minX ? width / 2 : pad + ((x - minX) / (maxX - minX)) * (width - 2 * pad);
  const sy = (y: number) =>
    maxY === minY ? height / 2 : height - pad - ((y - minY) / (maxY - minY)) * (height - 2 * pad);
  const parts: string[] = [];
  const dots: Array<[number, number]> = [];
  let segment: Array<[number, number]> = [];
  const endSegment = () => {
    if (segment.length === 1 && segment[0]) dots.push(segment[0]);
    segment = [];
  };
  for (const [x, v] of parsed) {
    if (v === null || !Number.isFinite(v) || !Number.isFinite(x)) {
      endSegment();
      continue;
    }
    const point: [number, number] = [round(sx(x)), round(sy(v))];
    parts.push(`${segment.length ? "L" : "M"}${point[0]},${point[1]}`);
    segment.push(point);
  }
  endSegment();
  return { path: parts.join(" "), min: minY, max: maxY, last: lastValue, points: finite.length, dots };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
