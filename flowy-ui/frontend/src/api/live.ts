// Live updates: one connection per page to /api/v1/live (a WebSocket, else Server-Sent
// Events), fed by the server's one watcher of the store. Each change refreshes only the
// queries it touches; nothing polls on a timer. After a drop the page reconnects with the
// last `seq` it saw and the server sends what was missed (or "resync": reload).
import { useQueryClient, type QueryClient, type QueryKey } from "@tanstack/react-query";
import { useEffect, useSyncExternalStore } from "react";
import { getAuth, subscribe as subscribeToken } from "./token";

/** A change as the server sends it (see docs/ui.md, "Live updates"). */
export interface LiveMessage {
  kind: "run" | "step" | "output" | "hello" | "resync" | "error";
  seq?: number;
  run_id?: string;
  step?: string | null;
  status?: string;
  at?: number;
  code?: string;
  message?: string;
}

export type LiveState = "connecting" | "live" | "reconnecting";

/** The subprotocol the server speaks; the token rides along as `bearer.<token>`. */
export const PROTOCOL = "flowy.live.v1";
/** Changes arriving within this many ms refresh their queries once. */
const SETTLE_MS = 50;
const MAX_BACKOFF_MS = 10_000;
/**
 * How long to wait after the server said it is going away (close code 1012, sent by
 * uvicorn on shutdown, or 1001) before knocking again: a restart takes seconds, and a
 * server that was stopped for good should not be hammered (each refused attempt is a
 * console error in the page).
 */
export const SERVER_GONE_MS = 15_000;

/**
 * The query keys (prefixes) a change makes stale. A run's page passes the id it was opened
 * with (`pageRun`, maybe a prefix of the full id the change names): its queries use that.
 */
export function keysFor(message: LiveMessage, pageRun?: string): QueryKey[] {
  const run = pageRun ?? message.run_id;
  if (!run) return [];
  if (message.kind === "run") {
    // The runs list's head page and any run it tracks one by one; the run's own page;
    // the experiments list and an open experiment's runs (their statuses and counts).
    return [["runs-head"], ["run", run], ["dag", run], ["experiments"], ["experiment-runs"]];
  }
  if (message.kind === "step") {
    return [["run", run], ["dag", run], ["metrics", run], ["logs", run]];
  }
  if (message.kind === "output" && message.step) {
    // A running step printed more: only its logs (the panel's live tail) are stale.
    return [["logs", run, message.step]];
  }
  return [];
}

/** Every key a page may hold of live data: refreshed after a resync or a first connect. */
export function allKeys(runId?: string): QueryKey[] {
  return runId
    ? [["run", runId], ["dag", runId], ["metrics", runId], ["logs", runId]]
    : [["runs-head"], ["runs"], ["experiments"], ["experiment-runs"]];
}

/** Milliseconds to wait before reconnect attempt `attempt` (0, 1, 2...): 0.5 s doubling to 10 s. */
export function backoff(attempt: number): number {
  return Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.max(0, attempt));
}

