import { Link, useParams } from "react-router-dom";
import { enc } from "../../api/client";
import { useExperiments } from "../../api/queries";
import { ErrorBox, Loading } from "../../components/ErrorBox";
import { RunsTable } from "../../components/RunsTable";
import { formatTime } from "../../lib/format";

export function ExperimentPage() {
  const { name = "" } = useParams();
  return (
    <>
      <p className="crumbs">
        <Link to="/experiments">Experiments</Link> /
      </p>
      <h1>{name}</h1>
      <RunsTable filters={{ experiment: name }} hideExperiment />
    </>
  );
}

export function ExperimentsPage() {
  const experiments = useExperiments();
  if (experiments.isLoading) return <Loading what="experiments" />;
  const items = experiments.data?.items ?? [];
  return (
    <>
      <h1>Experiments</h1>
      <ErrorBox error={experiments.error} />
      {items.length === 0 && !experiments.error ? <p className="muted">No experiments yet.</p> : null}
      {items.length > 0 ? (
        <table className="records" data-testid="experiments-table">
          <thead>
            <tr>
              <th scope="col">Experiment</th>
              <th scope="col">Runs</th>
              <th scope="col">Last run</th>
            </tr>
          </thead>
          <tbody>
            {items.map((e) => (
              <tr key={e.name} data-testid="experiment-row">
                <td>
                  <Link to={`/experiments/${enc(e.name)}`}>{e.name}</Link>
                </td>
                <td className="num">{e.runs}</td>
                <td className="mono">{formatTime(e.last_run_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}
