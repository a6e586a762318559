import { describe, expect, it } from "vitest";
import { elementsMark } from "../src/components/DagView";

describe("a mapped step's elements on its DAG node", () => {
  it("counts the elements that passed against those recorded", () => {
    expect(elementsMark({ completed: 3, failed: 1 })).toBe("3/4");
    expect(elementsMark({ cached: 5, completed: 2, skipped: 1 })).toBe("7/8");
    expect(elementsMark({ failed: 2 })).toBe("0/2");
  });

  it("marks nothing for a step that is not a map", () => {
    expect(elementsMark(null)).toBe("");
    expect(elementsMark(undefined)).toBe("");
  });
});
