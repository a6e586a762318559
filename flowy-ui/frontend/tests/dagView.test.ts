import { describe, expect, it } from "vitest";
import { collapse, groupKey, groupsOf, initialCollapsed, neighbourhood } from "../src/lib/dag/groups";
import { layoutGantt, tickStep } from "../src/lib/dag/gantt";
import { centreOn, fit, MAX_SCALE, MIN_SCALE, panBy, wheelFactor, zoomAt } from "../src/lib/dag/viewport";
import { layoutDag } from "../src/lib/dagLayout";

/** The browser test's pipeline: ten groups of 50 steps, each group a small tree. */
function bigGraph() {
  const ids: string[] = [];
  const edges: Array<[string, string]> = [];
  for (let g = 0; g < 10; g++) {
    for (let i = 0; i < 50; i++) {
      const id = `stage${g}_${String(i).padStart(2, "0")}`;
      ids.push(id);
      if (i === 0) {
        if (g) edges.push([`stage${g - 1}_00`, id]);
      } else edges.push([`stage${g}_${String((i - 1) >> 1).padStart(2, "0")}`, id]);
    }
  }
  return { ids, edges };
}

describe("groups by name", () => {
  it("takes a namespace or the name without its index", () => {
    expect(groupKey("stage3_017")).toBe("stage3");
    expect(groupKey("shard-12")).toBe("shard");
    expect(groupKey("step10")).toBe("step");
    expect(groupKey("train/fold3")).toBe("train");
    expect(groupKey("eval.metrics")).toBe("eval");
    expect(groupKey("data")).toBe("data");
  });
  it("keeps only groups of two or more, with the most urgent status", () => {
    const groups = groupsOf([
      { id: "a_1", status: "completed" },
      { id: "a_2", status: "failed" },
      { id: "a_3", status: "running" },
      { id: "lonely", status: "completed" },
    ]);
    expect([...groups.keys()]).toEqual(["a"]);
    expect(groups.get("a")?.status).toBe("failed");
    expect(groups.get("a")?.statuses).toEqual({ completed: 1, failed: 1, running: 1 });
  });
});

describe("collapse", () => {
  it("draws a collapsed group as one node, merging its edges", () => {
    const nodes = ["src", "a_1", "a_2", "a_3", "sink"].map((id) => ({ id }));
    const edges: Array<[string, string]> = [
      ["src", "a_1"],
      ["src", "a_2"],
      ["a_1", "a_3"],
      ["a_2", "sink"],
      ["a_3", "sink"],
    ];
    const groups = groupsOf(nodes);
    const shut = collapse(nodes, edges, groups, new Set(["a"]));
    expect(shut.ids).toEqual(["src", "group:a", "sink"]);
    expect(shut.edges).toEqual([
      ["src", "group:a"],
      ["group:a", "sink"],
    ]);
    const open = collapse(nodes, edges, groups, new Set());
    expect(open.ids).toHaveLength(5);
    expect(open.edges).toHaveLength(5);
  });
  it("starts a 500-step graph collapsed into its 10 groups, a small one open", () => {
    const { ids, edges } = bigGraph();
    const nodes = ids.map((id) => ({ id, status: "completed" }));
    const groups = groupsOf(nodes);
    expect(groups.size).toBe(10);
    const shut = initialCollapsed(nodes.length, groups, 120);
    const drawn = collapse(nodes, edges, groups, shut);
    expect(drawn.ids).toHaveLength(10);
    expect(drawn.edges).toHaveLength(9); // the chain of group roots
    expect(initialCollapsed(50, groups, 120).size).toBe(0);
    shut.delete("stage3");
    expect(collapse(nodes, edges, groups, shut).ids).toHaveLength(9 + 50);
  });
});

describe("focus", () => {
  it("keeps the nodes within depth edges, both ways", () => {
    const edges: Array<[string, string]> = [
      ["a", "b"],
      ["b", "c"],
      ["c", "d"],
      ["d", "e"],
      ["x", "c"],
    ];
    expect([...neighbourhood("c", edges, 1)].sort()).toEqual(["b", "c", "d", "x"]);
    expect([...neighbourhood("c", edges, 2)].sort()).toEqual(["a", "b", "c", "d", "e", "x"]);
    expect([...neighbourhood("a", edges, 0)]).toEqual(["a"]);
  });
});

describe("viewport", () => {
  it("zooms around the pointer", () => {
    const v = zoomAt({ x: 0, y: 0, k: 1 }, 2, 100, 50);
    expect(v).toEqual({ k: 2, x: -100, y: -50 });
    // The drawing point under the pointer stays there: (100 - x) / k before and after.
    expect((100 - v.x) / v.k).toBe(100);
  });
  it("clamps the scale and pans", () => {
    expect(zoomAt({ x: 0, y: 0, k: 1 }, 1000, 0, 0).k).toBe(MAX_SCALE);
    expect(zoomAt({ x: 0, y: 0, k: 1 }, 1e-6, 0, 0).k).toBe(MIN_SCALE);
    expect(panBy({ x: 1, y: 2, k: 3 }, 10, -5)).toEqual({ x: 11, y: -3, k: 3 });
    expect(wheelFactor(-100)).toBeGreaterThan(1);
    expect(wheelFactor(100)).toBeLessThan(1);
  });
  it("fits a drawing without enlarging it past 1", () => {
    expect(fit(100, 50, 1000, 500).k).toBe(1);
    const big = fit(4000, 1000, 1000, 500, 0);
    expect(big.k).toBe(0.25);
    expect(big.x).toBe(0);
    expect(centreOn(50, 50, 200, 100, 1)).toEqual({ k: 1, x: 50, y: 0 });
  });
});

describe("gantt", () => {
  const steps = [
    { step: "b", status: "completed", started_at: 102, finished_at: 104 },
    { step: "a", status: "completed", started_at: 100, finished_at: 101 },
    { step: "cached", status: "cached", started_at: null, finished_at: null },
    { step: "c", status: "running", started_at: 103, finished_at: null },
  ];
  it("orders rows by start, puts steps that never ran last", () => {
    const g = layoutGantt(steps, 100, 110);
    expect(g.rows.map((r) => r.step)).toEqual(["a", "b", "c", "cached"]);
    expect(g.rows[3]?.x).toBeNull();
    expect([g.t0, g.t1]).toEqual([100, 110]);
  });
  it("scales bars to the span, a running one ending now and growing", () => {
    const g = layoutGantt(steps, 100, 110);
    expect(g.rows[0]).toMatchObject({ x: 0, width: 10 });
    expect(g.rows[1]).toMatchObject({ x: 20, width: 20 });
    expect(g.rows[2]).toMatchObject({ x: 30, width: 70, running: true });
    const later = layoutGantt(steps, 100, 120);
    expect(later.rows[2]?.width).toBeGreaterThan(0);
    expect(later.rows[2]?.end).toBe(120);
  });
  it("picks round ticks", () => {
    expect(tickStep(10)).toBe(2);
    expect(tickStep(60)).toBe(10);
    expect(tickStep(0.3)).toBe(0.05);
    expect(layoutGantt(steps, 100, 110).ticks.map((t) => t.t - 100)).toEqual([0, 2, 4, 6, 8, 10]);
  });
});

describe("layout at 500 steps", () => {
  it("lays out the 500-step graph (the worker runs this same function)", () => {
    const { ids, edges } = bigGraph();
    const layout = layoutDag(ids, edges);
    expect(layout.nodes).toHaveLength(500);
    expect(layout.edges).toHaveLength(499);
    expect(layout.crossings).toBe(0);
  });
});
