// Which parameter and metric columns the runs table shows. Pure.

/**
 * The keys of `field` (params or metrics) over `rows`, most frequent first (ties by
 * name), at most `limit`: a table of many runs keeps to the keys most runs share.
 */
export function collectKeys<T>(
  rows: readonly T[],
  field: (row: T) => Record<string, unknown> | null | undefined,
  limit = 12,
): string[] {
  const counts = new Map<string, number>();
  for (const row of rows) {
    for (const key of Object.keys(field(row) ?? {})) counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, limit)
    .map(([key]) => key);
}
