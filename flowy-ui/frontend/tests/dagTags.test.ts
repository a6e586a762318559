import { describe, expect, it } from "vitest";
import { collapse, groupedByTag, groupKeyOf, groupsOf } from "../src/lib/dag/groups";

describe("groups by tag", () => {
  it("groups by name when no step has tags", () => {
    const nodes = [{ id: "stage1_00" }, { id: "stage1_01", tags: [] }, { id: "stage2_00" }, { id: "stage2_01" }];
    expect(groupedByTag(nodes)).toBe(false);
    expect([...groupsOf(nodes, groupKeyOf(nodes)).keys()]).toEqual(["stage1", "stage2"]);
  });

  it("groups tagged steps by their first tag and untagged ones by name prefix", () => {
    const nodes = [
      { id: "load_a", tags: ["data"] },
      { id: "clean_b", tags: ["data", "slow"] }, // several tags: the first one's group
      { id: "fit_1", tags: ["model"], status: "failed" },
      { id: "score_2", tags: ["model"] },
      { id: "report/html" }, // untagged: by name, as before
      { id: "report/pdf", tags: null },
      { id: "lonely", tags: ["solo"] }, // a group of one is no group
    ];
    expect(groupedByTag(nodes)).toBe(true);
    const keyOf = groupKeyOf(nodes);
    expect(keyOf("clean_b")).toBe("data");
    expect(keyOf("report/pdf")).toBe("report");
    const groups = groupsOf(nodes, keyOf);
    expect([...groups.keys()]).toEqual(["data", "model", "report"]);
    expect(groups.get("data")?.members).toEqual(["load_a", "clean_b"]);
    expect(groups.get("model")?.status).toBe("failed");
    expect(groups.has("solo")).toBe(false);
  });

  it("keys a node by its label's name when it has one", () => {
    const nodes = [{ id: "x1", tags: ["t"] }, { id: "x2" }];
    const labels = new Map([["x2", "train/fold2"]]);
    expect(groupKeyOf(nodes, (id) => labels.get(id) ?? id)("x2")).toBe("train");
  });

  it("collapses the 500-step graph into its tags' groups, not the names'", () => {
    const nodes: Array<{ id: string; tags: string[] }> = [];
    const edges: Array<[string, string]> = [];
    for (let g = 0; g < 10; g++) {
      for (let i = 0; i < 50; i++) {
        const id = `stage${g}_${String(i).padStart(2, "0")}`;
        // Two tags, sorted as the store keeps them: the group is the first.
        nodes.push({ id, tags: [`part-${String.fromCharCode(97 + g)}`, "zz-big"] });
        if (i > 0) edges.push([`stage${g}_${String((i - 1) >> 1).padStart(2, "0")}`, id]);
        else if (g) edges.push([`stage${g - 1}_00`, id]);
      }
    }
    const groups = groupsOf(nodes, groupKeyOf(nodes));
    expect([...groups.keys()]).toEqual("abcdefghij".split("").map((c) => `part-${c}`));
    const graph = collapse(nodes, edges, groups, new Set(groups.keys()));
    expect(graph.ids).toHaveLength(10);
    expect(graph.edges).toHaveLength(9);
    expect(graph.groups.get("group:part-d")?.members).toHaveLength(50);
  });
});
