import { useEffect, useLayoutEffect, useMemo, useRef, useState, type Ref } from "react";
import { Link } from "react-router-dom";
import { enc } from "../api/client";
import { useRunsList, type RunFilters } from "../api/queries";
import type { RunSummary } from "../api/types";
import { collectKeys } from "../lib/columns";
import { formatDuration, formatTime, formatValue, shortId } from "../lib/format";
import { visibleRange } from "../lib/virtual";
import { ErrorBox, Loading } from "./ErrorBox";
import { StatusBadge } from "./StatusBadge";

const FIXED_COLUMNS = ["Status", "Run", "Pipeline", "Experiment", "Stack", "Started", "Duration"];

/**
 * Runs matching `filters`, with the parameters and metrics they carry as columns.
 * Only the rows in view are rendered, so thousands of loaded runs scroll smoothly;
 * "Load more" follows the server's cursor. Live while a shown run is running.
 */
export function RunsTable({ filters, hideExperiment = false }: { filters: RunFilters; hideExperiment?: boolean }) {
  const list = useRunsList(filters);
  const paramKeys = useMemo(() => collectKeys(list.rows, (r) => r.params), [list.rows]);
  const metricKeys = useMemo(() => collectKeys(list.rows, (r) => r.metrics), [list.rows]);
  const fixed = hideExperiment ? FIXED_COLUMNS.filter((c) => c !== "Experiment") : FIXED_COLUMNS;
  const columnCount = fixed.length + paramKeys.length + metricKeys.length;

  const scroller = useRef<HTMLDivElement>(null);
  const firstRow = useRef<HTMLTableRowElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const [rowHeight, setRowHeight] = useState(33);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setViewport(el.clientHeight));
    observer.observe(el);
    return () => observer.disconnect();
  }, [list.isLoading]);
  // Rows have one height (CSS); measure it once rows are drawn.
  useLayoutEffect(() => {
    const height = firstRow.current?.getBoundingClientRect().height;
    if (height && Math.abs(height - rowHeight) > 0.5) setRowHeight(height);
  }, [list.rows, list.isLoading, rowHeight]);

  if (list.isLoading) return <Loading what="runs" />;
  if (list.error && list.rows.length === 0) return <ErrorBox error={list.error} />;

  const win = visibleRange({ scrollTop, viewportHeight: viewport, rowHeight, count: list.rows.length });
  const shown = list.rows.slice(win.start, win.end);

  return (
    <section className="runs-table" aria-label="Runs">
      <ErrorBox error={list.error} />
      <div
        className="runs-scroll"
        ref={scroller}
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
        data-testid="runs-scroll"
      >
        <table className="runs" data-testid="runs-table">
          <thead>
            <tr>
              {fixed.map((c) => (
                <th key={c} scope="col" className={`col-${c.toLowerCase()}`}>
                  {c}
                </th>
              ))}
              {paramKeys.map((k) => (
                <th key={`p.${k}`} scope="col" className="kv" title={`params.${k}`}>
                  <span className="kv-kind">params.</span>
                  {k}
                </th>
              ))}
              {metricKeys.map((k) => (
                <th key={`m.${k}`} scope="col" className="kv" title={`metrics.${k}`}>
                  <span className="kv-kind">metrics.</span>
                  {k}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {win.padTop > 0 ? <Spacer height={win.padTop} columns={columnCount} /> : null}
            {shown.map((run, i) => (
              <RunRow
                key={run.run_id}
                run={run}
                rowRef={i === 0 ? firstRow : undefined}
                hideExperiment={hideExperiment}
                paramKeys={paramKeys}
                metricKeys={metricKeys}
              />
            ))}
            {win.padBottom > 0 ? <Spacer height={win.padBottom} columns={columnCount} /> : null}
          </tbody>
        </table>
        {list.rows.length === 0 ? <p className="muted empty">No runs match.</p> : null}
      </div>
      <div className="runs-footer">
        <span className="muted" data-testid="runs-count">
          {list.rows.length} run{list.rows.length === 1 ? "" : "s"} loaded
          {list.live ? " · live" : ""}
        </span>
        {list.hasMore ? (
          <button type="button" onClick={list.loadMore} disabled={list.isLoadingMore} data-testid="load-more">
            {list.isLoadingMore ? "Loading…" : "Load more"}
          </button>
        ) : null}
      </div>
    </section>
  );
}

function RunRow({
  run,
  rowRef,
  hideExperiment,
  paramKeys,
  metricKeys,
}: {
  run: RunSummary;
  rowRef?: Ref<HTMLTableRowElement>;
  hideExperiment: boolean;
  paramKeys: string[];
  metricKeys: string[];
}) {
  return (
    <tr ref={rowRef} className="row" data-testid="run-row" data-run-id={run.run_id} data-status={run.status}>
      <td>
        <StatusBadge status={run.status} />
      </td>
      <td className="mono">
        <Link to={`/runs/${enc(run.run_id)}`} title={run.run_id}>
          {shortId(run.run_id)}
        </Link>
      </td>
      <td title={run.pipeline}>{run.pipeline}</td>
      {hideExperiment ? null : (
        <td>
          {run.experiment ? <Link to={`/experiments/${enc(run.experiment)}`}>{run.experiment}</Link> : null}
        </td>
      )}
      <td>{run.stack ?? ""}</td>
      <td className="mono">{formatTime(run.started_at)}</td>
      <td className="num">{formatDuration(run.duration)}</td>
      {paramKeys.map((k) => (
        <td key={`p.${k}`} className="kv">
          {formatValue(run.params?.[k])}
        </td>
      ))}
      {metricKeys.map((k) => (
        <td key={`m.${k}`} className="kv num">
          {formatValue(run.metrics?.[k])}
        </td>
      ))}
    </tr>
  );
}

/** Stands in for the rows above or below the window; its height is geometry, set through
 * the CSSOM by React (allowed under the server's CSP, unlike a style attribute in HTML). */
function Spacer({ height, columns }: { height: number; columns: number }) {
  return (
    <tr aria-hidden="true" className="spacer" style={{ height }}>
      <td colSpan={columns} />
    </tr>
  );
}
