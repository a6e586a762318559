import { describe, expect, it } from "vitest";
import { keysFor } from "../src/api/live";

describe("streaming logs", () => {
  it("a running step's output change refreshes only that step's logs", () => {
    const keys = keysFor({ kind: "output", seq: 7, run_id: "abcdef12", step: "fit", status: "running" }, "abcd");
    expect(keys).toEqual([["logs", "abcd", "fit"]]);
  });

  it("an output change without a step refreshes nothing", () => {
    expect(keysFor({ kind: "output", seq: 8, run_id: "abc", step: null, status: "running" })).toEqual([]);
  });
});
