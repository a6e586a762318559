import { useEffect, useRef, useState, type ReactNode } from "react";
import { Link, useParams } from "react-router-dom";
import { enc } from "../../api/client";
import { useModelCompare, useModelDetail, useStageChange } from "../../api/queries";
import type { ModelComparison, ModelCompareValue, ModelDetail, ModelVersion } from "../../api/types";
import { ErrorBox, Loading } from "../../components/ErrorBox";
import { Facts } from "../../components/Facts";
import { formatTime, formatValue, shortId } from "../../lib/format";
import { refusal } from "../../lib/refusal";

/** Stages offered for a promotion; the server accepts any lower-case word. */
export const STAGES = ["staging", "production", "archived"];

type Change = { action: "promote"; version: number; stage: string } | { action: "rollback" };

/** A model of the registry: versions, stages, their history, comparing two versions, and
 * promoting or rolling back after a confirmation. */
export function ModelPage() {
  const { name = "" } = useParams();
  const model = useModelDetail(name);
  const [selected, setSelected] = useState<number[]>([]);
  if (model.isLoading) return <Loading what="model" />;
  if (!model.data) return <ErrorBox error={model.error} />;
  const m = model.data;
  const toggle = (version: number) =>
    setSelected((now) =>
      now.includes(version) ? now.filter((v) => v !== version) : [...now, version].slice(-2),
    );
  return (
    <>
      <p className="crumbs">
        <Link to="/models">Models</Link> /
      </p>
      <h1>{m.name}</h1>
      <Facts
        testId="model-facts"
        items={[
          ["Latest version", `v${m.latest_version}`],
          ["Registered", formatTime(m.created_at)],
          ["Description", m.description || null],
          [
            "Stages",
            Object.keys(m.stages).length ? (
              <span data-testid="model-stages">
                {Object.entries(m.stages).map(([stage, version]) => (
                  <span key={stage} className="badge" data-stage={stage} data-version={version}>
                    {stage}: v{version}
                  </span>
                ))}
              </span>
            ) : (
              "none"
            ),
          ],
        ]}
      />
      <StageActions model={m} />
      <h2>Versions</h2>
      <p className="muted">Tick two versions to compare them.</p>
      <VersionsTable versions={m.versions} selected={selected} onToggle={toggle} />
      {selected.length === 2 ? (
        <CompareSection name={m.name} a={Math.min(...selected)} b={Math.max(...selected)} />
      ) : null}
      <h2>Stage history</h2>
      <History model={m} />
    </>
  );
}

