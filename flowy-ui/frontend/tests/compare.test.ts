import { describe, expect, it } from "vitest";
import { overlay } from "../src/pages/experiments/OverlayChart";
import { compareQuery, readState, runColour, splitList, toggle, writeState } from "../src/pages/experiments/compareState";
import { bestIndex, layoutParallel, makeAxis, position } from "../src/pages/experiments/parallel";

describe("compare state in the URL", () => {
  it("round-trips through the query string", () => {
    const state = { runs: ["a", "b", "c"], metric: "r2", mode: "min" as const, all: true, series: ["loss"] };
    expect(readState(writeState(state))).toEqual(state);
    expect(writeState({ ...state, mode: "max", all: false, series: [] }).toString()).toBe("runs=a%2Cb%2Cc&metric=r2");
  });
  it("reads defaults and drops blanks and repeats", () => {
    expect(readState(new URLSearchParams("runs=a,,b,a,%20c"))).toEqual({
      runs: ["a", "b", "c"],
      metric: null,
      mode: "max",
      all: false,
      series: [],
    });
    expect(splitList(null)).toEqual([]);
  });
  it("asks the API for the ranking metric's series when none is chosen", () => {
    const q = compareQuery({ runs: ["a", "b"], metric: "r2", mode: "max", all: false, series: [] }, 300);
    expect(q).toBe("/api/v1/compare?runs=a%2Cb&mode=max&points=300&metric=r2&series=r2");
    const all = compareQuery({ runs: ["a", "b"], metric: null, mode: "min", all: true, series: ["x", "y"] }, 10);
    expect(all).toBe("/api/v1/compare?runs=a%2Cb&mode=min&points=10&all=true&series=x%2Cy");
  });
  it("toggles a selection keeping the picking order", () => {
    expect(toggle(["a", "b"], "c")).toEqual(["a", "b", "c"]);
    expect(toggle(["a", "b", "c"], "b")).toEqual(["a", "c"]);
  });
  it("gives 50 runs 50 different colours", () => {
    expect(new Set(Array.from({ length: 50 }, (_, i) => runColour(i, 50))).size).toBe(50);
  });
});

describe("best run", () => {
  it("picks the highest or lowest finite value, ties to the first", () => {
    expect(bestIndex([1, 3, 3, 2], "max")).toBe(1);
    expect(bestIndex([1, 3, 0.5, 0.5], "min")).toBe(2);
  });
  it("never picks NaN, infinity, a missing value or an ineligible run", () => {
    expect(bestIndex(["NaN", "Infinity", null, 2, 5], "max", [true, true, true, true, false])).toBe(3);
    expect(bestIndex(["NaN", null], "max")).toBeNull();
    expect(bestIndex(["-Infinity", 4], "min")).toBe(1);
  });
});

describe("parallel coordinates", () => {
  it("scales numeric axes linearly and categories evenly", () => {
    const num = makeAxis("alpha", [0, 0.5, 1, null]);
    expect(num.kind).toBe("number");
    expect(num.domain).toEqual([0, 1]);
    expect(position(num, 0.25)).toBe(0.25);
    expect(position(num, null)).toBeNull();
    const cat = makeAxis("opt", ["sgd", "adam", "sgd", true]);
    expect(cat.kind).toBe("category");
    expect(cat.categories).toEqual(["adam", "sgd", "true"]);
    expect(position(cat, "sgd")).toBe(0.5);
    expect(position(makeAxis("c", [3, 3]), 3)).toBe(0.5); // one value: the middle
  });
  it("draws one line per run through every axis, breaking at missing values", () => {
    const layout = layoutParallel(
      {
        runIds: ["r1", "r2", "r3"],
        params: [
          { name: "alpha", values: [0, 1, 0.5] },
          { name: "opt", values: ["a", "b", null] },
        ],
        metric: { name: "r2", values: [10, 20, "NaN"] },
      },
      200,
      100,
      0,
    );
    expect(layout.axes.map((a) => [a.name, a.x, a.metric])).toEqual([
      ["alpha", 0, false],
      ["opt", 100, false],
      ["r2", 200, true],
    ]);
    expect(layout.lines.map((l) => l.runId)).toEqual(["r1", "r2", "r3"]);
    expect(layout.lines[0]?.path).toBe("M0,100 L100,100 L200,100");
    expect(layout.lines[1]?.path).toBe("M0,0 L100,0 L200,0");
    expect(layout.lines[2]?.points).toBe(1); // opt missing and r2 NaN: only alpha placed
  });
  it("handles fifty runs", () => {
    const runIds = Array.from({ length: 50 }, (_, i) => `r${i}`);
    const layout = layoutParallel(
      { runIds, params: [{ name: "seed", values: runIds.map((_, i) => i) }], metric: { name: "m", values: runIds.map((_, i) => i * 2) } },
      400,
      200,
    );
    expect(layout.lines).toHaveLength(50);
    expect(layout.lines.every((l) => l.points === 2)).toBe(true);
  });
});

describe("overlaid series", () => {
  it("puts every run on shared scales and breaks at non-finite values", () => {
    const drawn = overlay({ a: [[0, 1], [1, 2]], b: [[0, 3], [1, "NaN"], [2, 4]] });
    expect(drawn.lines.map((l) => l.runId)).toEqual(["a", "b"]);
    expect([drawn.min, drawn.max]).toEqual([1, 4]);
    expect(drawn.lines[1]?.path.split("M")).toHaveLength(3); // two pieces
  });
});
