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
  /** `tags`: the step's tags, sorted ([] while it runs, or for a run recorded without them).
   * `elements`: a mapped step's elements recorded so far, by status (folded into its node). */
  nodes: Array<{ id: string; status: string; tags?: string[]; elements?: Record<string, number> | null }>;
  edges: Array<[string, string]>;
}

export interface StepLogs {
  run_id: string;
  step: string;
  logs: string;
  traceback: string | null;
  /** True while the step runs: `logs` is its output so far (forwarded about twice a second). */
  live?: boolean;
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

// -- artifact previews and search, the model registry page (pages/artifact, pages/artifacts,
// pages/models) -------------------------------------------------------------------------

export type Cell = string | number | boolean | null;

/** Fields the artifact list and detail also send (declaration merging with Artifact above). */
export interface Artifact {
  asset_type?: string | null;
  pipeline?: string | null;
  asset_name?: string | null;
  tags?: string[];
}

export interface ArtifactSearchPage {
  items: Artifact[];
  next_cursor: string | null;
}

export interface PreviewStats {
  count?: number | null;
  nulls?: number | null;
  nan?: number | null;
  inf?: number | null;
  mean?: number | null;
  std?: number | null;
  min?: number | string | null;
  max?: number | string | null;
  unique?: number | null;
  top?: string | null;
}

export interface PreviewColumn {
  name: string;
  dtype: string;
  stats?: PreviewStats | null;
}

export interface PreviewHistogram {
  edges: Array<number | null>;
  counts: number[];
  values: number;
  sampled: boolean;
}

export type PreviewKind =
  | "frame"
  | "array"
  | "image"
  | "json"
  | "text"
  | "model"
  | "none"
  | "too_large"
  | "timed_out"
  | "unsafe";

/** GET /api/v1/artifacts/{id}/preview: which fields are set depends on `kind`. */
export interface ArtifactPreview {
  kind: PreviewKind;
  artifact_id: string;
  size?: number | null;
  /** The distribution whose materializer wrote the artifact, and the format it wrote. */
  materializer_distribution?: string | null;
  materializer_format?: string | null;
  message?: string | null;
  limit?: number | null;
  timeout?: number | null;
  truncated?: boolean;
  length?: number | null;
  rows?: number | null;
  total_columns?: number | null;
  columns?: PreviewColumn[] | null;
  head_columns?: string[] | null;
  head_index?: Cell[] | null;
  head?: Cell[][] | null;
  shape?: number[] | null;
  dtype?: string | null;
  values?: Cell[] | null;
  stats?: PreviewStats | null;
  histogram?: PreviewHistogram | null;
  media_type?: string | null;
  width?: number | null;
  height?: number | null;
  image_url?: string | null;
  text?: string | null;
  class_name?: string | null;
  framework?: string | null;
  parameter_count?: number | null;
  params?: Record<string, Cell> | null;
  n_features_in?: number | null;
  n_classes?: number | null;
  coef_shape?: number[] | null;
  facts?: Record<string, Cell> | null;
}

export interface ModelVersion {
  name: string;
  version: number;
  artifact_id: string;
  run_id: string;
  stage: string;
  created_at: number;
  created_by: string;
  description?: string;
}

export interface StageChange {
  name: string;
  version: number;
  action: string;
  from_stage: string | null;
  to_stage: string;
  user: string;
  at: number;
}

export interface ModelDetail {
  name: string;
  created_at: number;
  description: string;
  latest_version: number;
  stages: Record<string, number>;
  versions: ModelVersion[];
  history: StageChange[];
}

export interface StageChanges {
  changes: StageChange[];
}

export interface ModelCompareSide {
  version: number;
  run_id: string;
  artifact_id: string;
  stage: string;
  created_at?: number | null;
  created_by?: string | null;
  pipeline?: string | null;
  run_status?: string | null;
}

export interface ModelCompareValue {
  name: string;
  a: unknown;
  b: unknown;
  delta: number | null;
  changed: boolean;
}

export interface ModelCompareData {
  artifact_id: string;
  name: string;
  step?: string | null;
  asset_type?: string | null;
}

export interface ModelComparison {
  name: string;
  a: ModelCompareSide;
  b: ModelCompareSide;
  params: ModelCompareValue[];
  params_changed: string[];
  metrics: ModelCompareValue[];
  training_data_same: boolean;
  training_data_a: ModelCompareData[];
  training_data_b: ModelCompareData[];
  ancestors_a: number;
  ancestors_b: number;
  artifacts_same: boolean;
}
