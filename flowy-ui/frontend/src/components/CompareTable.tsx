import { Link } from "react-router-dom";
import { enc } from "../api/client";
import { formatCell, shortId } from "../lib/format";

export interface CompareColumn {
  runId: string;
  label?: string;
  colour?: string;
}

/**
 * Rows (parameters or metrics) against runs: one column per run. A row whose values differ
 * is highlighted (`changed`); the column of `bestRunId` is marked, and within a row the
 * cell at `bestCell(row)` (the best value of a metric row) too.
 */
export function CompareTable({
  columns,
  rows,
  caption,
  testId,
  bestRunId,
  bestCell,
}: {
  columns: CompareColumn[];
  rows: Array<{ name: string; values: unknown[]; changed: boolean }>;
  caption: string;
  testId: string;
  bestRunId?: string | null;
  bestCell?: (row: { name: string; values: unknown[] }) => number | null;
}) {
  if (rows.length === 0) return <p className="muted">None.</p>;
  return (
    <div className="compare-scroll">
      <table className="records compare-table" data-testid={testId}>
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            {columns.map((c) => (
              <th
                key={c.runId}
                scope="col"
                className={c.runId === bestRunId ? "best" : undefined}
                data-testid="compare-column"
                data-run-id={c.runId}
                data-best={c.runId === bestRunId ? "true" : "false"}
              >
                {c.colour ? <span className="swatch" style={{ background: c.colour }} aria-hidden="true" /> : null}
                <Link to={`/runs/${enc(c.runId)}`} className="mono">
                  {c.label ?? shortId(c.runId)}
                </Link>
                {c.runId === bestRunId ? <span className="best-mark" title="best run"> ★ best</span> : null}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const best = bestCell ? bestCell(row) : null;
            return (
              <tr
                key={row.name}
                className={row.changed ? "changed" : undefined}
                data-testid="compare-row"
                data-name={row.name}
                data-changed={row.changed ? "true" : "false"}
              >
                <th scope="row" className="mono">
                  {row.name}
                </th>
                {row.values.map((v, i) => (
                  <td key={columns[i]?.runId ?? i} className={`mono${i === best ? " best-cell" : ""}`}>
                    {formatCell(v)}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
