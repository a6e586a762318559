import { useEffect, useId, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { collapse, groupedByTag, groupKeyOf, groupsOf, initialCollapsed, neighbourhood, type GroupNode } from "../lib/dag/groups";
import { useLayout } from "../lib/dag/useLayout";
import { usePanZoom } from "../lib/dag/usePanZoom";
import { centreOn, fit, panBy, zoomAt } from "../lib/dag/viewport";
import type { LaidOutNode } from "../lib/dagLayout";
import { statusClass } from "../lib/format";
import "./dag.css";

export interface DagNode {
  id: string;
  label?: string;
  status?: string | null;
  /** Attempts made: more than one means the step was retried. */
  attempts?: number | null;
  /** The step's tags, sorted: when any node has some, groups are by first tag. */
  tags?: readonly string[] | null;
  /** A mapped step's elements recorded so far, by status: shown as passed/recorded. */
  elements?: Readonly<Record<string, number>> | null;
}

/** "3/4" for a map whose 4 recorded elements include 3 that passed (completed or cached). */
export function elementsMark(elements: Readonly<Record<string, number>> | null | undefined): string {
  if (!elements) return "";
  const total = Object.values(elements).reduce((a, b) => a + b, 0);
  const passed = (elements.completed ?? 0) + (elements.cached ?? 0);
  return `${passed}/${total}`;
}

/** Above this many nodes the graph starts collapsed into groups (and says so). */
export const COLLAPSE_ABOVE = 120;
/** Above this many drawn nodes (after collapsing) nothing is drawn: focus or collapse. */
export const MAX_DRAWN_NODES = 1500;
/** Edges followed each way from a focused node. */
export const FOCUS_DEPTH = 2;
const VIEW_HEIGHT = 560;
const MARGIN = 12;
const LABEL_CHARS = 20;

/**
 * A DAG drawn left to right as SVG, laid out in a Web Worker: nodes coloured by status
 * and marked when cached, retried or timed out; each a button (click, Enter or Space)
 * calling onSelect. Wheel to zoom, drag to pan; big graphs start collapsed into groups
 * (by tag when steps have tags, else by name: see lib/dag/groups.ts), a group expands when clicked; "Focus" shows only the
 * selected node's neighbourhood.
 */
export function DagView({
  nodes,
  edges,
  selected,
  onSelect,
  label,
  collapseAbove = COLLAPSE_ABOVE,
}: {
  nodes: DagNode[];
  edges: Array<[string, string]>;
  selected?: string | null;
  onSelect?: (id: string) => void;
  label: string;
  collapseAbove?: number;
}) {
  const markerId = `arrow-${useId().replace(/[^a-zA-Z0-9_-]/g, "")}`;
  const byId = useMemo(() => new Map(nodes.map((n) => [n.id, n])), [nodes]);
  // Only a change of the graph's shape (not of a status) lays it out again.
  // Tags are part of the shape: a running step's arrive when it is recorded, and regroup it.
  const shape = `${nodes.map((n) => `${n.id}\u0001${n.label ?? ""}\u0001${(n.tags ?? []).join("\u0003")}`).join("\u0000")}\u0002${edges.map((e) => e.join("\u0001")).join("\u0000")}`;
  const byTag = useMemo(() => groupedByTag(nodes), [shape]); // eslint-disable-line react-hooks/exhaustive-deps
  const groups = useMemo(
    () => groupsOf(nodes, groupKeyOf(nodes, (id) => byId.get(id)?.label ?? id)),
    [shape], // eslint-disable-line react-hooks/exhaustive-deps
  );
  // The groups' member statuses, current with every refresh (the structure above is not
  // recomputed for a status change, so the layout and the zoom stay).
  const liveGroups = useMemo(() => groupsOf(nodes, groupKeyOf(nodes, (id) => byId.get(id)?.label ?? id)), [nodes, byId]);
  const [collapsed, setCollapsed] = useState<Set<string> | null>(null);
  const shut = collapsed ?? initialCollapsed(nodes.length, groups, collapseAbove);
  const [focus, setFocus] = useState<string | null>(null);
  const graph = useMemo(() => {
    if (focus && byId.has(focus)) {
      const keep = neighbourhood(focus, edges, FOCUS_DEPTH);
      return collapse(nodes.filter((n) => keep.has(n.id)), edges, groups, new Set());
    }
    return collapse(nodes, edges, groups, shut);
  }, [shape, focus, [...shut].join("\u0000")]); // eslint-disable-line react-hooks/exhaustive-deps
  const tooMany = graph.ids.length > MAX_DRAWN_NODES;
  const { layout, ms, inWorker } = useLayout(tooMany ? [] : graph.ids, tooMany ? [] : graph.edges);

  const [svgEl, setSvgEl] = useState<SVGSVGElement | null>(null);
  const [wrapEl, setWrapEl] = useState<HTMLDivElement | null>(null);
  const [view, setView] = usePanZoom(svgEl, { x: MARGIN, y: MARGIN, k: 1 });
  const width = useWidth(wrapEl);
  const height = layout ? Math.min(VIEW_HEIGHT, Math.max(120, layout.height + 2 * MARGIN)) : 120;
  // Fit the drawing when what is drawn changes (not when a status does).
  const fitted = useRef<unknown>(null);
  useEffect(() => {
    if (!layout || fitted.current === layout || width === 0) return;
    fitted.current = layout;
    setView(fit(layout.width, layout.height, width, height, MARGIN));
  }, [layout, width, height, setView]);

  if (nodes.length === 0) return <p className="muted">No steps.</p>;
  const laid = new Map((layout?.nodes ?? []).map((n) => [n.id, n]));
  const key = (action: () => void) => (event: KeyboardEvent) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      action();
    }
  };
  const expand = (g: GroupNode) => setCollapsed(new Set([...shut].filter((k) => k !== g.key)));
  const focusOn = (id: string) => {
    setFocus(id);
    fitted.current = null;
  };
  const selectedNode = selected ? laid.get(selected) : undefined;
  const onKeys = (event: KeyboardEvent<HTMLDivElement>) => {
    if (event.target !== event.currentTarget) return;
    const moves: Record<string, [number, number]> = { ArrowLeft: [60, 0], ArrowRight: [-60, 0], ArrowUp: [0, 60], ArrowDown: [0, -60] };
    const move = moves[event.key];
    if (move) setView((v) => panBy(v, move[0], move[1]));
    else if (event.key === "+" || event.key === "=") setView((v) => zoomAt(v, 1.25, width / 2, height / 2));
    else if (event.key === "-") setView((v) => zoomAt(v, 0.8, width / 2, height / 2));
    else return;
    event.preventDefault();
  };
  const collapsedCount = graph.groups.size;
  return (
    <div className="dag-view" data-testid="dag-view">
      <div className="dag-toolbar" role="toolbar" aria-label="DAG view">
        <button type="button" onClick={() => setView((v) => zoomAt(v, 1.25, width / 2, height / 2))} aria-label="zoom in">
          +
        </button>
        <button type="button" onClick={() => setView((v) => zoomAt(v, 0.8, width / 2, height / 2))} aria-label="zoom out">
          −
        </button>
        <button type="button" data-testid="dag-fit" onClick={() => layout && setView(fit(layout.width, layout.height, width, height, MARGIN))}>
          Fit
        </button>
        {groups.size > 0 ? (
          <>
            <button type="button" data-testid="dag-expand-all" onClick={() => setCollapsed(new Set())} disabled={shut.size === 0}>
              Expand all
            </button>
            <button type="button" data-testid="dag-collapse-all" onClick={() => setCollapsed(new Set(groups.keys()))} disabled={shut.size === groups.size}>
              Collapse groups
            </button>
          </>
        ) : null}
        {selected && byId.has(selected) && focus !== selected ? (
          <button type="button" data-testid="dag-focus" onClick={() => focusOn(selected)}>
            Focus on {selected.length > 24 ? `${selected.slice(0, 23)}…` : selected}
          </button>
        ) : null}
        {focus ? (
          <button type="button" data-testid="dag-unfocus" onClick={() => focusOn("")}>
            Show the whole graph
          </button>
        ) : null}
        {selectedNode ? (
          <button type="button" onClick={() => setView(centreOn(selectedNode.x + selectedNode.width / 2, selectedNode.y + selectedNode.height / 2, width, height, Math.max(view.k, 0.8)))}>
            Centre on selected
          </button>
        ) : null}
        <span className="muted dag-note" data-testid="dag-note">
          {focus
            ? `${graph.ids.length} of ${nodes.length} steps: within ${FOCUS_DEPTH} edges of ${focus}.`
            : collapsedCount > 0
              ? `${nodes.length} steps, drawn as ${graph.ids.length} nodes: ${collapsedCount} groups collapsed (${byTag ? "grouped by tag" : "by name"}); click a group to expand it.`
              : `${nodes.length} steps.`}
        </span>
      </div>
      {tooMany ? (
        <p className="muted" data-testid="dag-too-large">
          {graph.ids.length} nodes: too many to draw at once. Collapse the groups or focus on a step.
        </p>
      ) : null}
      <div className="dag-scroll dag-canvas" ref={setWrapEl} tabIndex={0} onKeyDown={onKeys} aria-label={`${label}: arrows pan, + and - zoom`}>
        <svg
          ref={setSvgEl}
          className="dag"
          data-testid="dag"
          role="group"
          aria-label={label}
          width="100%"
          height={height}
          data-layout={layout ? (inWorker ? "worker" : "sync") : "pending"}
          data-layout-ms={ms === null ? "" : ms.toFixed(1)}
          data-drawn={layout?.nodes.length ?? 0}
          data-scale={view.k.toFixed(3)}
          data-pan={`${view.x.toFixed(0)},${view.y.toFixed(0)}`}
        >
          <defs>
            <marker id={markerId} viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">
              <path d="M0,0 L10,5 L0,10 z" className="dag-arrow" />
            </marker>
          </defs>
          <rect className="dag-backdrop" width="100%" height="100%" />
          <g transform={`translate(${view.x},${view.y}) scale(${view.k})`}>
            {(layout?.edges ?? []).map((e) => (
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
            {(layout?.nodes ?? []).map((n) => {
              const shutGroup = graph.groups.get(n.id);
              const group = shutGroup ? (liveGroups.get(shutGroup.key) ?? shutGroup) : undefined;
              if (group) return <GroupBox key={n.id} n={n} group={group} onExpand={() => expand(group)} onKey={key(() => expand(group))} />;
              const node = byId.get(n.id);
              if (!node) return null;
              return (
                <StepBox
                  key={n.id}
                  n={n}
                  node={node}
                  isSelected={selected === n.id}
                  onSelect={onSelect ? () => onSelect(n.id) : undefined}
                  onKey={onSelect ? key(() => onSelect(n.id)) : undefined}
                />
              );
            })}
          </g>
        </svg>
      </div>
    </div>
  );
}

function StepBox({
  n,
  node,
  isSelected,
  onSelect,
  onKey,
}: {
  n: LaidOutNode;
  node: DagNode;
  isSelected: boolean;
  onSelect?: () => void;
  onKey?: (event: KeyboardEvent) => void;
}) {
  const text = node.label ?? n.id;
  const status = node.status ?? null;
  const retried = (node.attempts ?? 0) > 1;
  const mapped = elementsMark(node.elements);
  const marks = [mapped, status === "cached" ? "cached" : "", retried ? `×${node.attempts}` : "", status === "timed_out" ? "timeout" : ""].filter(Boolean);
  const described = `${text}${status ? `: ${status}` : ""}${retried ? `, ${node.attempts} attempts` : ""}${mapped ? `, elements ${mapped} passed` : ""}`;
  const shown = marks.length ? LABEL_CHARS - Math.max(6, marks.join(" ").length) : LABEL_CHARS;
  return (
    <g
      className={`dag-node ${statusClass(status)}${isSelected ? " selected" : ""}`}
      transform={`translate(${n.x},${n.y})`}
      role={onSelect ? "button" : undefined}
      tabIndex={onSelect ? 0 : undefined}
      aria-pressed={onSelect ? isSelected : undefined}
      aria-label={described}
      onClick={onSelect}
      onKeyDown={onKey}
      data-testid="dag-node"
      data-node-id={n.id}
      data-status={status ?? ""}
      data-cached={status === "cached" ? "true" : "false"}
      data-retried={retried ? "true" : "false"}
      data-timed-out={status === "timed_out" ? "true" : "false"}
      data-elements={mapped}
    >
      <title>{described}</title>
      <rect width={n.width} height={n.height} rx="6" />
      <text x="12" y={n.height / 2} dominantBaseline="central">
        {text.length > shown ? `${text.slice(0, shown - 1)}…` : text}
      </text>
      {marks.length ? (
        <text x={n.width - 8} y={n.height / 2} dominantBaseline="central" textAnchor="end" className="dag-mark">
          {marks.join(" ")}
        </text>
      ) : null}
      {status === "running" ? <rect className="dag-running-bar" x="0" y={n.height - 4} width={n.width} height="4" /> : null}
    </g>
  );
}

function GroupBox({ n, group, onExpand, onKey }: { n: LaidOutNode; group: GroupNode; onExpand: () => void; onKey: (event: KeyboardEvent) => void }) {
  const total = group.members.length;
  let offset = 0;
  const summary = Object.entries(group.statuses)
    .map(([s, c]) => `${c} ${s}`)
    .join(", ");
  return (
    <g
      className={`dag-node dag-group ${statusClass(group.status)}`}
      transform={`translate(${n.x},${n.y})`}
      role="button"
      tabIndex={0}
      aria-label={`group ${group.key}: ${total} steps (${summary}); expand`}
      onClick={onExpand}
      onKeyDown={onKey}
      data-testid="dag-group"
      data-group={group.key}
      data-count={total}
      data-status={group.status}
    >
      <title>{`${group.key}: ${total} steps (${summary}). Click to expand.`}</title>
      <rect width={n.width} height={n.height} rx="6" className="dag-group-box" />
      <text x="12" y={n.height / 2 - 2} dominantBaseline="central">
        {group.key.length > LABEL_CHARS - 6 ? `${group.key.slice(0, LABEL_CHARS - 7)}…` : group.key} ▸ {total}
      </text>
      {Object.entries(group.statuses).map(([s, c]) => {
        const w = (c / total) * (n.width - 8);
        const bar = <rect key={s} className={`dag-group-bar ${statusClass(s)}`} x={4 + offset} y={n.height - 7} width={w} height="4" />;
        offset += w;
        return bar;
      })}
    </g>
  );
}

/** The element's width, kept current as it resizes. */
function useWidth(el: HTMLElement | null): number {
  const [width, setWidth] = useState(0);
  useEffect(() => {
    if (!el) return;
    setWidth(el.clientWidth);
    if (typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.observe(el);
    return () => observer.disconnect();
  }, [el]);
  return width;
}
