// Wheel zoom and drag pan on an SVG element (pointer events; a drag that starts on a node
// or group is left to its click). The wheel listener is not passive, so the page does not
// scroll while the drawing zooms.
import { useEffect, useRef, useState } from "react";
import { panBy, wheelFactor, zoomAt, type Viewport } from "./viewport";

/** `svg` is the element itself (held in state by the caller), so the listeners follow it
 * when it is drawn after the first render. */
export function usePanZoom(svg: SVGSVGElement | null, initial: Viewport) {
  const [view, setView] = useState<Viewport>(initial);
  const drag = useRef<{ x: number; y: number; id: number } | null>(null);
  useEffect(() => {
    if (!svg) return;
    const onWheel = (event: WheelEvent) => {
      event.preventDefault();
      const box = svg.getBoundingClientRect();
      const factor = wheelFactor(event.deltaMode === 1 ? event.deltaY * 30 : event.deltaY);
      setView((v) => zoomAt(v, factor, event.clientX - box.left, event.clientY - box.top));
    };
    const onDown = (event: PointerEvent) => {
      if (event.button !== 0) return;
      if ((event.target as Element | null)?.closest?.(".dag-node, .dag-group")) return;
      drag.current = { x: event.clientX, y: event.clientY, id: event.pointerId };
      svg.setPointerCapture(event.pointerId);
      svg.classList.add("panning");
    };
    const onMove = (event: PointerEvent) => {
      const d = drag.current;
      if (!d || d.id !== event.pointerId) return;
      const dx = event.clientX - d.x;
      const dy = event.clientY - d.y;
      drag.current = { ...d, x: event.clientX, y: event.clientY };
      setView((v) => panBy(v, dx, dy));
    };
    const onUp = (event: PointerEvent) => {
      if (drag.current?.id !== event.pointerId) return;
      drag.current = null;
      svg.classList.remove("panning");
      if (svg.hasPointerCapture(event.pointerId)) svg.releasePointerCapture(event.pointerId);
    };
    svg.addEventListener("wheel", onWheel, { passive: false });
    svg.addEventListener("pointerdown", onDown);
    svg.addEventListener("pointermove", onMove);
    svg.addEventListener("pointerup", onUp);
    svg.addEventListener("pointercancel", onUp);
    return () => {
      svg.removeEventListener("wheel", onWheel);
      svg.removeEventListener("pointerdown", onDown);
      svg.removeEventListener("pointermove", onMove);
      svg.removeEventListener("pointerup", onUp);
      svg.removeEventListener("pointercancel", onUp);
    };
  }, [svg]);
  return [view, setView] as const;
}
