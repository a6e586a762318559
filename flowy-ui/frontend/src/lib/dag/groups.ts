// Collapse and focus for big DAGs. Pure.
//
// When any step has tags (`@step(tags=[...])`, recorded by the metadata store), a tagged
// step's group is its first tag (tags come sorted) and an untagged one's comes from its name
// as below (groupKeyOf). Without tags, a step's group comes from its name: the part
// before a "." / "/" / ":" (a namespace: "train/fold3" -> "train"), else the name without a
// trailing index ("stage3_017" -> "stage3", "shard-12" -> "shard"). A name with neither is
// a group of its own. Collapsing a group draws one node in its place; edges into and out of
// the group go to that node (repeats merged, edges inside the group dropped).

export interface GraphNode {
  id: string;
  status?: string | null;
  /** The step's tags, sorted (none for a step recorded before tags were kept, or running). */
  tags?: readonly string[] | null;
}

export interface GroupNode {
  /** "group:" + the group's key: never a step name (steps cannot contain ":"? they may: the
   * prefix keeps the two apart because real ids are looked up first). */
  id: string;
  key: string;
  members: string[];
  /** Member count per status. */
  statuses: Record<string, number>;
  /** The status shown: the most urgent among the members. */
  status: string;
}

export const GROUP_PREFIX = "group:";

/** Status urgency: the group shows the first its members have. */
const URGENCY = ["failed", "crashed", "timed_out", "running", "pending", "cancelled", "skipped", "cached", "completed"];

export function groupKey(name: string): string {
  const ns = /^([^./:]+)[./:]/.exec(name);
  if (ns?.[1]) return ns[1];
  const indexed = /^(.*?[A-Za-z][A-Za-z0-9]*?)[_-]?\d+$/.exec(name);
  if (indexed?.[1] && indexed[1] !== name) return indexed[1].replace(/[_-]+$/, "");
  return name;
}

/** True when any node has a tag: the graph is then grouped by tag (see groupKeyOf). */
export function groupedByTag(nodes: readonly GraphNode[]): boolean {
  return nodes.some((n) => (n.tags?.length ?? 0) > 0);
}

/**
 * The group key function for `nodes`: when any has tags, a tagged node's first tag and an
 * untagged one's name key; otherwise every node's name key. `nameOf` gives the name a node
 * is keyed by (its label, else its id).
 */
export function groupKeyOf(nodes: readonly GraphNode[], nameOf: (id: string) => string = (id) => id): (id: string) => string {
  const nameKey = (id: string) => groupKey(nameOf(id));
  if (!groupedByTag(nodes)) return nameKey;
  const first = new Map<string, string>();
  for (const n of nodes) {
    const tag = n.tags?.[0];
    if (tag) first.set(n.id, tag);
  }
  return (id) => first.get(id) ?? nameKey(id);
}

/** Groups of two or more nodes, keyed by groupKey, in first-seen order. */
export function groupsOf(nodes: readonly GraphNode[], keyOf: (id: string) => string = groupKey): Map<string, GroupNode> {
  const groups = new Map<string, GroupNode>();
  for (const n of nodes) {
    const key = keyOf(n.id);
    let g = groups.get(key);
    if (!g) {
      g = { id: GROUP_PREFIX + key, key, members: [], statuses: {}, status: "completed" };
      groups.set(key, g);
    }
    g.members.push(n.id);
    const s = n.status ?? "unknown";
    g.statuses[s] = (g.statuses[s] ?? 0) + 1;
  }
  for (const [key, g] of groups) {
    if (g.members.length < 2) groups.delete(key);
    else g.status = URGENCY.find((s) => g.statuses[s]) ?? Object.keys(g.statuses)[0] ?? "unknown";
  }
  return groups;
}

export interface CollapsedGraph {
  /** Drawn nodes: real ids and group ids. */
  ids: string[];
  edges: Array<[string, string]>;
  /** Group id -> its group, for the collapsed ones drawn. */
  groups: Map<string, GroupNode>;
}

/** The graph with every group in `collapsed` (by key) drawn as one node. */
export function collapse(
  nodes: readonly GraphNode[],
  edges: ReadonlyArray<readonly [string, string]>,
  groups: Map<string, GroupNode>,
  collapsed: ReadonlySet<string>,
): CollapsedGraph {
  const owner = new Map<string, string>();
  const drawnGroups = new Map<string, GroupNode>();
  for (const g of groups.values()) {
    if (!collapsed.has(g.key)) continue;
    drawnGroups.set(g.id, g);
    for (const m of g.members) owner.set(m, g.id);
  }
  const ids: string[] = [];
  const seenIds = new Set<string>();
  for (const n of nodes) {
    const id = owner.get(n.id) ?? n.id;
    if (!seenIds.has(id)) {
      seenIds.add(id);
      ids.push(id);
    }
  }
  const seen = new Set<string>();
  const out: Array<[string, string]> = [];
  for (const [a, b] of edges) {
    const from = owner.get(a) ?? a;
    const to = owner.get(b) ?? b;
    const k = `${from}\u0000${to}`;
    if (from === to || seen.has(k) || !seenIds.has(from) || !seenIds.has(to)) continue;
    seen.add(k);
    out.push([from, to]);
  }
  return { ids, edges: out, groups: drawnGroups };
}

/** The groups to start collapsed: all of them above `limit` nodes, none below. */
export function initialCollapsed(nodeCount: number, groups: Map<string, GroupNode>, limit: number): Set<string> {
  return nodeCount > limit ? new Set(groups.keys()) : new Set();
}

/** `center` and the nodes within `depth` edges of it, upstream and downstream. */
export function neighbourhood(
  center: string,
  edges: ReadonlyArray<readonly [string, string]>,
  depth: number,
): Set<string> {
  const up = new Map<string, string[]>();
  const down = new Map<string, string[]>();
  for (const [a, b] of edges) {
    (down.get(a) ?? down.set(a, []).get(a))?.push(b);
    (up.get(b) ?? up.set(b, []).get(b))?.push(a);
  }
  const keep = new Set([center]);
  for (const links of [up, down]) {
    let frontier = [center];
    for (let d = 0; d < depth && frontier.length; d++) {
      const next: string[] = [];
      for (const n of frontier) {
        for (const m of links.get(n) ?? []) {
          if (!keep.has(m)) {
            keep.add(m);
            next.push(m);
          }
        }
      }
      frontier = next;
    }
  }
  return keep;
}
