import type { ReactNode } from "react";
import { formatCell } from "../lib/format";

/**
 * A table of records whose shape the API may still change (models, stacks, plugins):
 * columns are the union of the records' keys in first-seen order, or `columns` when
 * given; `render` may replace a cell.
 */
export function RecordsTable({
  rows,
  columns,
  render,
  testId,
  empty = "Nothing here yet.",
}: {
  rows: Array<Record<string, unknown>>;
  columns?: string[];
  render?: (column: string, row: Record<string, unknown>) => ReactNode | undefined;
  testId?: string;
  empty?: string;
}) {
  if (rows.length === 0) return <p className="muted">{empty}</p>;
  const cols = columns ?? [...new Set(rows.flatMap((row) => Object.keys(row)))];
  return (
    <div className="table-wrap">
      <table className="records" data-testid={testId}>
        <thead>
          <tr>
            {cols.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => (
            <tr key={i}>
              {cols.map((c) => (
                <td key={c}>{render?.(c, row) ?? formatCell(row[c])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
