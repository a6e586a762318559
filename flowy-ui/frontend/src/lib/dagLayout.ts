// A small layered ("Sugiyama-style") layout for pipeline DAGs and lineage graphs,
// drawn left to right. Pure and synchronous; fine for a few hundred nodes.
//
// 1. Layers by longest path: a node sits one layer right of its furthest predecessor,
//    so every edge goes left to right. Cycles (which a DAG should not have) are broken
//    by ignoring the edges that close them; those come back with `back: true`.
// 2. An edge longer than one layer becomes a chain through one small dummy node per
//    layer it crosses, so it is routed around the nodes in between, not through them.
// 3. Order inside each layer by barycentre: a few sweeps alternately sort each layer by
//    the mean position of its neighbours in the layer before (downward) or after
//    (upward); the ordering with the fewest crossings seen is kept.
// 4. Coordinates: layer -> x, position -> y, each layer centred vertically.

export interface LayoutOptions {
  nodeWidth: number;
  nodeHeight: number;
  /** Horizontal space between layers. */
  gapX: number;
  /** Vertical space between nodes of one layer. */
  gapY: number;
  /** Height of the slot a long edge takes in each layer it crosses. */
  dummyHeight: number;
  /** Barycentric sweeps (each is one down and one up pass). */
  sweeps: number;
}

export const DEFAULT_OPTIONS: LayoutOptions = {
  nodeWidth: 168,
  nodeHeight: 36,
  gapX: 56,
  gapY: 16,
  dummyHeight: 8,
  sweeps: 4,
};

