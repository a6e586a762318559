// What a comparison shows, read from and written to the URL so it can be shared:
// /experiments/<name>/compare?runs=a,b,c&metric=r2&mode=max&all=1&series=loss,r2
// Pure functions.

export type Mode = "max" | "min";

export interface CompareState {
  runs: string[];
  metric: string | null;
  mode: Mode;
  /** Show every parameter, not only those that differ. */
  all: boolean;
  /** Metric series to overlay (empty: the ranking metric's). */
  series: string[];
}

/** A comma-separated list: blanks dropped, each name once, in the order given. */
export function splitList(raw: string | null | undefined): string[] {
  if (!raw) return [];
  return [...new Set(raw.split(",").map((s) => s.trim()).filter(Boolean))];
}

export function readState(params: URLSearchParams): CompareState {
  return {
    runs: splitList(params.get("runs")),
    metric: params.get("metric") || null,
    mode: params.get("mode") === "min" ? "min" : "max",
    all: params.get("all") === "1" || params.get("all") === "true",
    series: splitList(params.get("series")),
  };
}

export function writeState(state: CompareState): URLSearchParams {
  const out = new URLSearchParams();
  out.set("runs", state.runs.join(","));
  if (state.metric) out.set("metric", state.metric);
  if (state.mode !== "max") out.set("mode", state.mode);
  if (state.all) out.set("all", "1");
  if (state.series.length) out.set("series", state.series.join(","));
  return out;
}

/** The API query for a state (`points` per series and run). */
export function compareQuery(state: CompareState, points: number): string {
  const q = new URLSearchParams({ runs: state.runs.join(","), mode: state.mode, points: String(points) });
  if (state.metric) q.set("metric", state.metric);
  if (state.all) q.set("all", "true");
  const series = state.series.length ? state.series : state.metric ? [state.metric] : [];
  if (series.length) q.set("series", series.join(","));
  return `/api/v1/compare?${q.toString()}`;
}

/** Add or remove `runId` from a selection, keeping the order runs were picked in. */
export function toggle(selection: readonly string[], runId: string): string[] {
  return selection.includes(runId) ? selection.filter((id) => id !== runId) : [...selection, runId];
}

/** A colour per run, spread around the hue circle (50 runs stay distinguishable enough). */
export function runColour(index: number, count: number): string {
  const hue = Math.round((index * 360) / Math.max(1, count) + (index % 2) * 17) % 360;
  const light = index % 3 === 0 ? 38 : index % 3 === 1 ? 48 : 30;
  return `hsl(${hue}, 70%, ${light}%)`;
}
