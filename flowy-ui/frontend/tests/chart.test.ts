import { describe, expect, it } from "vitest";
import { seriesPath } from "../src/lib/chart";
import { collectKeys } from "../src/lib/columns";

describe("seriesPath", () => {
  it("scales a series into the box", () => {
    const s = seriesPath(
      [
        [0, 0],
        [1, 5],
        [2, 10],
      ],
      100,
      50,
      0,
    );
    expect(s.path).toBe("M0,50 L50,25 L100,0");
    expect([s.min, s.max, s.last, s.points]).toEqual([0, 10, 10, 3]);
  });

  it("breaks the line at NaN and infinities and keeps the last value as sent", () => {
    const s = seriesPath(
      [
        [0, 1],
        [1, "NaN"],
        [2, 2],
        [3, 3],
        [4, "Infinity"],
      ],
      40,
      20,
      0,
    );
    // x 0..3 spans the width (the Infinity at x=4 is not drawn); NaN lifts the pen.
    expect(s.path).toBe("M0,20 M26.7,10 L40,0");
    expect(s.last).toBe(Number.POSITIVE_INFINITY);
    expect(s.points).toBe(3);
  });

  it("draws nothing without finite values", () => {
    expect(seriesPath([], 10, 10).path).toBe("");
    const s = seriesPath([[0, "NaN"]], 10, 10);
    expect(s.path).toBe("");
    expect(s.last).toBeNaN();
  });

  it("centres a constant series", () => {
    expect(seriesPath([[0, 3], [1, 3]], 10, 10, 0).path).toBe("M0,5 L10,5");
  });
});

describe("collectKeys", () => {
  it("orders keys by how many rows have them, then by name, up to a limit", () => {
    const rows = [{ p: { lr: 1, seed: 1 } }, { p: { lr: 2, alpha: 1 } }, { p: { zeta: 1, alpha: 2 } }, { p: null }];
    expect(collectKeys(rows, (r) => r.p)).toEqual(["alpha", "lr", "seed", "zeta"]);
    expect(collectKeys(rows, (r) => r.p, 2)).toEqual(["alpha", "lr"]);
  });
});

describe("isolated points", () => {
  it("a one-value series is a dot, not an invisible move", () => {
    const s = seriesPath([[0, 9.5]], 240, 90);
    expect(s.dots).toEqual([[120, 45]]);
    expect(s.points).toBe(1);
  });

  it("a point between non-finite values is a dot; joined points are a line", () => {
    const s = seriesPath([[0, 1], [1, 2], [2, "NaN"], [3, 3], [4, "Infinity"]], 100, 100);
    expect(s.dots).toHaveLength(1);
    expect(s.path.match(/L/g)).toHaveLength(1);
  });
});
