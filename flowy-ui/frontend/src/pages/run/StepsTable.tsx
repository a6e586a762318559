import { Link } from "react-router-dom";
import { enc } from "../../api/client";
import type { StepRun } from "../../api/types";
import { StatusBadge } from "../../components/StatusBadge";
import { formatDuration, formatTime } from "../../lib/format";

export function StepsTable({
  steps,
  selected,
  onSelect,
}: {
  steps: StepRun[];
  selected: string | null;
  onSelect: (step: string) => void;
}) {
  if (steps.length === 0) return <p className="muted">No steps recorded.</p>;
  return (
    <div className="table-wrap">
      <table className="records steps" data-testid="steps-table">
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col">Duration</th>
            <th scope="col">Attempts</th>
            <th scope="col">Error</th>
            <th scope="col">Inputs</th>
            <th scope="col">Outputs</th>
          </tr>
        </thead>
        <tbody>
          {steps.map((s) => (
            <tr
              key={s.step}
              className={s.step === selected ? "selected" : undefined}
              data-testid="step-row"
              data-step={s.step}
              data-status={s.status}
            >
              <td>
                <button type="button" className="link" onClick={() => onSelect(s.step)} aria-pressed={s.step === selected}>
                  {s.step}
                </button>
              </td>
              <td>
                <StatusBadge status={s.status} />
              </td>
              <td className="mono">{formatTime(s.started_at)}</td>
              <td className="num">
                {formatDuration(
                  s.duration ?? (s.started_at !== null && s.finished_at !== null ? s.finished_at - s.started_at : null),
                )}
              </td>
              <td className="num">{s.attempts ?? ""}</td>
              <td className="error-cell" title={s.error ?? undefined}>
                {s.error_type ? <strong>{s.error_type}</strong> : null}
                {s.error_type && s.error ? ": " : null}
                {s.error ?? ""}
              </td>
              <td>
                <ArtifactLinks artifacts={s.inputs} />
              </td>
              <td>
                <ArtifactLinks artifacts={s.outputs} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ArtifactLinks({ artifacts }: { artifacts: Record<string, string> | null | undefined }) {
  const entries = Object.entries(artifacts ?? {});
  return (
    <ul className="inline-list">
      {entries.map(([name, id]) => (
        <li key={name}>
          <Link to={`/artifacts/${enc(id)}`} title={id}>
            {name}
          </Link>
        </li>
      ))}
    </ul>
  );
}
