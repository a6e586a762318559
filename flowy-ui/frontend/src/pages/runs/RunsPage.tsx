import { useSearchParams } from "react-router-dom";
import { ApiError } from "../../api/client";
import { useRunColumns, useRunsList, type RunFilters } from "../../api/queries";
import { ColumnChooser } from "../../components/ColumnChooser";
import { ErrorBox } from "../../components/ErrorBox";
import { FilterBox } from "../../components/FilterBox";
import { RunsTable } from "../../components/RunsTable";
import { COLUMNS_KEY, defaultColumns, nextSort, viewFrom, viewToParams, type RunsView } from "../../lib/columns";

export const RUN_STATUSES = ["running", "completed", "failed", "cancelled", "crashed"];

/** Filters of older links (?status=&pipeline=&experiment=), still understood. */
export function filtersFrom(params: URLSearchParams): RunFilters {
  return {
    status: params.get("status") ?? undefined,
    pipeline: params.get("pipeline") ?? undefined,
    experiment: params.get("experiment") ?? undefined,
  };
}

function storedColumns(): string | null {
  try {
    return window.localStorage.getItem(COLUMNS_KEY);
  } catch {
    return null; // storage disabled: the URL alone keeps the view
  }
}

function storeColumns(columns: readonly string[]): void {
  try {
    window.localStorage.setItem(COLUMNS_KEY, columns.join(","));
  } catch {
    // storage disabled
  }
}

/**
 * The runs list: a filter in the filter language, sortable headers, chosen parameter
 * and metric columns. The whole view (q, sort, order, columns) is in the URL, so it
 * can be shared and survives a reload; the columns are also remembered locally.
 */
export function RunsPage() {
  const [params, setParams] = useSearchParams();
  const view = viewFrom(params, storedColumns());
  const available = useRunColumns();
  const columns = view.columns ?? (available.data ? defaultColumns(available.data) : null);
  const filters: RunFilters = {
    q: view.q || undefined,
    sort: view.sort,
    order: view.order,
    columns: columns?.join(",") ?? "",
    status: view.status,
    pipeline: view.pipeline,
    experiment: view.experiment,
  };
  const list = useRunsList(filters, columns !== null);
  const update = (next: Partial<RunsView>) => setParams(viewToParams({ ...view, ...next }));
  const badRequest = list.error instanceof ApiError && list.error.status === 400 ? list.error.message : null;
  const offered = list.availableColumns ?? available.data ?? [];

  return (
    <>
      <h1>Runs</h1>
      <div className="runs-controls">
        <FilterBox
          key={view.q}
          value={view.q}
          error={badRequest}
          shorthand={{ status: view.status, pipeline: view.pipeline, experiment: view.experiment }}
          onApply={(q, clearShorthand) =>
            update(clearShorthand ? { q, status: undefined, pipeline: undefined, experiment: undefined } : { q })
          }
        />
        <ColumnChooser
          available={offered}
          chosen={columns ?? []}
          onChange={(next) => {
            storeColumns(next);
            update({ columns: next });
          }}
        />
      </div>
      {badRequest ? null : <ErrorBox error={available.error} />}
      {columns === null && !available.error ? null : (
        <RunsTable
          list={list}
          columns={columns ?? []}
          sort={view.sort}
          order={view.order}
          onSort={(field) => update(nextSort(view, field))}
        />
      )}
    </>
  );
}
