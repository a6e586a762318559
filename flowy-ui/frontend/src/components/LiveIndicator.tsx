import type { CSSProperties } from "react";
import { useLiveState } from "../api/live";

const COLORS = { live: "#2e7d32", connecting: "#9e9e9e", reconnecting: "#ef6c00" } as const;
const BOX: CSSProperties = { display: "inline-flex", alignItems: "center", gap: "0.35em", fontSize: "0.85em", marginLeft: "auto", marginRight: "0.75em" };

/**
 * "live" while every live connection of the page is open, "reconnecting" while one is
 * being re-established (the page may then be behind); nothing before the first connects.
 */
export function LiveIndicator() {
  const state = useLiveState();
  if (state === null) return null;
  const label = state === "live" ? "live" : state === "connecting" ? "connecting…" : "reconnecting…";
  return (
    <span className={`live-indicator live-${state}`} style={BOX} data-testid="live-indicator" data-state={state} role="status" aria-live="polite">
      <span aria-hidden="true" style={{ width: "0.6em", height: "0.6em", borderRadius: "50%", background: COLORS[state] }} />
      {label}
    </span>
  );
}
