import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useRef } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { enc } from "../../api/client";
import { useLive } from "../../api/live";
import { useDag, useMetrics, useRun } from "../../api/queries";
import { DagView, type DagNode } from "../../components/DagView";
import { ErrorBox, Loading } from "../../components/ErrorBox";
import { Facts } from "../../components/Facts";
import { Gantt } from "../../components/Gantt";
import { LineChart } from "../../components/LineChart";
import { StatusBadge } from "../../components/StatusBadge";
import { formatDuration, formatTime, formatValue, isLive } from "../../lib/format";
import { CancelRun } from "./CancelRun";
import { StepLogsPanel } from "./StepLogsPanel";
import { StepsTable } from "./StepsTable";

/**
 * One run: its facts, DAG (click a step for its logs; zoom, pan, groups for big graphs),
 * the steps' timeline, the steps table and metric charts; a running run can be cancelled.
 */
export function RunPage() {
  const { runId = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const selected = params.get("step");
  const select = (step: string | null) => {
    const next = new URLSearchParams(params);
    if (step && step !== selected) next.set("step", step);
    else next.delete("step");
    setParams(next, { replace: true });
  };

  const run = useRun(runId);
  useLive(runId); // this run's run and step changes as they happen (no polling)
  const live = isLive(run.data?.status);
  const dag = useDag(runId, live);
  const metrics = useMetrics(runId, live);
  // When the run stops being live, fetch its DAG, metrics and logs once more: their last
  // refresh may predate the run's end.
  const client = useQueryClient();
  const wasLive = useRef(live);
  useEffect(() => {
    if (wasLive.current && !live) {
      for (const key of ["dag", "metrics", "logs"]) void client.invalidateQueries({ queryKey: [key, runId] });
    }
    wasLive.current = live;
  }, [live, runId, client]);
  // Attempts come from the run's steps (retried steps are marked in the DAG).
  const attempts = useMemo(() => new Map((run.data?.steps ?? []).map((s) => [s.step, s.attempts])), [run.data]);
  const dagNodes = useMemo<DagNode[]>(
    () =>
      (dag.data?.nodes ?? []).map((n) => ({ id: n.id, status: n.status, attempts: attempts.get(n.id) ?? null, tags: n.tags ?? [], elements: n.elements ?? null })),
    [dag.data, attempts],
  );

  if (run.isLoading) return <Loading what="run" />;
  if (!run.data) return <ErrorBox error={run.error} />;
  const r = run.data;
  const step = selected ? r.steps.find((s) => s.step === selected) : undefined;
  const series = Object.entries(metrics.data?.series ?? {});

  return (
    <>
      <p className="crumbs">
        <Link to="/runs">Runs</Link> /
      </p>
      <h1 className="run-title">
        <span>{r.pipeline}</span> <StatusBadge status={r.status} />
        {live ? <span className="muted live">live</span> : null}
      </h1>
      {r.status === "running" ? <CancelRun runId={r.run_id} /> : null}
      <ErrorBox error={run.error} />
      <Facts
        testId="run-facts"
        items={[
          ["Run", <span className="mono">{r.run_id}</span>],
          ["Experiment", r.experiment ? <Link to={`/experiments/${enc(r.experiment)}`}>{r.experiment}</Link> : null],
          ["Stack", r.stack],
          ["Started", formatTime(r.started_at)],
          ["Finished", formatTime(r.finished_at)],
          ["Duration", formatDuration(r.duration)],
          ["Host", typeof r.host === "string" ? r.host : null],
        ]}
      />
      <div className="two-col">
        <section aria-label="Parameters">
          <h2>Parameters</h2>
          <KeyValues values={r.params} testId="run-params" />
        </section>
        <section aria-label="Metrics">
          <h2>Metrics</h2>
          <KeyValues values={r.metrics} testId="run-metrics" />
        </section>
      </div>
      {hasEntries(r.git) || hasEntries(r.environment) ? (
        <div className="two-col">
          <section aria-label="Git">
            <h2>Git</h2>
            <KeyValues values={asRecord(r.git)} testId="run-git" />
          </section>
          <section aria-label="Environment">
            <h2>Environment</h2>
            <KeyValues values={asRecord(r.environment)} testId="run-environment" />
          </section>
        </div>
      ) : null}
      <section aria-label="DAG">
        <h2>DAG</h2>
        <ErrorBox error={dag.error} />
        <DagView label={`Steps of run ${r.run_id}`} nodes={dagNodes} edges={dag.data?.edges ?? []} selected={selected} onSelect={select} />
      </section>
      {selected ? (
        <StepLogsPanel runId={r.run_id} step={selected} live={live || isLive(step?.status)} onClose={() => select(null)} />
      ) : null}
      <section aria-label="Timeline">
        <h2>Timeline</h2>
        <Gantt steps={r.steps} live={live} selected={selected} onSelect={select} />
      </section>
      <section aria-label="Steps">
        <h2>Steps</h2>
        <StepsTable steps={r.steps} selected={selected} onSelect={select} />
      </section>
      <section aria-label="Metric series">
        <h2>Metric series</h2>
        <ErrorBox error={metrics.error} />
        {series.length === 0 ? <p className="muted">No metric series.</p> : null}
        <div className="charts">
          {series.map(([name, points]) => (
            <LineChart key={name} name={name} points={points} />
          ))}
        </div>
      </section>
    </>
  );
}

function asRecord(value: unknown): Record<string, unknown> | null {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function hasEntries(value: unknown): boolean {
  const record = asRecord(value);
  return record !== null && Object.keys(record).length > 0;
}

function KeyValues({ values, testId }: { values: Record<string, unknown> | null | undefined; testId: string }) {
  const entries = Object.entries(values ?? {});
  if (entries.length === 0) return <p className="muted">None.</p>;
  return (
    <table className="kv-table" data-testid={testId}>
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td className="mono">
              {v !== null && typeof v === "object" ? (
                // Nested values (installed packages...) stay folded until asked for.
                <details>
                  <summary>{Array.isArray(v) ? `${v.length} items` : `${Object.keys(v).length} entries`}</summary>
                  <pre className="json">{JSON.stringify(v, null, 2)}</pre>
                </details>
              ) : (
                formatValue(v)
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
