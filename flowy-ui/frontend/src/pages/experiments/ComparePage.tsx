import { useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { enc, getJson, shouldRetry } from "../../api/client";
import { CompareTable, type CompareColumn } from "../../components/CompareTable";
import { ErrorBox, Loading } from "../../components/ErrorBox";
import { ParallelCoordinates } from "../../components/ParallelCoordinates";
import { StatusBadge } from "../../components/StatusBadge";
import { formatValue, shortId } from "../../lib/format";
import { compareQuery, readState, runColour, writeState, type CompareState, type Mode } from "./compareState";
import type { Comparison } from "./compareTypes";
import { OverlayChart } from "./OverlayChart";
import { bestIndex, type ParallelInput } from "./parallel";
import "./experiments.css";

/** Points per run and series: 50 runs x 300 points stays light to draw. */
const POINTS = 300;

/**
 * 2-50 (or more) runs side by side, all from one GET /api/v1/compare: parameters that
 * differ (a toggle for all), last metric values, the chosen metrics' series overlaid,
 * parallel coordinates of the parameters against the chosen metric, the best run marked.
 * Everything chosen lives in the URL, so a comparison can be shared.
 */
export default function ComparePage() {
  const { name } = useParams();
  const [params, setParams] = useSearchParams();
  // The controls read a copy of the URL's state that changes at once: the router applies
  // URL changes in a transition, and a controlled checkbox must not flip back meanwhile.
  const fromUrl = useMemo(() => readState(params), [params]);
  const [state, setState] = useState(fromUrl);
  useEffect(() => setState(fromUrl), [fromUrl]); // back/forward, an edited address
  const update = (patch: Partial<CompareState>) => {
    const next = { ...state, ...patch };
    setState(next);
    setParams(writeState(next), { replace: true });
  };
  const enough = state.runs.length >= 2;
  const query = useQuery({
    queryKey: ["compare", state.runs, state.metric, state.mode, state.all, state.series],
    queryFn: ({ signal }) => getJson<Comparison>(compareQuery(state, POINTS), signal),
    enabled: enough,
    retry: shouldRetry,
    placeholderData: (previous) => previous,
  });
  const data = query.data;
  const colours = useMemo(
    () => new Map((data?.runs ?? []).map((r, i, all) => [r.run_id, runColour(i, all.length)])),
    [data],
  );
  const columns: CompareColumn[] = (data?.runs ?? []).map((r) => ({ runId: r.run_id, colour: colours.get(r.run_id) }));
  const bestRunId = data?.best?.run_id ?? null;
  const eligible = (data?.runs ?? []).map((r) => r.status === "completed");
  const parallel = useMemo<ParallelInput | null>(() => {
    if (!data) return null;
    const metricRow = state.metric ? data.metrics.find((m) => m.name === state.metric) : undefined;
    return {
      runIds: data.runs.map((r) => r.run_id),
      params: data.params.filter((p) => p.changed),
      metric: metricRow ? { name: metricRow.name, values: metricRow.values } : null,
    };
  }, [data, state.metric]);

  const crumbs = (
    <p className="crumbs">
      <Link to="/experiments">Experiments</Link> /{" "}
      {name ? (
        <>
          <Link to={`/experiments/${enc(name)}`}>{name}</Link> /
        </>
      ) : null}
    </p>
  );
  if (!enough) {
    return (
      <>
        {crumbs}
        <h1>Compare runs</h1>
        <p className="error" role="alert">
          Pick at least two runs to compare{name ? " on the experiment's page" : ""}: the address needs
          <span className="mono"> ?runs=&lt;id&gt;,&lt;id&gt;</span>.
        </p>
      </>
    );
  }
  if (query.isLoading) return <Loading what="the comparison" />;
  const seriesShown = data ? Object.keys(data.series) : [];
  // The boxes follow the URL at once (the series arrive with the next answer).
  const seriesChosen = state.series.length ? state.series : state.metric ? [state.metric] : seriesShown;
  return (
    <>
      {crumbs}
      <h1>
        Compare {state.runs.length} runs{name ? ` of ${name}` : ""}
      </h1>
      <ErrorBox error={query.error} />
      {data ? (
        <>
          <form className="compare-controls" aria-label="Comparison options" onSubmit={(e) => e.preventDefault()}>
            <label>
              Best by{" "}
              <select
                data-testid="compare-metric"
                value={state.metric ?? ""}
                onChange={(e) => update({ metric: e.target.value || null })}
              >
                <option value="">(none)</option>
                {data.metric_names.map((m) => (
                  <option key={m} value={m}>
                    {m}
                  </option>
                ))}
              </select>
            </label>
            <label>
              <select data-testid="compare-mode" value={state.mode} onChange={(e) => update({ mode: e.target.value as Mode })}>
                <option value="max">higher is better</option>
                <option value="min">lower is better</option>
              </select>
            </label>
            <label>
              <input type="checkbox" data-testid="compare-all" checked={state.all} onChange={(e) => update({ all: e.target.checked })} />{" "}
              all parameters ({data.params_total})
            </label>
            <fieldset className="series-pick">
              <legend>Series</legend>
              {data.metric_names.map((m) => {
                const on = seriesChosen.includes(m);
                return (
                  <label key={m}>
                    <input
                      type="checkbox"
                      data-testid="compare-series"
                      data-metric={m}
                      checked={on}
                      onChange={() =>
                        update({ series: on ? seriesChosen.filter((s) => s !== m) : [...seriesChosen, m] })
                      }
                    />{" "}
                    {m}
                  </label>
                );
              })}
            </fieldset>
          </form>
          {data.best ? (
            <p data-testid="best-run" data-run-id={data.best.run_id ?? ""} data-metric={data.best.metric} data-mode={data.best.mode}>
              Best by <b>{data.best.metric}</b> ({data.best.mode === "max" ? "highest" : "lowest"}):{" "}
              {data.best.run_id ? (
                <>
                  <Link to={`/runs/${enc(data.best.run_id)}`} className="mono">
                    {shortId(data.best.run_id)}
                  </Link>{" "}
                  = <span className="mono">{formatValue(data.best.value)}</span>
                </>
              ) : (
                "no completed run has a finite value"
              )}
            </p>
          ) : null}
          <section aria-label="Runs">
            <h2>Runs</h2>
            <CompareTable
              testId="compare-runs"
              caption="The runs compared"
              columns={columns}
              bestRunId={bestRunId}
              rows={[
                { name: "pipeline", values: data.runs.map((r) => r.pipeline), changed: new Set(data.runs.map((r) => r.pipeline)).size > 1 },
                { name: "experiment", values: data.runs.map((r) => r.experiment), changed: new Set(data.runs.map((r) => r.experiment)).size > 1 },
                { name: "status", values: data.runs.map((r) => r.status), changed: new Set(data.runs.map((r) => r.status)).size > 1 },
              ]}
            />
            <p className="muted">
              {data.runs.map((r) => (
                <StatusBadge key={r.run_id} status={r.status} />
              ))}
            </p>
          </section>
          <section aria-label="Parameters">
            <h2>
              Parameters {state.all ? "" : `that differ (${data.params.length} of ${data.params_total})`}
            </h2>
            <CompareTable testId="compare-params" caption="Parameters" columns={columns} rows={data.params} bestRunId={bestRunId} />
          </section>
          <section aria-label="Metrics">
            <h2>Metrics (last values)</h2>
            <CompareTable
              testId="compare-metrics"
              caption="Metrics"
              columns={columns}
              rows={data.metrics}
              bestRunId={bestRunId}
              bestCell={(row) => (row.name === state.metric ? bestIndex(row.values, state.mode, eligible) : null)}
            />
          </section>
          <section aria-label="Metric series">
            <h2>Series</h2>
            {seriesShown.length === 0 ? <p className="muted">Pick a metric above to overlay its series.</p> : null}
            <div className="charts">
              {seriesShown.map((m) => (
                <OverlayChart key={m} metric={m} series={data.series[m] ?? {}} colours={colours} bestRunId={bestRunId} />
              ))}
            </div>
          </section>
          <section aria-label="Parallel coordinates">
            <h2>Parameters against {state.metric ?? "a metric (pick one above)"}</h2>
            {parallel ? <ParallelCoordinates input={parallel} colours={colours} bestRunId={bestRunId} /> : null}
          </section>
        </>
      ) : null}
    </>
  );
}
