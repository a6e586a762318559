import { seriesPath } from "../lib/chart";
import { formatNumber } from "../lib/format";
import type { MetricValue } from "../api/types";

const WIDTH = 240;
const HEIGHT = 90;

/** One metric's series as a small SVG line, with its range and last value. */
export function LineChart({ name, points }: { name: string; points: Array<[number, MetricValue]> }) {
  const drawn = seriesPath(points, WIDTH, HEIGHT);
  return (
    <figure className="chart" data-testid="metric-chart" data-metric={name}>
      <figcaption>
        <span className="chart-name">{name}</span>
        <span className="mono">{drawn.last === null ? "" : formatNumber(drawn.last)}</span>
      </figcaption>
      <svg width={WIDTH} height={HEIGHT} viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`${name} over ${points.length} points`}>
        <rect className="chart-bg" width={WIDTH} height={HEIGHT} />
        {drawn.path ? <path className="chart-line" d={drawn.path} /> : null}
        {drawn.dots.map(([x, y]) => (
          <circle key={`${x},${y}`} className="chart-dot" cx={x} cy={y} r={3} />
        ))}
      </svg>
      <div className="chart-range muted mono">
        {drawn.min === null ? "no finite values" : `min ${formatNumber(drawn.min)} · max ${formatNumber(drawn.max ?? drawn.min)}`}
      </div>
    </figure>
  );
}
