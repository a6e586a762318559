import { describe, expect, it } from "vitest";
import { visibleRange } from "../src/lib/virtual";

describe("visibleRange", () => {
  const base = { rowHeight: 30, viewportHeight: 300, overscan: 5 };

  it("renders nothing for no rows", () => {
    expect(visibleRange({ ...base, scrollTop: 0, count: 0 })).toEqual({ start: 0, end: 0, padTop: 0, padBottom: 0 });
  });

  it("renders the first screen at the top", () => {
    const w = visibleRange({ ...base, scrollTop: 0, count: 100_000 });
    expect(w.start).toBe(0);
    expect(w.end).toBe(16); // 10 visible + 1 partial + 5 overscan
    expect(w.padTop).toBe(0);
    expect(w.padBottom).toBe((100_000 - 16) * 30);
  });

  it("keeps the total height of 100,000 rows while rendering a few dozen", () => {
    const count = 100_000;
    for (const scrollTop of [0, 12_345, 1_500_000, count * 30 - 300, count * 30 + 999]) {
      const w = visibleRange({ ...base, scrollTop, count });
      expect(w.end - w.start).toBeLessThanOrEqual(21);
      expect(w.end).toBeGreaterThan(w.start);
      expect(w.padTop + (w.end - w.start) * 30 + w.padBottom).toBe(count * 30);
    }
  });

  it("covers the viewport wherever it is scrolled", () => {
    const w = visibleRange({ ...base, scrollTop: 3000, count: 1000 });
    expect(w.start).toBeLessThanOrEqual(100);
    expect(w.end).toBeGreaterThanOrEqual(110);
  });

  it("handles fewer rows than fit and a negative scroll (overscroll bounce)", () => {
    expect(visibleRange({ ...base, scrollTop: -50, count: 3 })).toEqual({ start: 0, end: 3, padTop: 0, padBottom: 0 });
  });
});
