import { describe, expect, it } from "vitest";
import { lineageSides } from "../src/lib/lineage";

describe("lineageSides", () => {
  it("marks ancestors upstream and descendants downstream, transitively", () => {
    const edges: Array<[string, string]> = [
      ["raw", "clean"],
      ["clean", "model"],
      ["model", "report"],
      ["other", "report"],
    ];
    const side = lineageSides("model", edges);
    expect(Object.fromEntries(side)).toEqual({
      model: "this",
      clean: "upstream",
      raw: "upstream",
      report: "downstream",
    });
    // "other" only feeds a descendant: neither an ancestor nor a descendant.
    expect(side.has("other")).toBe(false);
  });

  it("answers only the root when there are no edges, and survives a cycle", () => {
    expect([...lineageSides("a", [])]).toEqual([["a", "this"]]);
    const side = lineageSides("a", [
      ["a", "b"],
      ["b", "a"],
    ]);
    expect(side.get("a")).toBe("this");
    expect(side.get("b")).toBe("upstream");
  });
});
