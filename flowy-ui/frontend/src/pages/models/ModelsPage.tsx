import { Link, useParams } from "react-router-dom";
import { enc } from "../../api/client";
import { itemsOf, useModel, useModels } from "../../api/queries";
import { ErrorBox, Loading } from "../../components/ErrorBox";
import { RecordsTable } from "../../components/RecordsTable";
import { formatTime, formatValue, shortId } from "../../lib/format";

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

export function ModelPage() {
  const { name = "" } = useParams();
  const model = useModel(name);
  if (model.isLoading) return <Loading what="model" />;
  if (!model.data) return <ErrorBox error={model.error} />;
  const { versions, history, ...facts } = model.data;
  const versionRows = itemsOf(versions);
  const historyRows = itemsOf(history);
  const stages = [...new Set(versionRows.map((v) => v.stage).filter((s): s is string => typeof s === "string"))];
  return (
    <>
      <p className="crumbs">
        <Link to="/models">Models</Link> /
      </p>
      <h1>{name}</h1>
      <RecordsTable rows={[facts]} render={(c, row) => (c === "name" ? String(row[c]) : cell(c, row))} testId="model-facts" />
      {stages.length > 0 ? (
        <p data-testid="model-stages">
          Stages:{" "}
          {stages.map((stage) => (
            <span key={stage} className="badge">
              {stage}
            </span>
          ))}
        </p>
      ) : null}
      <h2>Versions</h2>
      <RecordsTable
        rows={versionRows}
        render={(c, row) => (c === "name" ? String(row[c]) : cell(c, row))}
        testId="model-versions"
        empty="No versions."
      />
      <h2>Stage history</h2>
      <RecordsTable
        rows={historyRows}
        render={(c, row) => (c === "name" ? String(row[c]) : cell(c, row))}
        testId="model-history"
        empty="No stage changes."
      />
    </>
  );
}
