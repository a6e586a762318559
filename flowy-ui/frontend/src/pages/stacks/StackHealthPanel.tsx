import { useState } from "react";
import { useStackHealth, type ComponentHealth } from "../../api/stackHealth";
import { ErrorBox, Loading } from "../../components/ErrorBox";

function probeText(part: ComponentHealth): string {
  if (!part.probe) return "resolved";
  if (part.probe.ok) return `answers (${part.probe.ms ?? "?"} ms)`;
  return `not answering: ${part.probe.error ?? "unknown error"}`;
}

/** One stack's health: checked at once for the stack this server reads, on demand for others. */
export function StackHealthPanel({ name, active }: { name: string; active: boolean }) {
  const [asked, setAsked] = useState(active);
  const health = useStackHealth(name, asked);
  if (!asked) {
    return (
      <button type="button" onClick={() => setAsked(true)} data-testid={`check-stack-${name}`}>
        Check {name}
      </button>
    );
  }
  if (health.isLoading) return <Loading what={`the health of ${name}`} />;
  if (health.error) return <ErrorBox error={health.error} />;
  const data = health.data;
  if (!data) return null;
  return (
    <section className="stack-health" data-testid={`stack-health-${name}`} data-ok={String(data.ok)}>
      <h3>
        {name}{" "}
        <span className={`badge status-${data.ok ? "completed" : "failed"}`}>{data.ok ? "healthy" : "problem"}</span>
        {data.served ? <span className="muted"> (served by this UI: stores probed)</span> : null}
      </h3>
      {data.problems.length ? (
        <ul className="problems" role="alert">
          {data.problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      ) : null}
      <table className="records">
        <thead>
          <tr>
            <th>component</th>
            <th>type</th>
            <th>from</th>
            <th>health</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(data.components).map(([kind, part]) => (
            <tr key={kind} data-testid="stack-component" data-ok={String(part.probe ? part.probe.ok : part.resolved)}>
              <td>{kind}</td>
              <td>{part.type}</td>
              <td>
                {part.distribution} {part.version}
              </td>
              <td>{probeText(part)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