function VersionsTable({
  versions,
  selected,
  onToggle,
}: {
  versions: ModelVersion[];
  selected: number[];
  onToggle: (version: number) => void;
}) {
  if (versions.length === 0) return <p className="muted">No versions.</p>;
  return (
    <div className="table-wrap">
      <table className="records" data-testid="model-versions">
        <thead>
          <tr>
            {["compare", "version", "stage", "run", "artifact", "created", "by", "description"].map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {[...versions].reverse().map((v) => (
            <tr
              key={v.version}
              className={selected.includes(v.version) ? "selected" : undefined}
              data-testid="version-row"
              data-version={v.version}
              data-stage={v.stage}
            >
              <td>
                <input
                  type="checkbox"
                  checked={selected.includes(v.version)}
                  onChange={() => onToggle(v.version)}
                  aria-label={`Compare version ${v.version}`}
                  data-testid="compare-check"
                />
              </td>
              <td>v{v.version}</td>
              <td>
                <span className="badge" data-testid="version-stage">
                  {v.stage}
                </span>
              </td>
              <td>
                <Link to={`/runs/${enc(v.run_id)}`}>{shortId(v.run_id)}</Link>
              </td>
              <td>
                <Link to={`/artifacts/${enc(v.artifact_id)}`}>{shortId(v.artifact_id)}</Link>
              </td>
              <td>{formatTime(v.created_at)}</td>
              <td>{v.created_by}</td>
              <td>{v.description ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function History({ model }: { model: ModelDetail }) {
  if (model.history.length === 0) return <p className="muted">No stage changes yet.</p>;
  return (
    <div className="table-wrap">
      <table className="records" data-testid="model-history">
        <thead>
          <tr>
            {["when", "who", "action", "version", "from", "to"].map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {[...model.history].reverse().map((c, i) => (
            <tr key={i} data-testid="history-row" data-user={c.user} data-version={c.version} data-to={c.to_stage}>
              <td>{formatTime(c.at)}</td>
              <td>{c.user}</td>
              <td>{c.action}</td>
              <td>v{c.version}</td>
              <td>{c.from_stage ?? ""}</td>
              <td>{c.to_stage}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Promote (a version to a stage) and roll back, each after a confirmation dialog. */
function StageActions({ model }: { model: ModelDetail }) {
  const change = useStageChange(model.name);
  const [version, setVersion] = useState(model.latest_version);
  const [stage, setStage] = useState("production");
  const [pending, setPending] = useState<Change | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const holder = (s: string) => model.stages[s];
  const describe = (c: Change) =>
    c.action === "promote"
      ? `Move ${model.name} v${c.version} to ${c.stage}?` +
        (holder(c.stage) !== undefined && holder(c.stage) !== c.version && c.stage !== "archived"
          ? ` v${holder(c.stage)}, now in ${c.stage}, will be archived.`
          : "")
      : `Roll ${model.name} back? Production returns to the version that held it before v${holder("production") ?? "?"}.`;
  const confirm = () => {
    if (!pending) return;
    const asked = pending;
    setDone(null);
    change.mutate(asked, {
      onSuccess: (result) => {
        setPending(null);
        const last = result.changes[result.changes.length - 1];
        setDone(last ? `Done: v${last.version} is now in ${last.to_stage} (by ${last.user}).` : "Done.");
      },
    });
  };
  const verb = pending?.action === "rollback" ? "roll back" : "promote";
  const refused = refusal(change.error, verb);
  return (
    <section aria-label="Change stages">
      <div className="stage-actions filters">
        <label>
          Version
          <select value={version} onChange={(e) => setVersion(Number(e.target.value))} data-testid="promote-version">
            {[...model.versions].reverse().map((v) => (
              <option key={v.version} value={v.version}>
                v{v.version} ({v.stage})
              </option>
            ))}
          </select>
        </label>
        <label>
          Stage
          <select value={stage} onChange={(e) => setStage(e.target.value)} data-testid="promote-stage">
            {STAGES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          onClick={() => {
            change.reset();
            setPending({ action: "promote", version, stage });
          }}
          data-testid="promote"
        >
          Promote…
        </button>
        <button
          type="button"
          onClick={() => {
            change.reset();
            setPending({ action: "rollback" });
          }}
          disabled={holder("production") === undefined}
          data-testid="rollback"
        >
          Roll back…
        </button>
      </div>
      {done ? (
        <p role="status" data-testid="stage-change-done">
          {done}
        </p>
      ) : null}
      {!pending && change.error ? <StageError refused={refused} error={change.error} /> : null}
      <ConfirmDialog
        open={pending !== null}
        title={pending?.action === "rollback" ? "Roll back" : "Promote"}
        text={pending ? describe(pending) : ""}
        busy={change.isPending}
        onConfirm={confirm}
        onCancel={() => {
          setPending(null);
          change.reset();
        }}
      >
        {change.error ? <StageError refused={refused} error={change.error} /> : null}
      </ConfirmDialog>
    </section>
  );
}

function StageError({ refused, error }: { refused: string | null; error: unknown }) {
  return refused ? (
    <div className="error" role="alert" data-testid="stage-change-refused">
      {refused} <span className="muted">({error instanceof Error ? error.message : ""})</span>
    </div>
  ) : (
    <ErrorBox error={error} />
  );
}

/** An accessible modal dialog (<dialog> with showModal: focus trapped, Escape cancels). */
function ConfirmDialog({
  open,
  title,
  text,
  busy,
  onConfirm,
  onCancel,
  children,
}: {
  open: boolean;
  title: string;
  text: string;
  busy: boolean;
  onConfirm: () => void;
  onCancel: () => void;
  children?: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      className="confirm"
      aria-labelledby="confirm-title"
      aria-describedby="confirm-text"
      onCancel={(event) => {
        event.preventDefault();
        onCancel();
      }}
      data-testid="confirm-dialog"
    >
      <h2 id="confirm-title">{title}</h2>
      <p id="confirm-text">{text}</p>
      {children}
      <div className="buttons">
        <button type="button" onClick={onCancel} data-testid="confirm-cancel">
          Cancel
        </button>
        <button type="button" onClick={onConfirm} disabled={busy} data-testid="confirm-ok">
          {busy ? "Working…" : "Confirm"}
        </button>
      </div>
    </dialog>
  );
}

function CompareSection({ name, a, b }: { name: string; a: number; b: number }) {
  const compare = useModelCompare(name, a, b);
  return (
    <section aria-label="Compare versions" data-testid="model-compare" data-a={a} data-b={b}>
      <h2>
        v{a} and v{b}
      </h2>
      {compare.isLoading ? <Loading what="comparison" /> : null}
      <ErrorBox error={compare.error} />
      {compare.data ? <Comparison data={compare.data} /> : null}
    </section>
  );
}

function Comparison({ data }: { data: ModelComparison }) {
  const side = (label: "a" | "b") => {
    const s = data[label];
    return (
      <Facts
        items={[
          ["Version", `v${s.version}`],
          ["Stage", s.stage],
          ["Run", <Link to={`/runs/${enc(s.run_id)}`}>{shortId(s.run_id)}</Link>],
          ["Artifact", <Link to={`/artifacts/${enc(s.artifact_id)}`}>{shortId(s.artifact_id)}</Link>],
          ["Ancestors", label === "a" ? data.ancestors_a : data.ancestors_b],
        ]}
      />
    );
  };
  const changedParams = data.params.filter((p) => p.changed).length;
  const changedMetrics = data.metrics.filter((m) => m.changed).length;
  return (
    <>
      <div className="two-col">
        <section aria-label={`Version ${data.a.version}`}>{side("a")}</section>
        <section aria-label={`Version ${data.b.version}`}>{side("b")}</section>
      </div>
      <p className="muted">
        {changedParams} of {data.params.length} parameters and {changedMetrics} of {data.metrics.length} metrics differ
        {data.artifacts_same ? "; both are the same artifact" : ""}
        {data.training_data_same ? "; trained on the same data" : "; trained on different data"}.
      </p>
      <h3>Parameters</h3>
      <ValuesTable rows={data.params} a={data.a.version} b={data.b.version} testId="compare-params" />
      <h3>Metrics</h3>
      <ValuesTable rows={data.metrics} a={data.a.version} b={data.b.version} testId="compare-metrics" delta />
    </>
  );
}

function ValuesTable({
  rows,
  a,
  b,
  testId,
  delta = false,
}: {
  rows: ModelCompareValue[];
  a: number;
  b: number;
  testId: string;
  delta?: boolean;
}) {
  if (rows.length === 0) return <p className="muted">None.</p>;
  return (
    <div className="table-wrap">
      <table className="records" data-testid={testId}>
        <thead>
          <tr>
            <th scope="col">name</th>
            <th scope="col">v{a}</th>
            <th scope="col">v{b}</th>
            {delta ? <th scope="col">change</th> : null}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr
              key={row.name}
              className={row.changed ? "changed" : undefined}
              data-testid="compare-row"
              data-name={row.name}
              data-changed={row.changed ? "true" : "false"}
            >
              <th scope="row">
                {row.name}
                {row.changed ? <span className="muted"> (differs)</span> : null}
              </th>
              <td className="num">{formatValue(row.a)}</td>
              <td className="num">{formatValue(row.b)}</td>
              {delta ? <td className="num">{row.delta === null ? "" : formatSigned(row.delta)}</td> : null}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function formatSigned(value: number): string {
  return `${value > 0 ? "+" : ""}${formatValue(value)}`;
}
