// The layout of a graph, computed in a Web Worker (lib/dagLayout.worker.ts) so a big graph
// never blocks the page; small graphs (where a worker's start-up costs more than the
// layout) are laid out at once. Only the latest request's answer is used.
import { useEffect, useMemo, useRef, useState } from "react";
import { layoutDag, type Layout } from "../dagLayout";
import type { LayoutReply, LayoutRequest } from "../dagLayout.worker";

/** Graphs with fewer nodes are laid out synchronously. */
export const WORKER_FROM = 40;

export interface LayoutState {
  layout: Layout | null;
  /** Milliseconds the last layout took (in the worker, or here). */
  ms: number | null;
  inWorker: boolean;
}

export function useLayout(ids: string[], edges: Array<[string, string]>): LayoutState {
  const small = ids.length < WORKER_FROM || typeof Worker === "undefined";
  const sync = useMemo<LayoutState | null>(() => {
    if (!small) return null;
    const t = performance.now();
    const layout = layoutDag(ids, edges);
    return { layout, ms: performance.now() - t, inWorker: false };
  }, [small, ids, edges]);
  const [fromWorker, setFromWorker] = useState<LayoutState>({ layout: null, ms: null, inWorker: true });
  const worker = useRef<Worker | null>(null);
  const latest = useRef(0);
  useEffect(() => {
    if (small) return;
    if (!worker.current) {
      worker.current = new Worker(new URL("../dagLayout.worker.ts", import.meta.url), { type: "module" });
    }
    const w = worker.current;
    const id = ++latest.current;
    const onMessage = (event: MessageEvent<LayoutReply>) => {
      if (event.data.id === latest.current) setFromWorker({ layout: event.data.layout, ms: event.data.ms, inWorker: true });
    };
    w.addEventListener("message", onMessage);
    const request: LayoutRequest = { id, ids, edges };
    w.postMessage(request);
    return () => w.removeEventListener("message", onMessage);
  }, [small, ids, edges]);
  useEffect(
    () => () => {
      worker.current?.terminate();
      worker.current = null;
    },
    [],
  );
  return sync ?? fromWorker;
}
