// TanStack Query hooks, one per API resource. The runs list and a run's page are kept
// current by the live feed (api/live.ts marks their queries stale as changes arrive);
// logs and metrics of a running run still refetch every REFRESH_MS.
import { useInfiniteQuery, useQueries, useQuery } from "@tanstack/react-query";
import { useMemo, useRef } from "react";
import { isLive } from "../lib/format";
import { splitColumn } from "../lib/columns";
import { buildQuery, flattenPages, mergeFresh, nextCursor } from "../lib/pagination";
import { enc, getJson } from "./client";
import type {
  Artifact,
  Dag,
  Experiment,
  Health,
  Items,
  Lineage,
  MetricSeries,
  MetricValue,
  Record_,
  RunDetail,
  RunPage,
  RunSummary,
  StepLogs,
} from "./types";

export const REFRESH_MS = 3000;
/** How often the runs list looks for new runs while none it shows is live. */
export const IDLE_REFRESH_MS = 10_000;
export const PAGE_SIZE = 50;
/** Running runs below the first page refreshed one by one, at most this many. */
const MAX_TRACKED = 20;

export interface RunFilters {
  status?: string;
  pipeline?: string;
  experiment?: string;
  /** The filter language (`metrics.r2>0.9 params.alpha=0.1`); the server parses it. */
  q?: string;
  /** A field (`started`, `metrics.r2`, `params.alpha`...) and its order. */
  sort?: string;
  order?: "asc" | "desc";
  /** Comma-separated `params.<name>` / `metrics.<name>` to receive (all when absent). */
  columns?: string;
}

/** A page of the runs list; the first one of a request naming `columns` lists them all. */
export interface RunListPage extends RunPage {
  available_columns?: string[] | null;
}

/** Every `params.<name>` / `metrics.<name>` recorded: what the column chooser offers. */
export function useRunColumns() {
  return useQuery({
    queryKey: ["runs-columns"],
    queryFn: async ({ signal }) =>
      (await getJson<RunListPage>("/api/v1/runs?limit=1&columns=", signal)).available_columns ?? [],
    staleTime: 60_000,
  });
}

const runKey = (run: RunSummary) => run.run_id;

export function useHealth() {
  return useQuery({
    queryKey: ["healthz"],
    queryFn: ({ signal }) => getJson<Health>("/healthz", signal),
    staleTime: 60_000,
  });
}

/**
 * The runs matching `filters`, page by page ("load more", or scrolling near the end),
 * sorted by the server, kept live: the first page is fetched again every few seconds
 * while any loaded run is running, every ten otherwise (new runs appear on top of a
 * newest-first list), and running runs further down are fetched one by one.
 */
export function useRunsList(filters: RunFilters, enabled = true) {
  const queryClient = useQueryClient();
  const query = (cursor: string | null) =>
    `/api/v1/runs${buildQuery({ limit: PAGE_SIZE, cursor, ...filters })}`;
  const newestFirst = (filters.sort ?? "started") === "started" && (filters.order ?? "desc") === "desc";
  const pages = useInfiniteQuery({
    queryKey: ["runs", filters],
    queryFn: async ({ pageParam, signal }) => {
      const page = await getJson<RunListPage>(query(pageParam), signal);
      // The first page is also the head query's answer (see below).
      if (pageParam === null) queryClient.setQueryData(["runs-head", filters], page);
      return page;
    },
    initialPageParam: null as string | null,
    getNextPageParam: (last: RunListPage) => last.next_cursor || null,
    enabled,
    // Fetched again when the page is opened again; while it is open, the head query
    // below keeps it live instead of every loaded page being refetched.
    refetchOnWindowFocus: false,
  });
  const loaded = useMemo(() => flattenPages(pages.data?.pages ?? [], runKey), [pages.data]);
  // Whether any run shown is live, as of the last render (rows are computed below, from
  // the queries this one drives); the refetch interval is read again after each render.
  const liveRef = useRef(false);
  const head = useQuery({
    queryKey: ["runs-head", filters],
    queryFn: ({ signal }) => getJson<RunListPage>(query(null), signal),
    // New runs (started by `flowy run` anywhere) appear on top: the live feed (useLive in
    // App) marks this query stale on every run-level change; nothing polls.
    enabled: enabled && pages.isSuccess,
    // Seeded with the first page (below): no second request for it at once; the live
    // feed invalidates it on any change.
    staleTime: IDLE_REFRESH_MS,
  });
  const headIds = useMemo(() => new Set((head.data?.items ?? []).map(runKey)), [head.data]);
  const deeper = loaded
    .filter((run) => isLive(run.status) && !headIds.has(run.run_id))
    .slice(0, MAX_TRACKED);
  const tracked = useQueries({
    queries: deeper.map((run) => ({
      queryKey: ["run", run.run_id],
      // Refreshed by the live feed's changes of that run (["run", id]), never on a timer.
      queryFn: ({ signal }: { signal: AbortSignal }) =>
        getJson<RunDetail>(`/api/v1/runs/${enc(run.run_id)}`, signal),
    })),
  });
  const trackedRuns = tracked.flatMap((t) => (t.data ? [t.data as RunSummary] : []));
  // useQueries returns a new array each render; recompute only when a copy changed.
  const trackedStamp = tracked.map((t) => t.dataUpdatedAt).join(",");
  const rows = useMemo(
    () =>
      mergeFresh(
        mergeFresh(loaded, head.data?.items ?? [], runKey, newestFirst),
        // A run's detail carries every param and metric: keep the chosen columns' values.
        filters.columns === undefined ? trackedRuns : trackedRuns.map((run) => onlyColumns(run, filters.columns ?? "")),
        runKey,
      ),
    [loaded, head.data, trackedStamp, newestFirst], // eslint-disable-line react-hooks/exhaustive-deps
  );
  const anyLive = useMemo(() => rows.some((run) => isLive(run.status)), [rows]);
  liveRef.current = anyLive;
  return {
    rows,
    error: pages.error ?? head.error,
    isLoading: pages.isLoading,
    hasMore: nextCursor(pages.data?.pages ?? []) !== null,
    loadMore: () => void pages.fetchNextPage(),
    isLoadingMore: pages.isFetchingNextPage,
    live: anyLive,
    availableColumns: pages.data?.pages[0]?.available_columns ?? null,
  };
}

