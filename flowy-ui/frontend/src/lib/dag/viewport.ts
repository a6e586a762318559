// Zoom and pan of a drawing: a scale `k` and an offset (x, y) in screen pixels, so a
// drawing point p appears at (p.x * k + x, p.y * k + y). Pure.

export interface Viewport {
  x: number;
  y: number;
  k: number;
}

export const MIN_SCALE = 0.05;
export const MAX_SCALE = 4;

const clamp = (k: number) => Math.min(MAX_SCALE, Math.max(MIN_SCALE, k));

/** Zoom by `factor` keeping the drawing point under screen point (sx, sy) in place. */
export function zoomAt(v: Viewport, factor: number, sx: number, sy: number): Viewport {
  const k = clamp(v.k * factor);
  const f = k / v.k;
  return { k, x: sx - (sx - v.x) * f, y: sy - (sy - v.y) * f };
}

export function panBy(v: Viewport, dx: number, dy: number): Viewport {
  return { ...v, x: v.x + dx, y: v.y + dy };
}

/** The whole drawing (w x h) inside a view (vw x vh) with `margin`, never enlarged past 1. */
export function fit(w: number, h: number, vw: number, vh: number, margin = 12): Viewport {
  if (w <= 0 || h <= 0) return { x: margin, y: margin, k: 1 };
  const k = clamp(Math.min(1, (vw - 2 * margin) / w, (vh - 2 * margin) / h));
  return { k, x: (vw - w * k) / 2, y: Math.max(margin, (vh - h * k) / 2) };
}

/** Centre drawing point (px, py) in the view at scale `k`. */
export function centreOn(px: number, py: number, vw: number, vh: number, k: number): Viewport {
  const kk = clamp(k);
  return { k: kk, x: vw / 2 - px * kk, y: vh / 2 - py * kk };
}

/** The scale a wheel event's deltaY asks for (smooth for trackpads, steps for wheels). */
export function wheelFactor(deltaY: number): number {
  return Math.exp(-Math.max(-300, Math.min(300, deltaY)) * 0.0015);
}
