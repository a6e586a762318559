// Which side of an artifact each node of its lineage graph lies on. Pure.

/** Lineage edges go input -> output (GET /api/v1/artifacts/{id}/lineage). */
export type LineageEdge = readonly [string, string];

/**
 * "this" for `root`, "upstream" for the artifacts it was made from (transitively),
 * "downstream" for those made from it. A node reachable both ways (it cannot be, in a DAG)
 * keeps the first side found, upstream.
 */
export function lineageSides(root: string, edges: ReadonlyArray<LineageEdge>): Map<string, string> {
  const side = new Map<string, string>([[root, "this"]]);
  const walk = (step: (edge: LineageEdge) => [string, string], label: string) => {
    const queue = [root];
    for (let current = queue.shift(); current !== undefined; current = queue.shift()) {
      for (const edge of edges) {
        const [here, next] = step(edge);
        if (here === current && !side.has(next)) {
          side.set(next, label);
          queue.push(next);
        }
      }
    }
  };
  walk(([input, output]) => [output, input], "upstream");
  walk(([input, output]) => [input, output], "downstream");
  return side;
}