/** A run's detail (every param and metric) cut to the chosen `columns`, as the list sends it. */
function onlyColumns(run: RunSummary, columns: string): RunSummary {
  const params: Record<string, unknown> = {};
  const metrics: Record<string, MetricValue> = {};
  for (const column of columns.split(",")) {
    const [kind, name] = splitColumn(column);
    if (kind === "params" && name in (run.params ?? {})) params[name] = run.params[name];
    if (kind === "metrics" && run.metrics && name in run.metrics) {
      const value = run.metrics[name];
      if (value !== undefined) metrics[name] = value;
    }
  }
  return { ...run, params, metrics };
}

export function useRun(runId: string) {
  return useQuery({
    queryKey: ["run", runId],
    queryFn: ({ signal }) => getJson<RunDetail>(`/api/v1/runs/${enc(runId)}`, signal),
    // Kept current by the live feed (useLive on the run page), not by polling.
  });
}

export function useDag(runId: string, live: boolean) {
  return useQuery({
    queryKey: ["dag", runId],
    queryFn: ({ signal }) => getJson<Dag>(`/api/v1/runs/${enc(runId)}/dag`, signal),
    // Kept current by the live feed's step changes (useLive on the run page); a finished
    // run's DAG never changes again.
    staleTime: live ? 0 : Infinity,
  });
}

export function useStepLogs(runId: string, step: string | null, live: boolean) {
  return useQuery({
    queryKey: ["logs", runId, step],
    queryFn: ({ signal }) =>
      getJson<StepLogs>(`/api/v1/runs/${enc(runId)}/steps/${enc(step ?? "")}/logs`, signal),
    enabled: step !== null,
    refetchInterval: live ? REFRESH_MS : false,
  });
}

export function useMetrics(runId: string, live: boolean) {
  return useQuery({
    queryKey: ["metrics", runId],
    queryFn: ({ signal }) => getJson<MetricSeries>(`/api/v1/runs/${enc(runId)}/metrics?points=500`, signal),
    refetchInterval: live ? REFRESH_MS : false,
  });
}

export function useArtifact(artifactId: string) {
  return useQuery({
    queryKey: ["artifact", artifactId],
    queryFn: ({ signal }) => getJson<Artifact>(`/api/v1/artifacts/${enc(artifactId)}`, signal),
  });
}

export function useLineage(artifactId: string) {
  return useQuery({
    queryKey: ["lineage", artifactId],
    queryFn: ({ signal }) =>
      getJson<Lineage>(`/api/v1/artifacts/${enc(artifactId)}/lineage?direction=both&depth=10`, signal),
  });
}

export function useExperiments() {
  return useQuery({
    queryKey: ["experiments"],
    queryFn: ({ signal }) => getJson<Items<Experiment>>("/api/v1/experiments", signal),
  });
}

