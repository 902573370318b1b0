// The layout of a definition's graph, by dagre (a layered layout for
// directed acyclic graphs). Computed once per definition version: states
// change the drawing, never the positions.

import type { GraphStep } from '../api';

export const NODE_WIDTH = 196;
export const NODE_HEIGHT = 62;

export interface PlacedEdge {
  from: string;
  to: string;
  points: { x: number; y: number }[];
  label?: string;
  label_at?: { x: number; y: number };
  any: boolean;
}

export interface Layout {
  width: number;
  height: number;
  nodes: Record<string, { x: number; y: number }>;
  edges: PlacedEdge[];
  /** Conditions of steps without needs, drawn above the node. */
  conditions: Record<string, string>;
}

/** The text of a step's condition on its incoming edge. */
export function conditionLabel(step: GraphStep): string | undefined {
  return step.when ? `when ${step.when.length > 40 ? `${step.when.slice(0, 39)}…` : step.when}` : undefined;
}

export async function layout(steps: GraphStep[]): Promise<Layout> {
  const { default: dagre } = await import('@dagrejs/dagre');
  // Marks for the benchmark (docs/benchmarks.md): layout, then draw.
  performance.mark('graph-layout-start');
  const graph = new dagre.graphlib.Graph({ multigraph: false });
  // longest-path ranking: a fraction of network-simplex's time on 200 steps, and
  // workflows read as well with it (their ranks are their depths).
  graph.setGraph({ rankdir: 'LR', ranker: 'longest-path', nodesep: 22, ranksep: 52, edgesep: 12, marginx: 12, marginy: 12 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const step of steps) graph.setNode(step.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  const conditions: Record<string, string> = {};
  for (const step of steps) {
    const label = conditionLabel(step);
    if (label && step.needs.length === 0) conditions[step.id] = label;
    step.needs.forEach((need, index) => {
      // One label per step: its condition (and `any`) on the first incoming edge.
      const text = index === 0 ? [step.join === 'any' ? 'join: any' : '', label ?? ''].filter(Boolean).join(' · ') : step.join === 'any' ? 'any' : '';
      graph.setEdge(need, step.id, text ? { label: text, width: Math.min(260, text.length * 6.4 + 10), height: 16, labelpos: 'c' } : {});
    });
  }
  dagre.layout(graph);
  const nodes: Layout['nodes'] = {};
  for (const step of steps) {
    const node = graph.node(step.id);
    nodes[step.id] = { x: node.x - NODE_WIDTH / 2, y: node.y - NODE_HEIGHT / 2 };
  }
  const byId = new Map(steps.map((s) => [s.id, s]));
  const edges: PlacedEdge[] = graph.edges().map((e) => {
    const edge = graph.edge(e);
    return {
      from: e.v,
      to: e.w,
      points: edge.points ?? [],
      label: edge.label,
      label_at: edge.label ? { x: edge.x, y: edge.y } : undefined,
      any: byId.get(e.w)?.join === 'any',
    };
  });
  const size = graph.graph();
  performance.mark('graph-layout-end');
  return { width: Math.ceil(size.width ?? 0), height: Math.ceil(size.height ?? 0), nodes, edges, conditions };
}
