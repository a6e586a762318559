import { itemsOf, usePlugins, useStacks } from "../../api/queries";
import { ErrorBox, Loading } from "../../components/ErrorBox";
import { RecordsTable } from "../../components/RecordsTable";
import { formatValue } from "../../lib/format";
import { StackHealthPanel } from "./StackHealthPanel";

/** A stack's components as "kind: type" pairs, each component's options in its tooltip. */
function stackCell(column: string, row: Record<string, unknown>) {
  const value = row[column];
  if (column !== "components" || !value || typeof value !== "object") return undefined;
  return (
    <ul className="inline-list">
      {Object.entries(value as Record<string, unknown>).map(([kind, spec]) => {
        const fields = spec && typeof spec === "object" ? (spec as Record<string, unknown>) : {};
        const kindName = fields.type ?? fields.name;
        const name = typeof kindName === "string" ? kindName : formatValue(spec);
        return (
          <li key={kind} title={formatValue(spec)}>
            <span className="muted">{kind}:</span> {name}
          </li>
        );
      })}
    </ul>
  );
}

/** The stacks (the active one marked) and the installed plugins. */
export function StacksPage() {
  const stacks = useStacks();
  const plugins = usePlugins();
  const body = stacks.data as { active?: unknown } | undefined;
  const active = typeof body?.active === "string" ? body.active : null;
  return (
    <>
      <h1>Stacks</h1>
      {stacks.isLoading ? <Loading what="stacks" /> : null}
      <ErrorBox error={stacks.error} />
      {active ? (
        <p>
          Active stack: <strong data-testid="active-stack">{active}</strong>
        </p>
      ) : null}
      {stacks.data ? (
        <RecordsTable rows={itemsOf(stacks.data)} render={stackCell} testId="stacks-table" empty="No stacks." />
      ) : null}
      {stacks.data ? (
        <>
          <h2>Health</h2>
          {itemsOf(stacks.data).map((row) =>
            typeof row.name === "string" ? (
              <StackHealthPanel key={row.name} name={row.name} active={row.name === active} />
            ) : null,
          )}
        </>
      ) : null}
      <h2>Plugins</h2>
      {plugins.isLoading ? <Loading what="plugins" /> : null}
      <ErrorBox error={plugins.error} />
      {plugins.data ? <RecordsTable rows={plugins.data} testId="plugins-table" empty="No plugins." /> : null}
    </>
  );
}
