import { useState, type FormEvent } from "react";

const EXAMPLES = [
  "status:failed pipeline:train",
  "metrics.r2>0.9 params.alpha=0.1",
  "status:(failed,crashed) or duration>3600",
  'metrics.r2:0.5..0.9 pipeline:"my pipe"',
  "started>=2026-12-01 run:3f2a",
];

/**
 * The runs filter, in the filter language the server parses (its message is shown
 * inline when it cannot). Applied on Enter or "Apply"; the grammar is one click away.
 */
export function FilterBox({
  value,
  error,
  shorthand,
  onApply,
}: {
  value: string;
  /** The server's message for a filter it could not read, if any. */
  error: string | null;
  /** Filters of an older link (`?status=failed`), shown so they can be cleared. */
  shorthand: Record<string, string | undefined>;
  onApply: (q: string, clearShorthand?: boolean) => void;
}) {
  const [draft, setDraft] = useState(value);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onApply(draft.trim());
  };
  const extra = Object.entries(shorthand).filter(([, v]) => v);
  return (
    <form className="filters filter-box" onSubmit={submit} role="search" aria-label="Filter runs" data-testid="run-filters">
      <label className="filter-query">
        Filter
        <input
          type="search"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          placeholder="status:failed metrics.r2>0.9 params.alpha=0.1"
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? "filter-error" : undefined}
          spellCheck={false}
          size={48}
          data-testid="filter-q"
        />
      </label>
      <button type="submit" data-testid="filter-apply">
        Apply
      </button>
      <button
        type="button"
        onClick={() => {
          setDraft("");
          onApply("", true);
        }}
        data-testid="filter-clear"
      >
        Clear
      </button>
      {extra.length > 0 ? (
        <span className="muted" data-testid="filter-shorthand">
          and {extra.map(([k, v]) => `${k}:${v}`).join(" ")}
        </span>
      ) : null}
      {error ? (
        <div className="error" role="alert" id="filter-error" data-testid="filter-error">
          {error}
        </div>
      ) : null}
      <details className="filter-help" data-testid="filter-help">
        <summary>Filter syntax</summary>
        <p>
          Conditions side by side must all hold; <code>or</code> between them needs one; parentheses group.
          Fields: <code>status</code>, <code>pipeline</code>, <code>experiment</code>, <code>stack</code>,{" "}
          <code>run</code> (id prefix), <code>started</code> (ISO date or epoch seconds), <code>duration</code>{" "}
          (seconds), <code>params.NAME</code>, <code>metrics.NAME</code> (last value). Operators: <code>:</code> or{" "}
          <code>=</code>, <code>!=</code>, <code>&gt;</code>, <code>&gt;=</code>, <code>&lt;</code>, <code>&lt;=</code>;
          lists <code>status:(failed,crashed)</code>; ranges <code>metrics.r2:0.5..0.9</code>; quotes for spaces.
        </p>
        <ul>
          {EXAMPLES.map((example) => (
            <li key={example}>
              <button type="button" className="link" onClick={() => setDraft(example)}>
                <code>{example}</code>
              </button>
            </li>
          ))}
        </ul>
      </details>
    </form>
  );
}
