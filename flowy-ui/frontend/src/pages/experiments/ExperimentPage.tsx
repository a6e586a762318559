import { useInfiniteQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { enc, getJson, shouldRetry } from "../../api/client";
import { useExperiments } from "../../api/queries";
import { ErrorBox, Loading } from "../../components/ErrorBox";
import { StatusBadge } from "../../components/StatusBadge";
import { formatCell, formatDuration, formatTime, shortId, toNumber } from "../../lib/format";
import { toggle, writeState } from "./compareState";
import type { ExperimentRuns } from "./compareTypes";
import "./experiments.css";

const PAGE = 100;

/**
 * An experiment's runs with their parameters and metrics as columns, a page at a time.
 * Tick runs (2 to 50, or more) and compare them.
 */
export function ExperimentPage() {
  const { name = "" } = useParams();
  const navigate = useNavigate();
  const [selected, setSelected] = useState<string[]>([]);
  const pages = useInfiniteQuery({
    queryKey: ["experiment-runs", name],
    queryFn: ({ pageParam, signal }) =>
      getJson<ExperimentRuns>(
        `/api/v1/experiments/${enc(name)}?limit=${PAGE}${pageParam ? `&cursor=${enc(pageParam)}` : ""}`,
        signal,
      ),
    initialPageParam: null as string | null,
    getNextPageParam: (last: ExperimentRuns) => last.next_cursor || null,
    retry: shouldRetry,
  });
  const loaded = useMemo(() => pages.data?.pages ?? [], [pages.data]);
  const runs = useMemo(() => loaded.flatMap((p) => p.items), [loaded]);
  const paramNames = useMemo(() => [...new Set(loaded.flatMap((p) => p.param_names))], [loaded]);
  const metricNames = useMemo(() => [...new Set(loaded.flatMap((p) => p.metric_names))], [loaded]);
  const compare = () => {
    // Rank by the first metric that a picked run has a finite value of.
    const picked = runs.filter((r) => selected.includes(r.run_id));
    const metric = metricNames.find((m) => picked.some((r) => Number.isFinite(toNumber(r.metrics[m])))) ?? null;
    const query = writeState({ runs: selected, metric, mode: "max", all: false, series: [] });
    navigate(`/experiments/${enc(name)}/compare?${query.toString()}`);
  };
  const allOnPage = runs.length > 0 && runs.every((r) => selected.includes(r.run_id));
  return (
    <>
      <p className="crumbs">
        <Link to="/experiments">Experiments</Link> /
      </p>
      <h1>{name}</h1>
      <ErrorBox error={pages.error} />
      <div className="compare-bar">
        <button type="button" data-testid="compare-button" disabled={selected.length < 2} onClick={compare}>
          Compare {selected.length} runs
        </button>
        {selected.length ? (
          <button type="button" className="link" onClick={() => setSelected([])}>
            clear
          </button>
        ) : null}
        <span className="muted"> tick 2 or more runs</span>
      </div>
      {pages.isLoading ? <Loading what="runs" /> : null}
      {runs.length ? (
        <div className="compare-scroll">
          <table className="records experiment-runs" data-testid="experiment-runs">
            <thead>
              <tr>
                <th scope="col">
                  <input
                    type="checkbox"
                    aria-label="select every loaded run"
                    checked={allOnPage}
                    onChange={() => setSelected(allOnPage ? [] : runs.map((r) => r.run_id))}
                  />
                </th>
                <th scope="col">Run</th>
                <th scope="col">Status</th>
                <th scope="col">Started</th>
                <th scope="col">Duration</th>
                {paramNames.map((p) => (
                  <th key={`p:${p}`} scope="col" className="param-col">
                    {p}
                  </th>
                ))}
                {metricNames.map((m) => (
                  <th key={`m:${m}`} scope="col" className="metric-col">
                    {m}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => (
                <tr key={r.run_id} data-testid="experiment-run" data-run-id={r.run_id} className={selected.includes(r.run_id) ? "selected" : undefined}>
                  <td>
                    <input
                      type="checkbox"
                      data-testid="select-run"
                      aria-label={`select run ${r.run_id}`}
                      checked={selected.includes(r.run_id)}
                      onChange={() => setSelected((s) => toggle(s, r.run_id))}
                    />
                  </td>
                  <td className="mono">
                    <Link to={`/runs/${enc(r.run_id)}`}>{shortId(r.run_id)}</Link>
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td className="mono">{formatTime(r.started_at)}</td>
                  <td className="num">{formatDuration(r.duration)}</td>
                  {paramNames.map((p) => (
                    <td key={`p:${p}`} className="mono">
                      {formatCell(r.params[p])}
                    </td>
                  ))}
                  {metricNames.map((m) => (
                    <td key={`m:${m}`} className="num mono">
                      {formatCell(r.metrics[m])}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {pages.hasNextPage ? (
        <button type="button" onClick={() => void pages.fetchNextPage()} disabled={pages.isFetchingNextPage}>
          {pages.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      ) : null}
    </>
  );
}

export function ExperimentsPage() {
  const experiments = useExperiments();
  if (experiments.isLoading) return <Loading what="experiments" />;
  const items = experiments.data?.items ?? [];
  return (
    <>
      <h1>Experiments</h1>
      <ErrorBox error={experiments.error} />
      {items.length === 0 && !experiments.error ? <p className="muted">No experiments yet.</p> : null}
      {items.length > 0 ? (
        <table className="records" data-testid="experiments-table">
          <thead>
            <tr>
              <th scope="col">Experiment</th>
              <th scope="col">Runs</th>
              <th scope="col">Last run</th>
            </tr>
          </thead>
          <tbody>
            {items.map((e) => (
              <tr key={e.name} data-testid="experiment-row">
                <td>
                  <Link to={`/experiments/${enc(e.name)}`}>{e.name}</Link>
                </td>
                <td className="num">{e.runs}</td>
                <td className="mono">{formatTime(e.last_run_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}
