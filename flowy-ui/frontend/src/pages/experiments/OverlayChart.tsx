import { useMemo } from "react";
import type { MetricValue } from "../../api/types";
import { formatNumber, toNumber } from "../../lib/format";

const WIDTH = 520;
const HEIGHT = 220;
const PAD = 8;

/**
 * One metric's series of several runs in one SVG, on shared scales; a run is a line in
 * its colour (the best run thicker). Series arrive downsampled by the server.
 */
export function OverlayChart({
  metric,
  series,
  colours,
  bestRunId,
}: {
  metric: string;
  series: Record<string, Array<[number, MetricValue]>>;
  colours: Map<string, string>;
  bestRunId?: string | null;
}) {
  const drawn = useMemo(() => overlay(series), [series]);
  return (
    <figure className="chart overlay" data-testid="overlay-chart" data-metric={metric} data-lines={drawn.lines.length}>
      <figcaption>
        <span className="chart-name">{metric}</span>
        <span className="muted mono">
          {drawn.min === null ? "no finite values" : `${formatNumber(drawn.min)} … ${formatNumber(drawn.max ?? drawn.min)}`}
        </span>
      </figcaption>
      <svg width={WIDTH} height={HEIGHT} viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`${metric} of ${drawn.lines.length} runs`}>
        <rect className="chart-bg" width={WIDTH} height={HEIGHT} />
        {drawn.lines.map((line) => (
          <path
            key={line.runId}
            d={line.path}
            className={`overlay-line${line.runId === bestRunId ? " best" : ""}`}
            stroke={colours.get(line.runId) ?? "currentColor"}
            data-testid="overlay-line"
            data-run-id={line.runId}
          >
            <title>{line.runId}</title>
          </path>
        ))}
        {drawn.lines.map((line) =>
          line.dot ? (
            <circle key={`dot:${line.runId}`} cx={line.dot[0]} cy={line.dot[1]} r={line.runId === bestRunId ? 5 : 3.5} fill={colours.get(line.runId) ?? "currentColor"}>
              <title>{line.runId}</title>
            </circle>
          ) : null,
        )}
      </svg>
    </figure>
  );
}

/** Every run's series scaled to one box; a line breaks at non-finite values. */
export function overlay(series: Record<string, Array<[number, MetricValue]>>) {
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (const points of Object.values(series)) {
    for (const [x, raw] of points) {
      const y = toNumber(raw);
      if (y === null || !Number.isFinite(y) || !Number.isFinite(x)) continue;
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
    }
  }
  const finite = Number.isFinite(minY);
  const sx = (x: number) => (maxX === minX ? WIDTH / 2 : PAD + ((x - minX) / (maxX - minX)) * (WIDTH - 2 * PAD));
  const sy = (y: number) => (maxY === minY ? HEIGHT / 2 : HEIGHT - PAD - ((y - minY) / (maxY - minY)) * (HEIGHT - 2 * PAD));
  const lines = Object.entries(series).map(([runId, points]) => {
    const parts: string[] = [];
    let pen = false;
    for (const [x, raw] of points) {
      const y = toNumber(raw);
      if (y === null || !Number.isFinite(y) || !Number.isFinite(x)) {
        pen = false;
        continue;
      }
      parts.push(`${pen ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
      pen = true;
    }
    // A series of one value (a final metric) is drawn as a dot.
    const dot = parts.length === 1 ? (parts[0] ?? "").slice(1).split(",").map(Number) : null;
    return { runId, path: parts.join(" "), dot: dot && dot.length === 2 ? (dot as [number, number]) : null };
  });
  return { lines, min: finite ? minY : null, max: finite ? maxY : null };
}
