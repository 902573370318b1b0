// The whole graph of a definition, every step drawn from the start, each
// with what the page tells about it (its state, or its figures). Text is
// SVG <text>, so readers, search in page and tests find step ids and states.

import { memo } from 'preact/compat';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { GraphStep } from '../api';
import { type Layout, NODE_HEIGHT, NODE_WIDTH, layout } from './layout';

export interface NodeLook {
  /** The state in words (or a figure), the node's second line. */
  text: string;
  /** A CSS key for the colour (`completed`, `waiting-for-approval`...). */
  tone: string;
  /** 0-100, drawn as a bar along the bottom. */
  progress?: number;
  /** A third, smaller line (attempt, compensation, error). */
  note?: string;
  /** Draw attention: the bottleneck, the failing step. */
  highlight?: boolean;
}

const cache = new Map<string, Promise<Layout>>();

export function useLayout(key: string, steps: GraphStep[] | undefined): Layout | null {
  const [placed, setPlaced] = useState<Layout | null>(null);
  useEffect(() => {
    if (!steps) return;
    let promise = cache.get(key);
    if (!promise) {
      promise = layout(steps);
      cache.set(key, promise);
    }
    let live = true;
    promise.then((found) => live && setPlaced(found));
    return () => {
      live = false;
    };
  }, [key, steps]);
  return placed;
}

function path(points: { x: number; y: number }[]): string {
  if (points.length === 0) return '';
  const [first, ...rest] = points;
  if (rest.length === 0) return `M${first.x},${first.y}`;
  // A smooth curve through dagre's points.
  let d = `M${first.x},${first.y}`;
  for (let i = 0; i < rest.length - 1; i++) {
    const mid = { x: (rest[i].x + rest[i + 1].x) / 2, y: (rest[i].y + rest[i + 1].y) / 2 };
    d += ` Q${rest[i].x},${rest[i].y} ${mid.x},${mid.y}`;
  }
  const last = rest[rest.length - 1];
  return `${d} L${last.x},${last.y}`;
}

const TYPE_MARK: Record<string, string> = { task: 'task', http: 'http', approval: 'approval', wait: 'wait', noop: 'noop', fail: 'fail' };

function clip(text: string, size: number): string {
  return text.length > size ? `${text.slice(0, size - 1)}…` : text;
}

const Node = memo(function Node({ step, x, y, look, selected, onSelect }: { step: GraphStep; x: number; y: number; look: NodeLook; selected: boolean; onSelect?: (id: string) => void }) {
  // The accessible name comes from the node's text (what is seen is what is
  // read); the description says it in full, unclipped.
  const description = `step ${step.id}, ${step.type}: ${look.text}${look.note ? `, ${look.note}` : ''}${step.compensated ? ', has a compensation' : ''}`;
  const select = () => onSelect?.(step.id);
  return (
    <g
      class={`node t-${look.tone}${selected ? ' selected' : ''}${look.highlight ? ' highlight' : ''}`}
      transform={`translate(${x},${y})`}
      data-step={step.id}
      data-state={look.text}
      role={onSelect ? 'button' : 'img'}
      // Lower case: on SVG elements attribute names keep their case, and
      // only `tabindex` makes the node focusable.
      {...{ tabindex: onSelect ? 0 : undefined }}
      aria-label={onSelect ? undefined : description}
      aria-pressed={onSelect ? selected : undefined}
      onClick={select}
      onKeyDown={(e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          select();
        }
      }}
    >
      <desc>{description}</desc>
      <rect class="box" width={NODE_WIDTH} height={NODE_HEIGHT} rx="8" />
      <rect class="stripe" width="6" height={NODE_HEIGHT} rx="3" />
      <text class="step-id" x="14" y="20">
        {clip(step.id, 22)}
      </text>
      <text class="step-type" x={NODE_WIDTH - 8} y={NODE_HEIGHT - 8} text-anchor="end">
        {TYPE_MARK[step.type] ?? step.type}
      </text>
      <text class="step-state" x="14" y="39">
        {clip(look.text, 25)}
      </text>
      {(look.note || step.compensated) && (
        <text class="step-note" x="14" y="54">
          {step.compensated ? '↺ ' : ''}
          {clip(look.note ?? 'undoable', step.compensated ? 16 : 18)}
        </text>
      )}
      {look.progress !== undefined && (
        <rect class="progress" x="6" y={NODE_HEIGHT - 4} width={((NODE_WIDTH - 12) * Math.max(0, Math.min(100, look.progress))) / 100} height="3" />
      )}
    </g>
  );
});

export function Graph({ steps, layoutKey, look, selected, onSelect, label }: { steps: GraphStep[]; layoutKey: string; look: (id: string) => NodeLook; selected?: string; onSelect?: (id: string) => void; label: string }) {
  const placed = useLayout(layoutKey, steps);
  const box = useRef<HTMLDivElement>(null);
  const [room, setRoom] = useState(0);
  useEffect(() => {
    if (placed) requestAnimationFrame(() => performance.mark('graph-drawn'));
  }, [placed]);
  useEffect(() => {
    if (!box.current) return;
    const watch = new ResizeObserver(([entry]) => setRoom(entry.contentRect.width));
    watch.observe(box.current);
    return () => watch.disconnect();
  }, [placed !== null]);
  if (!placed) return <p role="status">Drawing the graph…</p>;
  // A graph a little wider than the page is shrunk to fit (text stays
  // readable down to 75%); a larger one keeps its size and scrolls.
  const fit = room > 0 && placed.width > room && room / placed.width >= 0.75 ? room / placed.width : 1;
  return (
    <div class="graph-scroll" tabIndex={0} role="region" aria-label={`${label} (scrolls)`} ref={box}>
      <svg class="graph" width={Math.floor(placed.width * fit)} height={Math.ceil(placed.height * fit)} viewBox={`0 0 ${placed.width} ${placed.height}`} role="group" aria-label={label}>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrow" />
          </marker>
        </defs>
        <g class="edges">
          {placed.edges.map((edge) => (
            <g key={`${edge.from}->${edge.to}`} class={`edge${edge.any ? ' any' : ''}`} data-from={edge.from} data-to={edge.to}>
              <path d={path(edge.points)} marker-end="url(#arrow)" />
              {edge.label && edge.label_at && (
                <text class="edge-label" x={edge.label_at.x} y={edge.label_at.y + 4} text-anchor="middle">
                  {edge.label}
                </text>
              )}
            </g>
          ))}
        </g>
        {Object.entries(placed.conditions).map(([id, text]) => (
          <text key={`c-${id}`} class="edge-label" x={placed.nodes[id].x + NODE_WIDTH / 2} y={placed.nodes[id].y - 4} text-anchor="middle">
            {text}
          </text>
        ))}
        <g class="nodes">
          {steps.map((step) => (
            <Node key={step.id} step={step} x={placed.nodes[step.id].x} y={placed.nodes[step.id].y} look={look(step.id)} selected={selected === step.id} onSelect={onSelect} />
          ))}
        </g>
      </svg>
    </div>
  );
}
