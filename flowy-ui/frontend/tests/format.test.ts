import { describe, expect, it } from "vitest";
import {
  formatBytes,
  formatCell,
  formatDuration,
  formatNumber,
  formatTime,
  formatValue,
  isLive,
  shortId,
  statusClass,
  toNumber,
} from "../src/lib/format";

describe("toNumber", () => {
  it("reads numbers and the non-finite strings the API sends", () => {
    expect(toNumber(0.5)).toBe(0.5);
    expect(toNumber("NaN")).toBeNaN();
    expect(toNumber("Infinity")).toBe(Number.POSITIVE_INFINITY);
    expect(toNumber("-Infinity")).toBe(Number.NEGATIVE_INFINITY);
  });

  it("returns null for anything else", () => {
    expect(toNumber("0.5")).toBeNull();
    expect(toNumber("nan")).toBeNull();
    expect(toNumber(null)).toBeNull();
    expect(toNumber(undefined)).toBeNull();
    expect(toNumber({})).toBeNull();
    expect(toNumber("constructor")).toBeNull();
  });
});

describe("formatNumber", () => {
  it.each<[number, string]>([
    [0, "0"],
    [42, "42"],
    [-7, "-7"],
    [0.5, "0.5"],
    [0.123456, "0.1235"],
    [3.14159, "3.142"],
    [123.456, "123.5"],
    [12345.678, "12345.7"],
    [999.96, "1000"],
    [1.5e-5, "1.5e-5"],
    [2.5e7, "25000000"],
    [2.5e7 + 0.5, "2.5e+7"],
    [Number.NaN, "NaN"],
    [Number.POSITIVE_INFINITY, "∞"],
    [Number.NEGATIVE_INFINITY, "-∞"],
  ])("%s -> %s", (value, text) => {
    expect(formatNumber(value)).toBe(text);
  });
});

describe("formatValue", () => {
  it("formats metrics, including non-finite strings", () => {
    expect(formatValue("NaN")).toBe("NaN");
    expect(formatValue("Infinity")).toBe("∞");
    expect(formatValue(0.98765)).toBe("0.9877");
  });

  it("shows parameters of every JSON type", () => {
    expect(formatValue("adam")).toBe("adam");
    expect(formatValue(true)).toBe("true");
    expect(formatValue(null)).toBe("");
    expect(formatValue(undefined)).toBe("");
    expect(formatValue([1, 2])).toBe("[1,2]");
    expect(formatValue({ a: 1 })).toBe('{"a":1}');
  });
});

describe("formatCell", () => {
  it("shows lists and objects readably", () => {
    expect(formatCell(["a", "b"])).toBe("a, b");
    expect(formatCell({ executor: ["dask"], artifact_store: ["s3", "local"] })).toBe(
      "executor: dask; artifact_store: s3, local",
    );
    expect(formatCell({ r2: "NaN" })).toBe("r2: NaN");
    expect(formatCell(0.123456)).toBe("0.1235");
    expect(formatCell(null)).toBe("");
  });
});

describe("formatDuration", () => {
  it.each<[number | null | undefined, string]>([
    [null, ""],
    [undefined, ""],
    [-1, ""],
    [Number.NaN, ""],
    [0.35, "350 ms"],
    [12.34, "12.3 s"],
    [5, "5 s"],
    [245, "4m 05s"],
    [7380, "2h 03m"],
    [93600, "1d 02h"],
  ])("%s -> %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});

describe("formatTime", () => {
  it("formats epoch seconds in UTC when asked", () => {
    expect(formatTime(0, true)).toBe("1970-01-01 00:00:00");
    expect(formatTime(1765115112.9, true)).toBe("2025-12-07 13:45:12");
  });

  it("leaves unknown times empty", () => {
    expect(formatTime(null)).toBe("");
    expect(formatTime(Number.NaN)).toBe("");
  });
});

describe("small helpers", () => {
  it("formats sizes", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(3 * 1024 * 1024)).toBe("3 MiB");
    expect(formatBytes(null)).toBe("");
  });

  it("shortens ids", () => {
    expect(shortId("0123456789abcdef")).toBe("01234567");
    expect(shortId("abc")).toBe("abc");
  });

  it("maps statuses to a fixed set of classes", () => {
    expect(statusClass("failed")).toBe("status-failed");
    expect(statusClass("timed_out")).toBe("status-timed_out");
    expect(statusClass('x" onload="alert(1)')).toBe("status-unknown");
    expect(statusClass(null)).toBe("status-unknown");
  });

  it("knows which statuses are live", () => {
    expect(isLive("running")).toBe(true);
    expect(isLive("pending")).toBe(true);
    expect(isLive("completed")).toBe(false);
    expect(isLive(undefined)).toBe(false);
  });
});
