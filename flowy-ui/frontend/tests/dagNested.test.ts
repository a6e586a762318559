import { describe, expect, it } from "vitest";
import { collapse, groupKey, groupsOf } from "../src/lib/dag/groups";

// Steps of a nested pipeline are recorded as "<nest>.<step>" (flowy/run/nesting.py), to any
// depth ("a.prep.clean"): the DAG page groups them under their outermost nest.
describe("steps of nested pipelines", () => {
  const nodes = [
    { id: "load", status: "completed" },
    { id: "a.prep.clean", status: "completed" },
    { id: "a.prep.scale", status: "completed" },
    { id: "a.summarize", status: "cached" },
    { id: "b.prep.clean", status: "completed" },
    { id: "b.summarize", status: "failed" },
    { id: "report", status: "skipped" },
  ];
  const edges: Array<[string, string]> = [
    ["load", "a.prep.clean"],
    ["a.prep.clean", "a.prep.scale"],
    ["a.prep.scale", "a.summarize"],
    ["load", "b.prep.clean"],
    ["b.prep.clean", "b.summarize"],
    ["a.summarize", "report"],
    ["b.summarize", "report"],
  ];

  it("group under their outermost nest, at any depth", () => {
    expect(groupKey("a.prep.clean")).toBe("a");
    expect(groupKey("a.summarize")).toBe("a");
    const groups = groupsOf(nodes);
    expect([...groups.keys()]).toEqual(["a", "b"]);
    expect(groups.get("a")?.members).toEqual(["a.prep.clean", "a.prep.scale", "a.summarize"]);
    expect(groups.get("b")?.status).toBe("failed");
  });

  it("collapse each nest to one node, with the edges into and out of it", () => {
    const drawn = collapse(nodes, edges, groupsOf(nodes), new Set(["a", "b"]));
    expect(drawn.ids).toEqual(["load", "group:a", "group:b", "report"]);
    expect(drawn.edges).toEqual([
      ["load", "group:a"],
      ["load", "group:b"],
      ["group:a", "report"],
      ["group:b", "report"],
    ]);
  });
});
