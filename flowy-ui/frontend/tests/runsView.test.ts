import { describe, expect, it } from "vitest";
import {
  defaultColumns,
  nextSort,
  parseColumns,
  splitColumn,
  toggleColumn,
  viewFrom,
  viewToParams,
} from "../src/lib/columns";
import { mergeFresh, nearEnd } from "../src/lib/pagination";

describe("the runs view in the URL", () => {
  it("reads filter, sort, order, columns and the old shorthands", () => {
    const view = viewFrom(
      new URLSearchParams("q=metrics.r2>0.9&sort=params.alpha&order=asc&columns=params.alpha,metrics.r2&status=failed"),
    );
    expect(view).toEqual({
      q: "metrics.r2>0.9",
      sort: "params.alpha",
      order: "asc",
      columns: ["params.alpha", "metrics.r2"],
      status: "failed",
    });
  });

  it("defaults to newest first, and takes the stored columns when the URL has none", () => {
    expect(viewFrom(new URLSearchParams(""))).toEqual({ q: "", sort: "started", order: "desc", columns: null });
    expect(viewFrom(new URLSearchParams(""), "metrics.loss").columns).toEqual(["metrics.loss"]);
    expect(viewFrom(new URLSearchParams("columns="), "metrics.loss").columns).toEqual([]);
  });

  it("writes back what it reads, leaving defaults out", () => {
    const text = "q=status%3Afailed&sort=metrics.r2&order=asc&columns=params.a%2Cmetrics.b";
    expect(viewToParams(viewFrom(new URLSearchParams(text))).toString()).toBe(text);
    expect(viewToParams({ q: " ", sort: "started", order: "desc", columns: null }).toString()).toBe("");
  });

  it("keeps only params./metrics. names, each once", () => {
    expect(parseColumns("params.a, bogus,metrics.b,params.a,")).toEqual(["params.a", "metrics.b"]);
    expect(parseColumns(null)).toBeNull();
  });
});

describe("sorting and columns", () => {
  it("flips the order on the same header and starts descending on another", () => {
    expect(nextSort({ sort: "started", order: "desc" }, "started")).toEqual({ sort: "started", order: "asc" });
    expect(nextSort({ sort: "started", order: "asc" }, "metrics.r2")).toEqual({ sort: "metrics.r2", order: "desc" });
  });

  it("picks a few params and metrics by default and toggles columns", () => {
    const available = ["params.a", "params.b", "metrics.x", "metrics.y", "metrics.z"];
    expect(defaultColumns(available, 2)).toEqual(["params.a", "params.b", "metrics.x", "metrics.y"]);
    expect(toggleColumn(["params.a"], "metrics.x")).toEqual(["params.a", "metrics.x"]);
    expect(toggleColumn(["params.a", "metrics.x"], "params.a")).toEqual(["metrics.x"]);
    expect(splitColumn("metrics.val.loss")).toEqual(["metrics", "val.loss"]);
  });
});

describe("live refresh of a sorted list", () => {
  it("does not put new runs on top when asked not to", () => {
    const key = (r: { id: string; v: number }) => r.id;
    const shown = [{ id: "a", v: 1 }];
    expect(mergeFresh(shown, [{ id: "b", v: 0 }, { id: "a", v: 2 }], key, false)).toEqual([{ id: "a", v: 2 }]);
  });

  it("asks for the next page near the end of what is loaded", () => {
    expect(nearEnd(96, 100)).toBe(true);
    expect(nearEnd(90, 100)).toBe(false);
    expect(nearEnd(40, 50)).toBe(false); // a first page that fills the screen
    expect(nearEnd(0, 0)).toBe(false);
  });
});
