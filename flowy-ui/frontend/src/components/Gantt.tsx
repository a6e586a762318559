import { useEffect, useMemo, useState } from "react";
import { layoutGantt, type TimedStep } from "../lib/dag/gantt";
import { formatDuration, statusClass } from "../lib/format";
import "./dag.css";

const LABEL_W = 180;
const ROW_H = 16;
const BAR_H = 11;
const AXIS_H = 20;

/**
 * A Gantt timeline of a run's steps: one row per step in start order, a bar from its start
 * to its end (a running step's bar grows, redrawn every second while `live`); steps that
 * never ran (cached, skipped) are listed last without a bar. Click a row to select its step.
 */
export function Gantt({
  steps,
  live,
  selected,
  onSelect,
}: {
  steps: TimedStep[];
  live: boolean;
  selected?: string | null;
  onSelect?: (step: string) => void;
}) {
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    if (!live) return;
    const timer = window.setInterval(() => setNow(Date.now() / 1000), 1000);
    return () => window.clearInterval(timer);
  }, [live]);
  const [width, setWidth] = useState(640);
  const chart = useMemo(() => layoutGantt(steps, width, now), [steps, width, now]);
  if (steps.length === 0) return <p className="muted">No steps.</p>;
  const height = AXIS_H + chart.rows.length * ROW_H + 4;
  return (
    <div className="gantt-scroll" ref={(el) => el && el.clientWidth - LABEL_W - 24 !== width && setWidth(Math.max(200, el.clientWidth - LABEL_W - 24))}>
      <svg
        className="gantt"
        data-testid="gantt"
        width={LABEL_W + width + 16}
        height={height}
        role="img"
        aria-label={`Timeline of ${steps.length} steps${chart.t0 !== null && chart.t1 !== null ? ` over ${formatDuration(chart.t1 - chart.t0)}` : ""}`}
      >
        <g transform={`translate(${LABEL_W},0)`}>
          {chart.ticks.map((tick) => (
            <g key={tick.t} className="gantt-tick">
              <line x1={tick.x} x2={tick.x} y1={AXIS_H - 4} y2={height} />
              <text x={tick.x + 2} y={AXIS_H - 8}>
                +{formatDuration(tick.t - (chart.t0 ?? tick.t))}
              </text>
            </g>
          ))}
        </g>
        {chart.rows.map((row, i) => (
          <g
            key={row.step}
            className={`gantt-row${row.step === selected ? " selected" : ""}`}
            transform={`translate(0,${AXIS_H + i * ROW_H})`}
            data-testid="gantt-row"
            data-step={row.step}
            data-status={row.status}
            data-start={row.start ?? ""}
            data-running={row.running ? "true" : "false"}
            onClick={onSelect ? () => onSelect(row.step) : undefined}
          >
            <title>{`${row.step}: ${row.status}${row.start !== null && row.end !== null ? `, ${formatDuration(row.end - row.start)}` : ""}`}</title>
            <text x={LABEL_W - 6} y={ROW_H / 2} dominantBaseline="central" textAnchor="end" className="gantt-label">
              {row.step.length > 26 ? `${row.step.slice(0, 25)}…` : row.step}
            </text>
            {row.x !== null && row.width !== null ? (
              <rect
                className={`gantt-bar ${statusClass(row.status)}`}
                x={LABEL_W + row.x}
                y={(ROW_H - BAR_H) / 2}
                width={row.width}
                height={BAR_H}
                rx="2"
                data-testid="gantt-bar"
              />
            ) : (
              <text x={LABEL_W + 4} y={ROW_H / 2} dominantBaseline="central" className="gantt-label muted">
                {row.status} (did not run)
              </text>
            )}
          </g>
        ))}
      </svg>
    </div>
  );
}
