// The DAG layout off the main thread: a 500-step graph is laid out here while the page
// stays responsive. Messages in: { id, ids, edges, options }; out: { id, layout, ms }.
import { layoutDag, type Layout, type LayoutOptions } from "./dagLayout";

export interface LayoutRequest {
  id: number;
  ids: string[];
  edges: Array<[string, string]>;
  options?: Partial<LayoutOptions>;
}

export interface LayoutReply {
  id: number;
  layout: Layout;
  /** Milliseconds the layout took in the worker. */
  ms: number;
}

self.onmessage = (event: MessageEvent<LayoutRequest>) => {
  const { id, ids, edges, options } = event.data;
  const t = performance.now();
  const layout = layoutDag(ids, edges, options);
  const reply: LayoutReply = { id, layout, ms: performance.now() - t };
  self.postMessage(reply);
};
