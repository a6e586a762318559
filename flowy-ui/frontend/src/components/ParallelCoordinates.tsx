import { useMemo, useState } from "react";
import { formatNumber } from "../lib/format";
import { layoutParallel, type ParallelInput } from "../pages/experiments/parallel";

const HEIGHT = 260;
const PAD = 28;
const AXIS_GAP = 150;

/**
 * Parallel coordinates in SVG: one axis per parameter plus the metric (rightmost), one
 * line per run, coloured as in the other views; the best run drawn last and thicker.
 * Hovering or focusing a line names the run.
 */
export function ParallelCoordinates({
  input,
  colours,
  bestRunId,
}: {
  input: ParallelInput;
  colours: Map<string, string>;
  bestRunId?: string | null;
}) {
  const axesCount = input.params.length + (input.metric ? 1 : 0);
  const width = Math.max(360, (axesCount - 1) * AXIS_GAP + 2 * PAD);
  const layout = useMemo(() => layoutParallel(input, width, HEIGHT, PAD), [input, width]);
  const [hover, setHover] = useState<string | null>(null);
  if (axesCount === 0) return <p className="muted">No parameter differs and no metric is chosen.</p>;
  // The best run last, so it is drawn on top.
  const ordered = [...layout.lines].sort((a, b) => Number(a.runId === bestRunId) - Number(b.runId === bestRunId));
  return (
    <div className="compare-scroll">
      <svg
        className="parallel"
        data-testid="parallel-coordinates"
        width={layout.width}
        height={layout.height + 24}
        viewBox={`0 -16 ${layout.width} ${layout.height + 24}`}
        role="img"
        aria-label={`Parallel coordinates of ${input.runIds.length} runs`}
      >
        {layout.axes.map((axis) => (
          <g key={axis.name} className={axis.metric ? "pc-axis metric" : "pc-axis"} data-testid="pc-axis" data-name={axis.name}>
            <line x1={axis.x} x2={axis.x} y1={PAD} y2={HEIGHT - PAD} />
            <text x={axis.x} y={PAD - 14} textAnchor="middle" className="pc-name">
              {axis.name}
            </text>
            <text x={axis.x + 4} y={PAD + 4} className="pc-tick">
              {axis.kind === "number" ? formatNumber(axis.domain[1]) : (axis.categories[axis.categories.length - 1] ?? "")}
            </text>
            <text x={axis.x + 4} y={HEIGHT - PAD} className="pc-tick">
              {axis.kind === "number" ? formatNumber(axis.domain[0]) : (axis.categories[0] ?? "")}
            </text>
          </g>
        ))}
        {ordered.map((line) => (
          <path
            key={line.runId}
            d={line.path}
            className={`pc-line${line.runId === bestRunId ? " best" : ""}${hover && hover !== line.runId ? " faded" : ""}`}
            stroke={colours.get(line.runId) ?? "currentColor"}
            data-testid="pc-line"
            data-run-id={line.runId}
            data-best={line.runId === bestRunId ? "true" : "false"}
            onMouseEnter={() => setHover(line.runId)}
            onMouseLeave={() => setHover(null)}
          >
            <title>{line.runId}</title>
          </path>
        ))}
      </svg>
    </div>
  );
}
