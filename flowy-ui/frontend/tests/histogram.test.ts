import { describe, expect, it } from "vitest";
import { histogramBars } from "../src/lib/histogram";

describe("histogramBars", () => {
  it("fills the box, tallest bin at the top, bars bottom-aligned", () => {
    const bars = histogramBars([1, 4, 2], [0, 1, 2, 3], 300, 100);
    expect(bars.map((b) => b.x)).toEqual([0, 100, 200]);
    expect(bars.map((b) => b.height)).toEqual([25, 100, 50]);
    expect(bars.every((b) => b.y + b.height === 100)).toBe(true);
    expect(bars[1]).toMatchObject({ count: 4, from: 1, to: 2, width: 99 });
  });

  it("keeps a tiny non-empty bin visible and an empty one flat", () => {
    const bars = histogramBars([1_000_000, 1, 0], [0, 1, 2, 3], 30, 100);
    expect(bars[1]?.height).toBe(1);
    expect(bars[2]?.height).toBe(0);
  });

  it("answers nothing for no bins or an empty box, and all-zero counts lie flat", () => {
    expect(histogramBars([], [], 100, 100)).toEqual([]);
    expect(histogramBars([1], [0, 1], 0, 100)).toEqual([]);
    expect(histogramBars([0, 0], [0, 1, 2], 10, 10).map((b) => b.height)).toEqual([0, 0]);
  });

  it("passes non-finite edges through as null", () => {
    expect(histogramBars([3], [null, 2], 10, 10)[0]).toMatchObject({ from: null, to: 2 });
  });
});
