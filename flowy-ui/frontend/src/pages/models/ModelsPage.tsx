import { Link } from "react-router-dom";
import { enc } from "../../api/client";
import { useModels } from "../../api/queries";
import { ErrorBox, Loading } from "../../components/ErrorBox";
import { RecordsTable } from "../../components/RecordsTable";
import { formatTime, formatValue, shortId } from "../../lib/format";

// The model page has a file of its own; App.tsx imports both from here.
export { ModelPage } from "./ModelPage";

const TIME_FIELDS = new Set(["created_at", "updated_at", "at", "time"]);

/** Cells shared by the model tables: links for names, runs and artifacts, times as dates. */
function cell(column: string, row: Record<string, unknown>) {
  const value = row[column];
  if (typeof value === "string" && column === "name") {
    return <Link to={`/models/${enc(value)}`}>{value}</Link>;
  }
  if (typeof value === "string" && column === "run_id") {
    return <Link to={`/runs/${enc(value)}`}>{shortId(value)}</Link>;
  }
  if (typeof value === "string" && column === "artifact_id") {
    return <Link to={`/artifacts/${enc(value)}`}>{shortId(value)}</Link>;
  }
  if (typeof value === "number" && TIME_FIELDS.has(column)) return formatTime(value);
  if (column === "stages" && value && typeof value === "object" && !Array.isArray(value)) {
    // {"production": 3, "staging": 4} -> "production: v3, staging: v4"
    return Object.entries(value)
      .map(([stage, version]) => `${stage}: v${formatValue(version)}`)
      .join(", ");
  }
  return undefined;
}

/** The registry: each model with its newest version and what holds each stage. */
export function ModelsPage() {
  const models = useModels();
  if (models.isLoading) return <Loading what="models" />;
  return (
    <>
      <h1>Models</h1>
      <ErrorBox error={models.error} />
      <RecordsTable rows={models.data ?? []} render={cell} testId="models-table" empty="No models registered." />
    </>
  );
}
