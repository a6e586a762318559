import { splitColumn, toggleColumn } from "../lib/columns";

/**
 * Which parameter and metric columns the runs table shows (and the server sends):
 * a checkbox per name recorded in the store. The choice goes to the URL and is
 * remembered for the next visit.
 */
export function ColumnChooser({
  available,
  chosen,
  onChange,
}: {
  available: readonly string[];
  chosen: readonly string[];
  onChange: (columns: string[]) => void;
}) {
  const names = [...new Set([...chosen, ...available])];
  return (
    <details className="column-chooser" data-testid="column-chooser">
      <summary>
        Columns ({chosen.length} of {names.length})
      </summary>
      <fieldset>
        <legend className="muted">Parameters and metrics shown</legend>
        {names.length === 0 ? <p className="muted">No parameters or metrics recorded yet.</p> : null}
        {names.map((column) => {
          const [kind, name] = splitColumn(column);
          return (
            <label key={column} className="column-option">
              <input
                type="checkbox"
                checked={chosen.includes(column)}
                onChange={() => onChange(toggleColumn(chosen, column))}
                data-testid="column-option"
                data-column={column}
              />
              <span className="kv-kind">{kind}.</span>
              {name}
            </label>
          );
        })}
        <button type="button" onClick={() => onChange([])} data-testid="columns-none">
          None
        </button>
      </fieldset>
    </details>
  );
}
