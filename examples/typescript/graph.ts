// Breadth-first and depth-first search over a typed graph: type aliases, closures, labels.

type NodeId = string;
type Edges = ReadonlyMap<NodeId, readonly NodeId[]>;

export class Graph {
  private readonly edges = new Map<NodeId, NodeId[]>();

  addEdge(from: NodeId, to: NodeId): this {
    const list = this.edges.get(from) ?? [];
    list.push(to);
    this.edges.set(from, list);
    if (!this.edges.has(to)) {
      this.edges.set(to, []);
    }
    return this;
  }

  view(): Edges {
    return this.edges;
  }
}

export function shortestPath(edges: Edges, start: NodeId, goal: NodeId): NodeId[] | null {
  const previous = new Map<NodeId, NodeId>();
  const queue: NodeId[] = [start];
  const seen = new Set<NodeId>([start]);
  search: while (queue.length > 0) {
    const current = queue.shift()!;
    for (const next of edges.get(current) ?? []) {
      if (seen.has(next)) continue;
      seen.add(next);
      previous.set(next, current);
      if (next === goal) break search;
      queue.push(next);
    }
  }
  if (!seen.has(goal)) {
    return null;
  }
  const path: NodeId[] = [];
  for (let at: NodeId | undefined = goal; at !== undefined; at = previous.get(at)) {
    path.unshift(at);
  }
  return path;
}

export function hasCycle(edges: Edges): boolean {
  const state = new Map<NodeId, 'visiting' | 'done'>();
  const visit = (node: NodeId): boolean => {
    const mark = state.get(node);
    if (mark === 'visiting') return true;
    if (mark === 'done') return false;
    state.set(node, 'visiting');
    const found = (edges.get(node) ?? []).some(visit);
    state.set(node, 'done');
    return found;
  };
  for (const node of edges.keys()) {
    if (visit(node)) {
      return true;
    }
  }
  return false;
}

const g = new Graph().addEdge('a', 'b').addEdge('b', 'c').addEdge('a', 'd').addEdge('d', 'c');
console.log(shortestPath(g.view(), 'a', 'c'), hasCycle(g.view()));
