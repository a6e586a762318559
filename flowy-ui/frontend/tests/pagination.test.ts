import { describe, expect, it } from "vitest";
import { buildQuery, flattenPages, mergeFresh, nextCursor, type Page } from "../src/lib/pagination";

interface Row {
  id: string;
  status: string;
}
const key = (r: Row) => r.id;
const row = (id: string, status = "completed"): Row => ({ id, status });

describe("buildQuery", () => {
  it("leaves out empty parameters and encodes the rest", () => {
    expect(buildQuery({ limit: 50, cursor: null, status: "", pipeline: "a b&c" })).toBe("?limit=50&pipeline=a+b%26c");
  });

  it("returns nothing when every parameter is empty", () => {
    expect(buildQuery({ cursor: undefined })).toBe("");
  });
});

describe("cursor pages", () => {
  const pages: Array<Page<Row>> = [
    { items: [row("c"), row("b")], next_cursor: "b" },
    { items: [row("b"), row("a")], next_cursor: null },
  ];

  it("flattens pages in order, each row once", () => {
    expect(flattenPages(pages, key).map(key)).toEqual(["c", "b", "a"]);
  });

  it("follows next_cursor until the last page", () => {
    expect(nextCursor([])).toBeNull();
    expect(nextCursor(pages.slice(0, 1))).toBe("b");
    expect(nextCursor(pages)).toBeNull();
    expect(nextCursor([{ items: [], next_cursor: "" }])).toBeNull();
  });
});

describe("mergeFresh", () => {
  it("puts new runs on top and updates shown ones in place", () => {
    const shown = [row("c", "running"), row("b"), row("a")];
    const fresh = [row("e", "running"), row("d"), row("c", "completed")];
    expect(mergeFresh(shown, fresh, key)).toEqual([
      row("e", "running"),
      row("d"),
      row("c", "completed"),
      row("b"),
      row("a"),
    ]);
  });

  it("keeps shown runs the fresh page no longer holds", () => {
    const shown = [row("b"), row("a")];
    expect(mergeFresh(shown, [], key)).toEqual(shown);
    expect(mergeFresh(shown, [row("a", "failed")], key)).toEqual([row("b"), row("a", "failed")]);
  });

  it("does not modify its inputs", () => {
    const shown = [row("a")];
    const fresh = [row("b")];
    mergeFresh(shown, fresh, key);
    expect(shown).toEqual([row("a")]);
    expect(fresh).toEqual([row("b")]);
  });
});