/** A list endpoint's items, whether it answers {"items": [...]} or a bare array. */
export function itemsOf(body: unknown): Record_[] {
  if (Array.isArray(body)) return body as Record_[];
  if (body && typeof body === "object" && Array.isArray((body as Items<Record_>).items)) {
    return (body as Items<Record_>).items;
  }
  return [];
}

export function useModels() {
  return useQuery({
    queryKey: ["models"],
    queryFn: ({ signal }) => getJson<unknown>("/api/v1/models", signal),
    select: itemsOf,
  });
}

export function useModel(name: string) {
  return useQuery({
    queryKey: ["model", name],
    queryFn: ({ signal }) => getJson<Record_>(`/api/v1/models/${enc(name)}`, signal),
  });
}

export function useStacks() {
  return useQuery({
    queryKey: ["stacks"],
    queryFn: ({ signal }) => getJson<unknown>("/api/v1/stacks", signal),
  });
}

export function usePlugins() {
  return useQuery({
    queryKey: ["plugins"],
    queryFn: ({ signal }) => getJson<unknown>("/api/v1/plugins", signal),
    select: itemsOf,
  });
}

// -- artifact previews and search, the model registry page ---------------------------------
// (pages/artifact, pages/artifacts, pages/models). Artifacts never change once written, so
// their previews are never fetched twice; a model's page is refetched after each write.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { postJson, shouldRetry } from "./client";
import type {
  ArtifactPreview,
  ArtifactSearchPage,
  ModelComparison,
  ModelDetail,
  StageChanges,
} from "./types";

export interface ArtifactFilters {
  name?: string;
  type?: string;
  run?: string;
  pipeline?: string;
}

export const ARTIFACT_PAGE_SIZE = 50;

export function useArtifactPreview(artifactId: string) {
  return useQuery({
    queryKey: ["artifact-preview", artifactId],
    queryFn: ({ signal }) =>
      getJson<ArtifactPreview>(`/api/v1/artifacts/${enc(artifactId)}/preview`, signal),
    staleTime: Infinity,
    retry: shouldRetry,
  });
}

/** Artifacts matching `filters`, newest first, page by page ("load more"). */
export function useArtifactSearch(filters: ArtifactFilters) {
  const pages = useInfiniteQuery({
    queryKey: ["artifacts", filters],
    queryFn: ({ pageParam, signal }) =>
      getJson<ArtifactSearchPage>(
        `/api/v1/artifacts${buildQuery({ limit: ARTIFACT_PAGE_SIZE, cursor: pageParam, ...filters })}`,
        signal,
      ),
    initialPageParam: null as string | null,
    getNextPageParam: (last: ArtifactSearchPage) => last.next_cursor || null,
    retry: shouldRetry,
  });
  const rows = useMemo(() => (pages.data?.pages ?? []).flatMap((p) => p.items), [pages.data]);
  return {
    rows,
    error: pages.error,
    isLoading: pages.isLoading,
    hasMore: pages.hasNextPage,
    loadMore: () => void pages.fetchNextPage(),
    isLoadingMore: pages.isFetchingNextPage,
  };
}

export function useModelDetail(name: string) {
  return useQuery({
    queryKey: ["model-detail", name],
    queryFn: ({ signal }) => getJson<ModelDetail>(`/api/v1/models/${enc(name)}`, signal),
    retry: shouldRetry,
  });
}

export function useModelCompare(name: string, a: number | null, b: number | null) {
  return useQuery({
    queryKey: ["model-compare", name, a, b],
    queryFn: ({ signal }) =>
      getJson<ModelComparison>(`/api/v1/models/${enc(name)}/compare${buildQuery({ a, b })}`, signal),
    enabled: a !== null && b !== null,
    retry: shouldRetry,
  });
}

/** Promote (`{version, stage}`) or roll back (no body) a model; its queries refetch after. */
export function useStageChange(name: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (change: { action: "promote"; version: number; stage: string } | { action: "rollback" }) =>
      change.action === "promote"
        ? postJson<StageChanges>(`/api/v1/models/${enc(name)}/promote`, {
            version: change.version,
            stage: change.stage,
          })
        : postJson<StageChanges>(`/api/v1/models/${enc(name)}/rollback`),
    onSettled: () =>
      Promise.all([
        client.invalidateQueries({ queryKey: ["model-detail", name] }),
        client.invalidateQueries({ queryKey: ["model", name] }),
        client.invalidateQueries({ queryKey: ["model-compare", name] }),
        client.invalidateQueries({ queryKey: ["models"] }),
      ]),
  });
}