export interface LaidOutNode {
  id: string;
  layer: number;
  order: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface LaidOutEdge {
  from: string;
  to: string;
  /** SVG path data from the source's right side to the target's left side. */
  path: string;
  /** True for an edge ignored to break a cycle (it may go right to left). */
  back: boolean;
}

export interface Layout {
  nodes: LaidOutNode[];
  edges: LaidOutEdge[];
  width: number;
  height: number;
  /** Crossings between edge segments of adjacent layers (long edges counted per layer). */
  crossings: number;
}

/**
 * Lay out `ids` (duplicates ignored) joined by `edges` ([from, to] pairs; edges naming an
 * unknown node, self-loops and repeated edges are dropped).
 */
export function layoutDag(
  ids: readonly string[],
  edges: ReadonlyArray<readonly [string, string]>,
  options: Partial<LayoutOptions> = {},
): Layout {
  const opt = { ...DEFAULT_OPTIONS, ...options };
  const nodes = [...new Set(ids)];
  const index = new Map(nodes.map((id, i) => [id, i]));
  const seen = new Set<string>();
  const pairs: Array<[number, number]> = [];
  for (const [from, to] of edges) {
    const a = index.get(from);
    const b = index.get(to);
    const key = `${a}\u0000${b}`;
    if (a === undefined || b === undefined || a === b || seen.has(key)) continue;
    seen.add(key);
    pairs.push([a, b]);
  }

  const { forward, back } = breakCycles(nodes.length, pairs);
  const layerOf = longestPathLayers(nodes.length, forward);

  // Long edges become chains through dummy nodes (numbered after the real ones).
  const slotLayer = [...layerOf];
  const chains: number[][] = [];
  const segments: Array<[number, number]> = [];
  for (const [a, b] of forward) {
    const chain = [a];
    for (let l = (layerOf[a] as number) + 1; l < (layerOf[b] as number); l++) {
      chain.push(slotLayer.length);
      slotLayer.push(l);
    }
    chain.push(b);
    for (let i = 0; i + 1 < chain.length; i++) segments.push([chain[i] as number, chain[i + 1] as number]);
    chains.push(chain);
  }
  const { layers, crossings } = orderLayers(slotLayer.length, segments, slotLayer, opt.sweeps);

  const slotHeight = (slot: number) => (slot < nodes.length ? opt.nodeHeight : opt.dummyHeight);
  const stack = (layer: number[]) =>
    layer.reduce((sum, slot) => sum + slotHeight(slot), 0) + Math.max(0, layer.length - 1) * opt.gapY;
  const fullHeight = Math.max(0, ...layers.map(stack));
  const x = new Array<number>(slotLayer.length).fill(0);
  const cy = new Array<number>(slotLayer.length).fill(0);
  const placed = new Array<LaidOutNode>(nodes.length);
  layers.forEach((layer, l) => {
    let y = (fullHeight - stack(layer)) / 2;
    let order = 0;
    for (const slot of layer) {
      x[slot] = l * (opt.nodeWidth + opt.gapX);
      cy[slot] = y + slotHeight(slot) / 2;
      if (slot < nodes.length) {
        placed[slot] = {
          id: nodes[slot] as string,
          layer: l,
          order: order++,
          x: x[slot],
          y,
          width: opt.nodeWidth,
          height: opt.nodeHeight,
        };
      }
      y += slotHeight(slot) + opt.gapY;
    }
  });

  const w = opt.nodeWidth;
  const chainPath = (chain: number[]): string => {
    const first = chain[0] as number;
    let path = `M${(x[first] as number) + w},${cy[first]}`;
    for (let i = 1; i < chain.length; i++) {
      const from = chain[i - 1] as number;
      const to = chain[i] as number;
      path += ` ${curveTo((x[from] as number) + w, cy[from] as number, x[to] as number, cy[to] as number)}`;
      if (i < chain.length - 1) path += ` L${(x[to] as number) + w},${cy[to]}`;
    }
    return path;
  };
  const id = (n: number) => nodes[n] as string;

  return {
    nodes: placed,
    edges: [
      ...forward.map(([a, b], i) => ({ from: id(a), to: id(b), path: chainPath(chains[i] as number[]), back: false })),
      ...back.map(([a, b]) => ({
        from: id(a),
        to: id(b),
        path: `M${(x[a] as number) + w},${cy[a]} ${curveTo((x[a] as number) + w, cy[a] as number, x[b] as number, cy[b] as number)}`,
        back: true,
      })),
    ],
    width: layers.length === 0 ? 0 : layers.length * opt.nodeWidth + (layers.length - 1) * opt.gapX,
    height: fullHeight,
    crossings,
  };
}

/** A cubic curve from (x1, y1) to (x2, y2), leaving and arriving horizontally. */
function curveTo(x1: number, y1: number, x2: number, y2: number): string {
  const dx = Math.max(24, (x2 - x1) / 2);
  return `C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
}

/** Kahn's algorithm; when it stalls on a cycle, the remaining node that comes first in
 * the input with the fewest unprocessed predecessors is taken and its remaining incoming
 * edges are set aside as back edges. */
function breakCycles(
  count: number,
  pairs: Array<[number, number]>,
): { forward: Array<[number, number]>; back: Array<[number, number]> } {
  const incoming: Array<Array<[number, number]>> = Array.from({ length: count }, () => []);
  const outgoing: Array<Array<[number, number]>> = Array.from({ length: count }, () => []);
  for (const pair of pairs) {
    incoming[pair[1]]?.push(pair);
    outgoing[pair[0]]?.push(pair);
  }
  const pending = incoming.map((list) => list.length);
  const done = new Array<boolean>(count).fill(false);
  const backSet = new Set<[number, number]>();
  const queue: number[] = [];
  for (let n = 0; n < count; n++) if (pending[n] === 0) queue.push(n);
  let processed = 0;
  while (processed < count) {
    if (queue.length === 0) {
      let pick = -1;
      for (let n = 0; n < count; n++) {
        if (!done[n] && (pick < 0 || (pending[n] as number) < (pending[pick] as number))) pick = n;
      }
      for (const pair of incoming[pick] ?? []) {
        if (!done[pair[0]]) backSet.add(pair);
      }
      pending[pick] = 0;
      queue.push(pick);
    }
    const n = queue.shift() as number;
    if (done[n]) continue;
    done[n] = true;
    processed += 1;
    for (const pair of outgoing[n] ?? []) {
      if (backSet.has(pair) || done[pair[1]]) continue;
      pending[pair[1]] = (pending[pair[1]] as number) - 1;
      if (pending[pair[1]] === 0) queue.push(pair[1]);
    }
  }
  return {
    forward: pairs.filter((p) => !backSet.has(p)),
    back: pairs.filter((p) => backSet.has(p)),
  };
}

/** layer(n) = 0 for a node without predecessors, else 1 + the largest predecessor layer. */
function longestPathLayers(count: number, forward: Array<[number, number]>): number[] {
  const preds: number[][] = Array.from({ length: count }, () => []);
  const succs: number[][] = Array.from({ length: count }, () => []);
  const indegree = new Array<number>(count).fill(0);
  for (const [a, b] of forward) {
    preds[b]?.push(a);
    succs[a]?.push(b);
    indegree[b] = (indegree[b] as number) + 1;
  }
  const layer = new Array<number>(count).fill(0);
  const queue: number[] = [];
  for (let n = 0; n < count; n++) if (indegree[n] === 0) queue.push(n);
  for (let head = 0; head < queue.length; head++) {
    const n = queue[head] as number;
    for (const s of succs[n] ?? []) {
      layer[s] = Math.max(layer[s] as number, (layer[n] as number) + 1);
      indegree[s] = (indegree[s] as number) - 1;
      if (indegree[s] === 0) queue.push(s);
    }
  }
  return layer;
}

function orderLayers(
  count: number,
  forward: Array<[number, number]>,
  layerOf: number[],
  sweeps: number,
): { layers: number[][]; crossings: number } {
  const layerCount = count === 0 ? 0 : Math.max(...layerOf) + 1;
  const layers: number[][] = Array.from({ length: layerCount }, () => []);
  for (let n = 0; n < count; n++) layers[layerOf[n] as number]?.push(n);
  const preds: number[][] = Array.from({ length: count }, () => []);
  const succs: number[][] = Array.from({ length: count }, () => []);
  for (const [a, b] of forward) {
    preds[b]?.push(a);
    succs[a]?.push(b);
  }
  const position = new Array<number>(count).fill(0);
  const renumber = (layer: number[]) => layer.forEach((n, i) => (position[n] = i));
  layers.forEach(renumber);

  // Sort one layer by the mean position of each node's neighbours; a node without
  // neighbours on that side keeps its place (its current position is its key).
  const sortBy = (layer: number[], neighbours: number[][]) => {
    const key = new Map<number, number>();
    for (const n of layer) {
      const list = neighbours[n] ?? [];
      key.set(
        n,
        list.length === 0
          ? (position[n] as number)
          : list.reduce((sum, m) => sum + (position[m] as number), 0) / list.length,
      );
    }
    // Stable: ties keep the current order.
    layer.sort((a, b) => (key.get(a) as number) - (key.get(b) as number) || (position[a] as number) - (position[b] as number));
    renumber(layer);
  };

  let best = layers.map((layer) => [...layer]);
  let bestCrossings = countCrossingsOf(best, forward, layerOf);
  for (let i = 0; i < sweeps && bestCrossings > 0; i++) {
    for (let l = 1; l < layers.length; l++) sortBy(layers[l] as number[], preds);
    for (let l = layers.length - 2; l >= 0; l--) sortBy(layers[l] as number[], succs);
    const crossings = countCrossingsOf(layers, forward, layerOf);
    if (crossings < bestCrossings) {
      best = layers.map((layer) => [...layer]);
      bestCrossings = crossings;
    }
  }
  return { layers: best, crossings: bestCrossings };
}

/** Crossings between edges joining adjacent layers (after long edges became chains,
 * every edge does): the measure the sweeps keep the best ordering by. */
function countCrossingsOf(
  layers: number[][],
  forward: Array<[number, number]>,
  layerOf: number[],
): number {
  const position = new Map<number, number>();
  for (const layer of layers) layer.forEach((n, i) => position.set(n, i));
  const byLayer = new Map<number, Array<[number, number]>>();
  for (const [a, b] of forward) {
    const l = layerOf[a] as number;
    if (layerOf[b] !== l + 1) continue;
    const list = byLayer.get(l) ?? [];
    list.push([position.get(a) as number, position.get(b) as number]);
    byLayer.set(l, list);
  }
  let total = 0;
  for (const list of byLayer.values()) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const [a1, b1] = list[i] as [number, number];
        const [a2, b2] = list[j] as [number, number];
        if ((a1 - a2) * (b1 - b2) < 0) total += 1;
      }
    }
  }
  return total;
}
