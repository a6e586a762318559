import { useEffect, useLayoutEffect, useRef, useState, type ReactNode, type Ref } from "react";
import { Link } from "react-router-dom";
import { enc } from "../api/client";
import type { useRunsList } from "../api/queries";
import type { RunSummary } from "../api/types";
import { FIXED_COLUMNS, splitColumn, type SortOrder } from "../lib/columns";
import { formatDuration, formatTime, formatValue, shortId } from "../lib/format";
import { nearEnd } from "../lib/pagination";
import { visibleRange } from "../lib/virtual";
import { ErrorBox, Loading } from "./ErrorBox";
import { StatusBadge } from "./StatusBadge";

type RunsList = ReturnType<typeof useRunsList>;

/**
 * The runs of `list` with the chosen parameter and metric `columns`. Only the rows in
 * view are rendered, so thousands of loaded runs scroll smoothly; scrolling near the
 * end (or "Load more") follows the server's cursor. Headers sort on the server: click
 * to sort by a column, again to reverse.
 */
export function RunsTable({
  list,
  columns,
  sort,
  order,
  onSort,
  hideExperiment = false,
}: {
  list: RunsList;
  columns: readonly string[];
  sort: string;
  order: SortOrder;
  onSort: (field: string) => void;
  hideExperiment?: boolean;
}) {
  const fixed = hideExperiment ? FIXED_COLUMNS.filter((c) => c.field !== "experiment") : FIXED_COLUMNS;
  const columnCount = fixed.length + columns.length;

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

  const win = visibleRange({ scrollTop, viewportHeight: viewport, rowHeight, count: list.rows.length });
  const wantMore = list.hasMore && !list.isLoadingMore && !list.error && nearEnd(win.end, list.rows.length);
  const { loadMore } = list;
  useEffect(() => {
    if (wantMore) loadMore();
  }, [wantMore, loadMore]);

  if (list.isLoading) return <Loading what="runs" />;
  if (list.error && list.rows.length === 0) return null; // shown by the page (filter errors inline)

  const shown = list.rows.slice(win.start, win.end);
  const header = (field: string, label: ReactNode, className: string, title?: string) => {
    const active = sort === field;
    return (
      <th
        key={field}
        scope="col"
        className={className}
        title={title}
        aria-sort={active ? (order === "asc" ? "ascending" : "descending") : "none"}
      >
        <button type="button" className="sort-header" onClick={() => onSort(field)} data-testid="sort-header" data-field={field}>
          {label}
          {active ? (order === "asc" ? " ▲" : " ▼") : null}
        </button>
      </th>
    );
  };

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
              {fixed.map((c) => header(c.field, c.label, `col-${c.label.toLowerCase()}`))}
              {columns.map((column) => {
                const [kind, name] = splitColumn(column);
                const label = (
                  <>
                    <span className="kv-kind">{kind}.</span>
                    {name}
                  </>
                );
                return header(column, label, "kv", column);
              })}
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
                columns={columns}
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
  columns,
}: {
  run: RunSummary;
  rowRef?: Ref<HTMLTableRowElement>;
  hideExperiment: boolean;
  columns: readonly string[];
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
      {columns.map((column) => {
        const [kind, name] = splitColumn(column);
        const value = kind === "params" ? run.params?.[name] : run.metrics?.[name];
        return (
          <td key={column} className={kind === "metrics" ? "kv num" : "kv"} data-column={column}>
            {formatValue(value)}
          </td>
        );
      })}
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
