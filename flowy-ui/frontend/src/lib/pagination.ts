// Cursor pagination of the runs list and its live refresh. Pure.
//
// Pages come from GET /api/v1/runs?cursor=... ("load more" follows next_cursor). While
// a shown run is running, the first page is fetched again every few seconds: new runs
// in it are put on top and runs already shown are replaced by their fresh copy, so
// the list a user scrolled through keeps its place.

/** Query string for the given parameters, leaving out empty ones ("" / null / undefined). */
export function buildQuery(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "") continue;
    search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** The items of all pages in order, each key once (the first page holding it wins). */
export function flattenPages<T>(pages: ReadonlyArray<Page<T>>, key: (item: T) => string): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const page of pages) {
    for (const item of page.items) {
      const k = key(item);
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(item);
    }
  }
  return out;
}

/** The cursor for the next page, or null when the last page has been loaded. */
export function nextCursor<T>(pages: ReadonlyArray<Page<T>>): string | null {
  const last = pages[pages.length - 1];
  return last ? last.next_cursor || null : null;
}

/**
 * `shown` refreshed by `fresh` (a newer copy of the first page, in server order):
 * items of `fresh` not yet shown go first, in their order (unless `addNew` is false: a
 * list sorted by anything but newest-first has no "top" for them); shown items are
 * replaced by their fresh copy where there is one and otherwise kept, in place.
 */
export function mergeFresh<T>(
  shown: readonly T[],
  fresh: readonly T[],
  key: (item: T) => string,
  addNew = true,
): T[] {
  if (fresh.length === 0) return [...shown];
  const freshByKey = new Map(fresh.map((item) => [key(item), item]));
  const shownKeys = new Set(shown.map(key));
  const added = addNew ? fresh.filter((item) => !shownKeys.has(key(item))) : [];
  return [...added, ...shown.map((item) => freshByKey.get(key(item)) ?? item)];
}

/**
 * Whether the table is scrolled close enough to its end to fetch the next page:
 * `shownEnd` (the window's end, overscan included) within `margin` rows of the last
 * loaded row. Small, so a first page that fills the screen does not fetch the second.
 */
export function nearEnd(shownEnd: number, loaded: number, margin = 5): boolean {
  return loaded > 0 && shownEnd >= loaded - margin;
}