/** The URL of the live feed for `runId` (or every run), resuming after `since`. */
export function liveUrl(kind: "ws" | "sse", runId: string | undefined, since: number | null, origin = window.location): string {
  const params = new URLSearchParams();
  if (runId) params.set("run", runId);
  if (since !== null) params.set("since", String(since));
  const query = params.toString() ? `?${params.toString()}` : "";
  if (kind === "sse") return `/api/v1/live/events${query}`;
  const scheme = origin.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${origin.host}/api/v1/live${query}`;
}

/**
 * Server-Sent Events parsed from text as it streams in: complete events are returned,
 * the unfinished tail is kept in `state.buffer` for the next chunk.
 */
export function parseSse(state: { buffer: string }, chunk: string): LiveMessage[] {
  state.buffer += chunk.replace(/\r\n/g, "\n");
  const found: LiveMessage[] = [];
  let end: number;
  while ((end = state.buffer.indexOf("\n\n")) >= 0) {
    const block = state.buffer.slice(0, end);
    state.buffer = state.buffer.slice(end + 2);
    const data = block
      .split("\n")
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).trimStart())
      .join("\n");
    if (data) {
      try {
        found.push(JSON.parse(data) as LiveMessage);
      } catch {
        // Not JSON: not ours (a proxy's message); skipped.
      }
    }
  }
  return found;
}

// -- the indicator's store: the state of every open connection ----------------------------

const states = new Map<number, LiveState>();
const listeners = new Set<() => void>();
let nextId = 0;
let summary: LiveState | null = null;

function publish(id: number, state: LiveState | null): void {
  if (state === null) states.delete(id);
  else states.set(id, state);
  const values = [...states.values()];
  summary = values.length === 0 ? null : values.includes("reconnecting") ? "reconnecting" : values.includes("connecting") ? "connecting" : "live";
  for (const listener of listeners) listener();
}

/** "live" when every connection is open, "reconnecting" when one is not; null with none. */
export function useLiveState(): LiveState | null {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => summary,
  );
}

// -- the connection --------------------------------------------------------------------------

/** One live connection: WebSocket first, SSE when sockets cannot be opened here. */
class LiveConnection {
  private readonly id = nextId++;
  private since: number | null = null;
  private attempt = 0;
  private socketFailures = 0;
  private closed = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pending = new Map<string, QueryKey>();
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private stop: (() => void) | null = null;
  private connectedOnce = false;

  constructor(
    private readonly client: QueryClient,
    private readonly runId: string | undefined,
  ) {
    publish(this.id, "connecting");
    this.open();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.stop?.();
    publish(this.id, null);
  }

  private open(): void {
    if (this.closed) return;
    // Two sockets that never opened in a row (a proxy without WebSockets): use SSE.
    if (this.socketFailures >= 2) this.openSse();
    else this.openSocket();
  }

  private retry(serverGone = false): void {
    this.stop?.();
    this.stop = null;
    if (this.closed) return;
    publish(this.id, "reconnecting");
    const wait = serverGone ? SERVER_GONE_MS : backoff(this.attempt++);
    this.timer = setTimeout(() => this.open(), wait);
  }

  private openSocket(): void {
    const { token } = getAuth();
    const protocols = token ? [PROTOCOL, `bearer.${token}`] : [PROTOCOL];
    let socket: WebSocket;
    try {
      socket = new WebSocket(liveUrl("ws", this.runId, this.since), protocols);
    } catch {
      this.socketFailures++;
      this.retry();
      return;
    }
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.socketFailures = 0;
    };
    socket.onmessage = (event: MessageEvent<string>) => {
      try {
        this.receive(JSON.parse(event.data) as LiveMessage);
      } catch {
        // A message that is not JSON is not ours.
      }
    };
    socket.onclose = (event: CloseEvent) => {
      if (!opened) this.socketFailures++;
      this.retry(opened && (event.code === 1012 || event.code === 1001));
    };
    this.stop = () => {
      socket.onclose = null;
      socket.close();
    };
  }

  private openSse(): void {
    const { token } = getAuth();
    const url = liveUrl("sse", this.runId, this.since);
    if (!token) {
      // The browser's EventSource resumes with Last-Event-ID by itself.
      const source = new EventSource(url);
      source.onmessage = (event: MessageEvent<string>) => {
        try {
          this.receive(JSON.parse(event.data) as LiveMessage);
        } catch {
          // Not ours.
        }
      };
      source.onerror = () => {
        if (source.readyState === EventSource.CLOSED) this.retry();
        else publish(this.id, "reconnecting");
      };
      this.stop = () => source.close();
      return;
    }
    // EventSource cannot send a header: read the stream with fetch and the token.
    const abort = new AbortController();
    this.stop = () => abort.abort();
    void (async () => {
      try {
        const response = await fetch(url, {
          headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
          signal: abort.signal,
          credentials: "same-origin",
        });
        if (!response.ok || !response.body) throw new Error(`live feed: ${response.status}`);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        const state = { buffer: "" };
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const message of parseSse(state, value)) this.receive(message);
        }
        this.retry();
      } catch {
        if (!abort.signal.aborted) this.retry();
      }
    })();
  }

  private receive(message: LiveMessage): void {
    if (message.kind === "hello") {
      this.attempt = 0;
      publish(this.id, "live");
      // Data read before the feed was listening may have missed a change: refresh it once
      // (data read after the hello is newer than the subscription, and stays).
      if (!this.connectedOnce || this.since === null) {
        const listening = Date.now();
        for (const queryKey of allKeys(this.runId)) {
          void this.client.invalidateQueries({
            queryKey,
            predicate: (query) => query.state.dataUpdatedAt > 0 && query.state.dataUpdatedAt < listening,
          });
        }
      }
      this.connectedOnce = true;
      if (this.since === null && typeof message.seq === "number") this.since = message.seq;
      return;
    }
    if (message.kind === "resync") {
      this.since = null; // reconnect from now, after reloading what the page shows
      this.stale(allKeys(this.runId));
      return;
    }
    if (message.kind === "error") return;
    if (typeof message.seq === "number") this.since = Math.max(this.since ?? 0, message.seq);
    this.stale(keysFor(message, this.runId));
  }

  /** Mark `keys` stale once the burst of changes settles (one refetch per query). */
  private stale(keys: QueryKey[]): void {
    for (const key of keys) this.pending.set(JSON.stringify(key), key);
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      const due = [...this.pending.values()];
      this.pending.clear();
      for (const queryKey of due) void this.client.invalidateQueries({ queryKey });
    }, SETTLE_MS);
  }
}

/**
 * Keep what this page shows current from the live feed: the runs list (no `runId`:
 * run-level changes of every run) or one run's page (its run and step changes).
 */
export function useLive(runId?: string): void {
  const client = useQueryClient();
  const { token } = useSyncExternalStore(subscribeToken, getAuth);
  useEffect(() => {
    const connection = new LiveConnection(client, runId);
    return () => connection.close();
  }, [client, runId, token]);
}

