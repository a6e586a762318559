import { describe, expect, it } from "vitest";
import { allKeys, backoff, keysFor, liveUrl, parseSse } from "../src/api/live";

describe("live updates", () => {
  it("a run-level change refreshes the runs list's head and that run", () => {
    const keys = keysFor({ kind: "run", seq: 4, run_id: "abc", step: null, status: "completed" });
    expect(keys).toEqual([["runs-head"], ["run", "abc"], ["dag", "abc"], ["experiments"], ["experiment-runs"]]);
  });

  it("a step change refreshes the run page's queries, under the id the page was opened with", () => {
    const keys = keysFor({ kind: "step", seq: 5, run_id: "abcdef12", step: "fit", status: "running" }, "abcd");
    expect(keys).toEqual([["run", "abcd"], ["dag", "abcd"], ["metrics", "abcd"], ["logs", "abcd"]]);
    expect(keysFor({ kind: "hello", seq: 9 })).toEqual([]);
  });

  it("a resync reloads everything the page shows", () => {
    expect(allKeys()).toEqual([["runs-head"], ["runs"], ["experiments"], ["experiment-runs"]]);
    expect(allKeys("r1")).toContainEqual(["dag", "r1"]);
  });

  it("backs off from half a second to ten", () => {
    expect([0, 1, 2, 3, 4, 5, 10].map(backoff)).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000]);
  });

  it("builds the socket and SSE addresses with the resume cursor, never the token", () => {
    const here = { protocol: "https:", host: "ui.example:8443" } as Location;
    expect(liveUrl("ws", "r1", 42, here)).toBe("wss://ui.example:8443/api/v1/live?run=r1&since=42");
    expect(liveUrl("ws", undefined, null, { protocol: "http:", host: "127.0.0.1:8765" } as Location)).toBe(
      "ws://127.0.0.1:8765/api/v1/live",
    );
    expect(liveUrl("sse", undefined, 7, here)).toBe("/api/v1/live/events?since=7");
  });

  it("parses Server-Sent Events split anywhere across chunks, skipping comments", () => {
    const state = { buffer: "" };
    const event = '{"kind":"step","seq":3,"run_id":"r","step":"a","status":"running","at":1}';
    expect(parseSse(state, "retry: 2000\n\n: heartbeat\n\nid: 3\nda")).toEqual([]);
    const found = parseSse(state, `ta: ${event}\r\n\r\nid: 4\n`);
    expect(found).toEqual([JSON.parse(event)]);
    expect(state.buffer).toBe("id: 4\n");
  });
});
