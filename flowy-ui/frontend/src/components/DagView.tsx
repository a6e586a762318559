import { useId, useMemo, type KeyboardEvent } from "react";
import { layoutDag } from "../lib/dagLayout";
import { statusClass } from "../lib/format";

export interface DagNode {
  id: string;
  label?: string;
  status?: string | null;
}

/** Above this many nodes the graph is not drawn (the list below it still is). */
export const MAX_DRAWN_NODES = 1500;
const MARGIN = 8;
const LABEL_CHARS = 20;

/**
 * A DAG drawn left to right as SVG: nodes coloured by status, each a button (click,
 * Enter or Space) that calls onSelect with its id.
 */
export function DagView({
  nodes,
  edges,
  selected,
  onSelect,
  label,
}: {
  nodes: DagNode[];
  edges: Array<[string, string]>;
  selected?: string | null;
  onSelect?: (id: string) => void;
  label: string;
}) {
  const markerId = `arrow-${useId().replace(/[^a-zA-Z0-9_-]/g, "")}`;
  const layout = useMemo(
    () => (nodes.length > MAX_DRAWN_NODES ? null : layoutDag(nodes.map((n) => n.id), edges)),
    [nodes, edges],
  );
  if (nodes.length === 0) return <p className="muted">No steps.</p>;
  if (!layout) {
    return (
      <p className="muted" data-testid="dag-too-large">
        {nodes.length} nodes: too many to draw here.
      </p>
    );
  }
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const width = layout.width + 2 * MARGIN;
  const height = layout.height + 2 * MARGIN;
  const key = (id: string) => (event: KeyboardEvent) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      onSelect?.(id);
    }
  };
  return (
    <div className="dag-scroll">
      <svg
        className="dag"
        data-testid="dag"
        role="group"
        aria-label={label}
        width={width}
        height={height}
        viewBox={`${-MARGIN} ${-MARGIN} ${width} ${height}`}
      >
        <defs>
          <marker id={markerId} viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">
            <path d="M0,0 L10,5 L0,10 z" className="dag-arrow" />
          </marker>
        </defs>
        {layout.edges.map((e) => (
          <path
            key={`${e.from}\u0000${e.to}`}
            d={e.path}
            className={e.back ? "dag-edge back" : "dag-edge"}
            markerEnd={`url(#${markerId})`}
            data-testid="dag-edge"
            data-from={e.from}
            data-to={e.to}
          />
        ))}
        {layout.nodes.map((n) => {
          const node = byId.get(n.id);
          const text = node?.label ?? n.id;
          const status = node?.status ?? null;
          const isSelected = selected === n.id;
          return (
            <g
              key={n.id}
              className={`dag-node ${statusClass(status)}${isSelected ? " selected" : ""}`}
              transform={`translate(${n.x},${n.y})`}
              role={onSelect ? "button" : undefined}
              tabIndex={onSelect ? 0 : undefined}
              aria-pressed={onSelect ? isSelected : undefined}
              aria-label={`${text}${status ? `: ${status}` : ""}`}
              onClick={onSelect ? () => onSelect(n.id) : undefined}
              onKeyDown={onSelect ? key(n.id) : undefined}
              data-testid="dag-node"
              data-node-id={n.id}
              data-status={status ?? ""}
            >
              <title>{`${text}${status ? ` (${status})` : ""}`}</title>
              <rect width={n.width} height={n.height} rx="6" />
              <text x="12" y={n.height / 2} dominantBaseline="central">
                {text.length > LABEL_CHARS ? `${text.slice(0, LABEL_CHARS - 1)}…` : text}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
