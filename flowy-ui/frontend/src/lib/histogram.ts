// Bars of a histogram the server computed (30 bins over at most 1M values). Pure.

export interface Bar {
  x: number;
  y: number;
  width: number;
  height: number;
  count: number;
  /** The bin's edges as sent (null where the server had a non-finite edge). */
  from: number | null;
  to: number | null;
}

/**
 * Scale `counts` into bars filling a width x height box (bottom-aligned; the tallest bin
 * touches the top). A bin with a count above zero is at least 1 px high, so it shows.
 */
export function histogramBars(
  counts: readonly number[],
  edges: ReadonlyArray<number | null>,
  width: number,
  height: number,
  gap = 1,
): Bar[] {
  if (counts.length === 0 || width <= 0 || height <= 0) return [];
  const tallest = Math.max(...counts, 0);
  const step = width / counts.length;
  return counts.map((count, i) => {
    const h = tallest > 0 ? Math.max(count > 0 ? 1 : 0, (count / tallest) * height) : 0;
    return {
      x: i * step,
      y: height - h,
      width: Math.max(step - gap, 1),
      height: h,
      count,
      from: edges[i] ?? null,
      to: edges[i + 1] ?? null,
    };
  });
}
