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

// -- the runs list's view: filter, sort and chosen columns, kept in the URL ------------

/** Where the chosen columns are remembered between visits (the URL wins when it has some). */
export const COLUMNS_KEY = "flowy.runs.columns";

export type SortOrder = "asc" | "desc";

/** What the runs page shows: all of it lives in the URL, so a view can be shared. */
export interface RunsView {
  /** The filter, in the filter language (`status:failed metrics.r2>0.9`). */
  q: string;
  sort: string;
  order: SortOrder;
  /** `params.<name>` / `metrics.<name>` columns; null: not chosen (defaults apply). */
  columns: string[] | null;
  /** Shorthands of older links (`/runs?status=failed`), ANDed with `q` by the server. */
  status?: string;
  pipeline?: string;
  experiment?: string;
}

export const DEFAULT_SORT = "started";

/** The table's fixed columns and the field each sorts by. */
export const FIXED_COLUMNS: ReadonlyArray<{ label: string; field: string }> = [
  { label: "Status", field: "status" },
  { label: "Run", field: "run" },
  { label: "Pipeline", field: "pipeline" },
  { label: "Experiment", field: "experiment" },
  { label: "Stack", field: "stack" },
  { label: "Started", field: "started" },
  { label: "Duration", field: "duration" },
];

/** A comma-separated column list: null when absent, [] when empty; only params./metrics. names. */
export function parseColumns(text: string | null | undefined): string[] | null {
  if (text === null || text === undefined) return null;
  const names = text
    .split(",")
    .map((c) => c.trim())
    .filter((c) => /^(params|metrics)\..+/.test(c));
  return [...new Set(names)];
}

/** The view in `params`; the columns from `stored` (localStorage) when the URL has none. */
export function viewFrom(params: URLSearchParams, stored: string | null = null): RunsView {
  const order = params.get("order");
  const view: RunsView = {
    q: params.get("q") ?? "",
    sort: params.get("sort") || DEFAULT_SORT,
    order: order === "asc" ? "asc" : "desc",
    columns: parseColumns(params.get("columns")) ?? parseColumns(stored),
  };
  for (const key of ["status", "pipeline", "experiment"] as const) {
    const value = params.get(key);
    if (value) view[key] = value;
  }
  return view;
}

/** The URL parameters of a view, leaving out what is the default. */
export function viewToParams(view: RunsView): URLSearchParams {
  const out = new URLSearchParams();
  if (view.q.trim()) out.set("q", view.q.trim());
  if (view.sort !== DEFAULT_SORT || view.order !== "desc") {
    out.set("sort", view.sort);
    out.set("order", view.order);
  }
  if (view.columns !== null) out.set("columns", view.columns.join(","));
  for (const key of ["status", "pipeline", "experiment"] as const) {
    const value = view[key];
    if (value) out.set(key, value);
  }
  return out;
}

/** Clicking a header: the same field flips its order, another field starts descending. */
export function nextSort(view: Pick<RunsView, "sort" | "order">, field: string): Pick<RunsView, "sort" | "order"> {
  if (view.sort === field) return { sort: field, order: view.order === "desc" ? "asc" : "desc" };
  return { sort: field, order: "desc" };
}

/** Columns shown before the user chose any: the first few params and metrics recorded. */
export function defaultColumns(available: readonly string[], perKind = 4): string[] {
  const params = available.filter((c) => c.startsWith("params.")).slice(0, perKind);
  const metrics = available.filter((c) => c.startsWith("metrics.")).slice(0, perKind);
  return [...params, ...metrics];
}

/** `columns` with `name` added (at the end) or removed. */
export function toggleColumn(columns: readonly string[], name: string): string[] {
  return columns.includes(name) ? columns.filter((c) => c !== name) : [...columns, name];
}

/** `params.alpha` -> ["params", "alpha"]. */
export function splitColumn(column: string): [kind: "params" | "metrics", name: string] {
  const dot = column.indexOf(".");
  return [column.slice(0, dot) === "metrics" ? "metrics" : "params", column.slice(dot + 1)];
}
