// The shapes of GET /api/v1/experiments/{name} and GET /api/v1/compare, as these pages read
// them (api/schemas.py's ExperimentRuns and Comparison).
import type { MetricValue, RunSummary } from "../../api/types";

export interface ExperimentRuns {
  name: string;
  items: RunSummary[];
  next_cursor: string | null;
  param_names: string[];
  metric_names: string[];
}

export interface CompareRun {
  run_id: string;
  pipeline: string;
  experiment: string;
  status: string;
  started_at: number;
  finished_at: number | null;
}

export interface CompareRow {
  name: string;
  /** One value per run, in `runs` order; null where a run lacks it. */
  values: unknown[];
  changed: boolean;
}

export interface CompareBest {
  metric: string;
  mode: "max" | "min";
  run_id: string | null;
  value: MetricValue | null;
}

export interface Comparison {
  runs: CompareRun[];
  params: CompareRow[];
  params_total: number;
  metrics: CompareRow[];
  metric_names: string[];
  series: Record<string, Record<string, Array<[number, MetricValue]>>>;
  series_total: Record<string, Record<string, number>>;
  points: number;
  best: CompareBest | null;
}
