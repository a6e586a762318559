import { describe, expect, it } from "vitest";
import { layoutDag, type Layout, type LaidOutNode } from "../src/lib/dagLayout";

function overlap(a: LaidOutNode, b: LaidOutNode): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

function assertWellFormed(layout: Layout, ids: string[]): void {
  expect(layout.nodes.map((n) => n.id).sort()).toEqual([...new Set(ids)].sort());
  for (let i = 0; i < layout.nodes.length; i++) {
    for (let j = i + 1; j < layout.nodes.length; j++) {
      const a = layout.nodes[i] as LaidOutNode;
      const b = layout.nodes[j] as LaidOutNode;
      expect(overlap(a, b), `${a.id} overlaps ${b.id}`).toBe(false);
    }
  }
  const byId = new Map(layout.nodes.map((n) => [n.id, n]));
  for (const edge of layout.edges.filter((e) => !e.back)) {
    const from = byId.get(edge.from) as LaidOutNode;
    const to = byId.get(edge.to) as LaidOutNode;
    expect(to.layer, `${edge.from} -> ${edge.to}`).toBeGreaterThan(from.layer);
    expect(to.x).toBeGreaterThanOrEqual(from.x + from.width);
  }
  for (const n of layout.nodes) {
    expect(n.x).toBeGreaterThanOrEqual(0);
    expect(n.y).toBeGreaterThanOrEqual(0);
    expect(n.x + n.width).toBeLessThanOrEqual(layout.width + 1e-9);
    expect(n.y + n.height).toBeLessThanOrEqual(layout.height + 1e-9);
  }
}

/** A seeded pseudo-random generator (mulberry32), so failures repeat. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomDag(seed: number, count: number, density: number): { ids: string[]; edges: Array<[string, string]> } {
  const rand = random(seed);
  const ids = Array.from({ length: count }, (_, i) => `s${i}`);
  const edges: Array<[string, string]> = [];
  for (let i = 0; i < count; i++) {
    for (let j = i + 1; j < count; j++) {
      if (rand() < density) edges.push([`s${i}`, `s${j}`]);
    }
  }
  // Shuffle the node order so the input is not already topological.
  for (let i = ids.length - 1; i > 0; i--) {
    const k = Math.floor(rand() * (i + 1));
    [ids[i], ids[k]] = [ids[k] as string, ids[i] as string];
  }
  return { ids, edges };
}

describe("layoutDag", () => {
  it("lays out nothing as an empty drawing", () => {
    expect(layoutDag([], [])).toEqual({ nodes: [], edges: [], width: 0, height: 0, crossings: 0 });
  });

  it("puts a chain in consecutive layers, left to right", () => {
    const layout = layoutDag(["load", "train", "evaluate"], [
      ["load", "train"],
      ["train", "evaluate"],
    ]);
    expect(layout.nodes.map((n) => [n.id, n.layer])).toEqual([
      ["load", 0],
      ["train", 1],
      ["evaluate", 2],
    ]);
    assertWellFormed(layout, ["load", "train", "evaluate"]);
  });

  it("layers by the longest path", () => {
    // a -> b -> c -> d and a shortcut a -> d: d sits after c, not beside b.
    const layout = layoutDag(["a", "b", "c", "d"], [
      ["a", "b"],
      ["b", "c"],
      ["c", "d"],
      ["a", "d"],
    ]);
    const layer = Object.fromEntries(layout.nodes.map((n) => [n.id, n.layer]));
    expect(layer).toEqual({ a: 0, b: 1, c: 2, d: 3 });
  });

  it("draws a diamond without overlap and with every edge going right", () => {
    const ids = ["split", "left", "right", "join"];
    const layout = layoutDag(ids, [
      ["split", "left"],
      ["split", "right"],
      ["left", "join"],
      ["right", "join"],
    ]);
    assertWellFormed(layout, ids);
    expect(layout.edges).toHaveLength(4);
  });

  it("orders by barycentre to remove avoidable crossings", () => {
    // Two independent chains given in crossing order: a1->b2, a2->b1.
    const ids = ["a1", "a2", "b1", "b2"];
    const layout = layoutDag(ids, [
      ["a1", "b2"],
      ["a2", "b1"],
    ]);
    expect(layout.crossings).toBe(0);
    expect(layoutDag(ids, [["a1", "b2"], ["a2", "b1"]], { sweeps: 0 }).crossings).toBe(1);
  });

  it("routes a long edge around the nodes of the layers it crosses", () => {
    // a -> b -> c and a -> c: the a -> c edge passes layer 1 beside b, not through it.
    const layout = layoutDag(["a", "b", "c"], [
      ["a", "b"],
      ["b", "c"],
      ["a", "c"],
    ]);
    const b = layout.nodes.find((n) => n.id === "b") as LaidOutNode;
    const long = layout.edges.find((e) => e.from === "a" && e.to === "c");
    const straight = /L(-?[\d.]+),(-?[\d.]+)/.exec(long?.path ?? "");
    expect(straight, long?.path).not.toBeNull();
    const y = Number(straight?.[2]);
    expect(y < b.y || y > b.y + b.height, `the a -> c edge crosses b at y=${y}`).toBe(true);
  });

  it("keeps random DAGs well formed and finds fewer crossings than the input order", () => {
    let ordered = 0;
    let unorderedTotal = 0;
    for (let seed = 1; seed <= 25; seed++) {
      const { ids, edges } = randomDag(seed, 5 + (seed % 20), 0.15);
      const layout = layoutDag(ids, edges);
      assertWellFormed(layout, ids);
      const unordered = layoutDag(ids, edges, { sweeps: 0 });
      expect(layout.crossings).toBeLessThanOrEqual(unordered.crossings);
      ordered += layout.crossings;
      unorderedTotal += unordered.crossings;
    }
    expect(ordered).toBeLessThan(unorderedTotal * 0.8);
  });

  it("ignores duplicate nodes, repeated edges, self-loops and unknown endpoints", () => {
    const layout = layoutDag(["a", "b", "a"], [
      ["a", "b"],
      ["a", "b"],
      ["a", "a"],
      ["a", "ghost"],
    ]);
    expect(layout.nodes).toHaveLength(2);
    expect(layout.edges).toHaveLength(1);
  });

  it("breaks a cycle instead of looping, and marks the edge it set aside", () => {
    const ids = ["a", "b", "c"];
    const layout = layoutDag(ids, [
      ["a", "b"],
      ["b", "c"],
      ["c", "a"],
    ]);
    assertWellFormed(layout, ids);
    expect(layout.edges.filter((e) => e.back)).toHaveLength(1);
    expect(layout.edges.filter((e) => !e.back)).toHaveLength(2);
  });

  it("is deterministic", () => {
    const { ids, edges } = randomDag(7, 40, 0.08);
    expect(layoutDag(ids, edges)).toEqual(layoutDag(ids, edges));
  });

  it("lays out 500 steps quickly", () => {
    const { ids, edges } = randomDag(42, 500, 0.004);
    const started = performance.now();
    const layout = layoutDag(ids, edges);
    const elapsed = performance.now() - started;
    expect(layout.nodes).toHaveLength(500);
    expect(elapsed).toBeLessThan(1000);
  });
});
