import { useState, type FormEvent } from "react";
import { useSearchParams } from "react-router-dom";
import type { RunFilters } from "../../api/queries";
import { RunsTable } from "../../components/RunsTable";

export const RUN_STATUSES = ["running", "completed", "failed", "cancelled", "crashed"];

/** Filters live in the URL (?status=&pipeline=&experiment=), so a filtered view can be shared. */
export function filtersFrom(params: URLSearchParams): RunFilters {
  return {
    status: params.get("status") ?? undefined,
    pipeline: params.get("pipeline") ?? undefined,
    experiment: params.get("experiment") ?? undefined,
  };
}

export function RunsPage() {
  const [params, setParams] = useSearchParams();
  const filters = filtersFrom(params);
  return (
    <>
      <h1>Runs</h1>
      <RunFiltersForm
        key={params.toString()}
        filters={filters}
        onApply={(next) => {
          const search = new URLSearchParams();
          for (const key of ["status", "pipeline", "experiment"] as const) {
            const value = next[key];
            if (value) search.set(key, value);
          }
          setParams(search);
        }}
      />
      <RunsTable filters={filters} />
    </>
  );
}

function RunFiltersForm({ filters, onApply }: { filters: RunFilters; onApply: (f: RunFilters) => void }) {
  const [draft, setDraft] = useState<RunFilters>(filters);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onApply({
      status: draft.status || undefined,
      pipeline: draft.pipeline?.trim() || undefined,
      experiment: draft.experiment?.trim() || undefined,
    });
  };
  return (
    <form className="filters" onSubmit={submit} role="search" aria-label="Filter runs" data-testid="run-filters">
      <label>
        Status
        <select
          value={draft.status ?? ""}
          onChange={(e) => setDraft({ ...draft, status: e.target.value })}
          data-testid="filter-status"
        >
          <option value="">any</option>
          {RUN_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        Pipeline
        <input
          value={draft.pipeline ?? ""}
          onChange={(e) => setDraft({ ...draft, pipeline: e.target.value })}
          data-testid="filter-pipeline"
        />
      </label>
      <label>
        Experiment
        <input
          value={draft.experiment ?? ""}
          onChange={(e) => setDraft({ ...draft, experiment: e.target.value })}
          data-testid="filter-experiment"
        />
      </label>
      <button type="submit" data-testid="filter-apply">
        Apply
      </button>
      <button type="button" onClick={() => onApply({})} data-testid="filter-clear">
        Clear
      </button>
    </form>
  );
}
