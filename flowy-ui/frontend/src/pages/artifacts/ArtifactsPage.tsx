import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { enc } from "../../api/client";
import { useArtifactSearch, type ArtifactFilters } from "../../api/queries";
import { ErrorBox, Loading } from "../../components/ErrorBox";
import { formatBytes, formatTime, shortId } from "../../lib/format";

/** Asset types Flowy records (an output wrapped in Dataset, Model, ...; plain: "artifact"). */
export const ASSET_TYPES = ["artifact", "dataset", "model", "metrics", "featureset", "report"];
const FIELDS = ["name", "type", "run", "pipeline"] as const;

/** The search lives in the URL (?name=&type=&run=&pipeline=), so a view can be shared. */
function filtersFrom(params: URLSearchParams): ArtifactFilters {
  return Object.fromEntries(FIELDS.map((k) => [k, params.get(k) ?? undefined])) as ArtifactFilters;
}

/** Search and browse artifacts, newest first, a page at a time. */
export function ArtifactsPage() {
  const [params, setParams] = useSearchParams();
  const filters = filtersFrom(params);
  return (
    <>
      <h1>Artifacts</h1>
      <SearchForm
        key={params.toString()}
        filters={filters}
        onApply={(next) => {
          const search = new URLSearchParams();
          for (const key of FIELDS) {
            const value = next[key]?.trim();
            if (value) search.set(key, value);
          }
          setParams(search);
        }}
      />
      <ArtifactsTable filters={filters} />
    </>
  );
}

function SearchForm({ filters, onApply }: { filters: ArtifactFilters; onApply: (f: ArtifactFilters) => void }) {
  const [draft, setDraft] = useState<ArtifactFilters>(filters);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onApply(draft);
  };
  const text = (key: "name" | "run" | "pipeline", label: string, hint: string) => (
    <label>
      {label}
      <input
        value={draft[key] ?? ""}
        placeholder={hint}
        onChange={(e) => setDraft({ ...draft, [key]: e.target.value })}
        data-testid={`artifact-filter-${key}`}
      />
    </label>
  );
  return (
    <form className="filters" onSubmit={submit} role="search" aria-label="Search artifacts" data-testid="artifact-filters">
      {text("name", "Name", "exact output or asset name")}
      <label>
        Type
        <select
          value={draft.type ?? ""}
          onChange={(e) => setDraft({ ...draft, type: e.target.value })}
          data-testid="artifact-filter-type"
        >
          <option value="">any</option>
          {ASSET_TYPES.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
      </label>
      {text("run", "Run", "id or prefix")}
      {text("pipeline", "Pipeline", "")}
      <button type="submit">Search</button>
    </form>
  );
}

function ArtifactsTable({ filters }: { filters: ArtifactFilters }) {
  const search = useArtifactSearch(filters);
  if (search.isLoading) return <Loading what="artifacts" />;
  return (
    <>
      <ErrorBox error={search.error} />
      {search.rows.length === 0 && !search.error ? <p className="muted empty">No artifacts match.</p> : null}
      {search.rows.length > 0 ? (
        <div className="table-wrap">
          <table className="records" data-testid="artifacts-table">
            <thead>
              <tr>
                {["name", "artifact", "asset type", "type", "size", "materializer", "run", "step", "created"].map((c) => (
                  <th key={c} scope="col">
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {search.rows.map((a) => (
                <tr key={a.artifact_id} data-testid="artifact-row" data-artifact-id={a.artifact_id}>
                  <td>
                    <Link to={`/artifacts/${enc(a.artifact_id)}`}>{a.name}</Link>
                  </td>
                  <td className="mono">{shortId(a.artifact_id)}</td>
                  <td>{a.asset_type ?? ""}</td>
                  <td className="mono">{a.type_name}</td>
                  <td className="num">{formatBytes(a.size)}</td>
                  <td>{a.materializer}</td>
                  <td>{a.run_id ? <Link to={`/runs/${enc(a.run_id)}`}>{shortId(a.run_id)}</Link> : null}</td>
                  <td>{a.step}</td>
                  <td>{formatTime(a.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {search.hasMore ? (
        <p>
          <button type="button" onClick={search.loadMore} disabled={search.isLoadingMore} data-testid="artifacts-more">
            {search.isLoadingMore ? "Loading…" : "Load more"}
          </button>
        </p>
      ) : null}
    </>
  );
}
