// The shapes of flowy-ui's JSON API (/api/v1), as this UI reads them.
// Written by hand for this first slice: they are to be generated from the server's
// OpenAPI schema (openapi-typescript) once that schema is stable, and this file replaced.

export type Scalar = string | number | boolean | null;
/** A metric value: a number, or "NaN" / "Infinity" / "-Infinity". */
export type MetricValue = number | string;

export interface Health {
  status: string;
  version?: string;
}

export interface RunSummary {
  run_id: string;
  pipeline: string;
  status: string;
  started_at: number | null;
  finished_at: number | null;
  duration: number | null;
  experiment: string | null;
  stack: string | null;
  params: Record<string, unknown>;
  metrics: Record<string, MetricValue>;
}

export interface RunPage {
  items: RunSummary[];
  next_cursor: string | null;
}

export interface StepRun {
  step: string;
  status: string;
  started_at: number | null;
  finished_at: number | null;
  duration?: number | null;
  attempts: number | null;
  error: string | null;
  error_type: string | null;
  outputs: Record<string, string>;
  inputs: Record<string, string>;
}

export interface RunDetail extends RunSummary {
  steps: StepRun[];
  git?: Record<string, unknown>;
  environment?: Record<string, unknown>;
  host?: string | null;
  [extra: string]: unknown;
}

export interface Dag {
  nodes: Array<{ id: string; status: string }>;
  edges: Array<[string, string]>;
}

export interface StepLogs {
  run_id: string;
  step: string;
  logs: string;
  traceback: string | null;
}

export interface MetricSeries {
  series: Record<string, Array<[number, MetricValue]>>;
}

export interface Artifact {
  artifact_id: string;
  name: string;
  type_name: string | null;
  size: number | null;
  checksum: string | null;
  materializer: string | null;
  run_id: string | null;
  step: string | null;
  created_at: number | null;
  metadata: Record<string, unknown> | null;
}

export interface Lineage {
  nodes: Artifact[];
  edges: Array<[string, string]>;
}

export interface Experiment {
  name: string;
  runs: number;
  last_run_at: number | null;
}

export interface Items<T> {
  items: T[];
}

/** Models, stacks and plugins: read generically until their schemas are settled. */
export type Record_ = Record<string, unknown>;

export interface ApiErrorBody {
  error: { code: string; message: string };
}
