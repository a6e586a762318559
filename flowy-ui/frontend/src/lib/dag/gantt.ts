// A Gantt timeline of a run's steps, from their start and end times. Pure.
//
// Rows in start order (ties by name); a running step's bar ends at `now`, so it grows as
// the page re-renders. Steps that never started (cached, skipped, pending) have no bar and
// come last.

export interface TimedStep {
  step: string;
  status: string;
  started_at: number | null;
  finished_at: number | null;
}

export interface GanttRow {
  step: string;
  status: string;
  start: number | null;
  end: number | null;
  /** Bar position and width in pixels (null: no bar). */
  x: number | null;
  width: number | null;
  running: boolean;
}

export interface GanttLayout {
  rows: GanttRow[];
  t0: number | null;
  t1: number | null;
  /** Tick times (epoch seconds) and their x positions. */
  ticks: Array<{ t: number; x: number }>;
}

/** A round tick step (1, 2, 5 x 10^n seconds) giving about `count` ticks over `span`. */
export function tickStep(span: number, count = 6): number {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

export function layoutGantt(steps: readonly TimedStep[], width: number, now: number, minBar = 2): GanttLayout {
  const started = steps.filter((s) => s.started_at !== null && s.started_at > 0);
  const rest = steps.filter((s) => !(s.started_at !== null && s.started_at > 0));
  started.sort((a, b) => (a.started_at as number) - (b.started_at as number) || a.step.localeCompare(b.step));
  const endOf = (s: TimedStep) =>
    s.finished_at ?? (s.status === "running" || s.status === "pending" ? now : (s.started_at as number));
  if (started.length === 0) {
    return { rows: rest.map((s) => empty(s)), t0: null, t1: null, ticks: [] };
  }
  const t0 = Math.min(...started.map((s) => s.started_at as number));
  const t1 = Math.max(t0 + 1e-3, ...started.map(endOf));
  const scale = (t: number) => ((t - t0) / (t1 - t0)) * width;
  const rows: GanttRow[] = started.map((s) => {
    const start = s.started_at as number;
    const end = Math.max(start, endOf(s));
    const x = scale(start);
    return {
      step: s.step,
      status: s.status,
      start,
      end,
      x,
      width: Math.min(Math.max(minBar, scale(end) - x), Math.max(minBar, width - x)),
      running: s.finished_at === null && s.status === "running",
    };
  });
  const stepT = tickStep(t1 - t0);
  const ticks: Array<{ t: number; x: number }> = [];
  for (let t = 0; t <= t1 - t0 + 1e-9 && ticks.length < 50; t += stepT) ticks.push({ t: t0 + t, x: scale(t0 + t) });
  return { rows: [...rows, ...rest.map((s) => empty(s))], t0, t1, ticks };
}

function empty(s: TimedStep): GanttRow {
  return { step: s.step, status: s.status, start: null, end: null, x: null, width: null, running: false };
}
