// A stack's health (GET /api/v1/stacks/<name>/health): each component resolved, and
// the served stack's stores probed once each. Fetched on demand: a probe costs a
// round trip to the database and the artifact store, so it is never polled.
import { useQuery } from "@tanstack/react-query";
import { enc, getJson } from "./client";

export interface ProbeResult {
  ok: boolean;
  ms: number | null;
  error: string | null;
}

export interface ComponentHealth {
  type: string;
  distribution: string;
  version: string;
  resolved: boolean;
  probe: ProbeResult | null;
}

export interface StackHealth {
  name: string;
  served: boolean;
  ok: boolean;
  problems: string[];
  components: Record<string, ComponentHealth>;
}

export function useStackHealth(name: string, enabled: boolean) {
  return useQuery({
    queryKey: ["stack-health", name],
    queryFn: ({ signal }) => getJson<StackHealth>(`/api/v1/stacks/${enc(name)}/health`, signal),
    enabled,
    staleTime: 30_000,
    retry: false,
  });
}
