// A definition: its versions, the graph with each step's p50/p95 and
// failure rate (the bottleneck stands out), the YAML source highlighted,
// recent instances, and a start form generated from the input schema.

import { useEffect, useMemo, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import hljs from 'highlight.js/lib/core';
import yaml from 'highlight.js/lib/languages/yaml';
import json from 'highlight.js/lib/languages/json';
import { type DefinitionVersion, type StepFigure, type WorkflowPage, definitionVersion, get, query } from '../api';
import { IdLink, ProblemNote, StatusBadge, Time, absolute, duration } from '../components/bits';
import { StartForm } from '../components/StartForm';
import { Graph, type NodeLook } from '../graph/Graph';
import { may, useMe } from '../session';

hljs.registerLanguage('yaml', yaml);
hljs.registerLanguage('json', json);

function percent(rate: number | null): string {
  return rate === null ? '—' : `${(rate * 100).toFixed(rate > 0 && rate < 0.01 ? 2 : 1)}%`;
}

export function DefinitionPage({ name }: { name: string }) {
  const me = useMe();
  const location = useLocation();
  const [versions, setVersions] = useState<{ version: number; created_at: string; description?: string | null }[] | null>(null);
  const [current, setCurrent] = useState<DefinitionVersion | null>(null);
  const [figures, setFigures] = useState<StepFigure[]>([]);
  const [recent, setRecent] = useState<WorkflowPage | null>(null);
  const [error, setError] = useState<unknown>(null);
  const wanted = location.query.version ? Number(location.query.version) : undefined;

  useEffect(() => {
    setError(null);
    get<{ versions: { version: number; created_at: string; description?: string | null }[] }>(`/api/v1/definitions/${encodeURIComponent(name)}`)
      .then((found) => setVersions(found.versions))
      .catch(setError);
    get<{ items: StepFigure[] }>(`/api/v1/definitions/${encodeURIComponent(name)}/steps`).then((f) => setFigures(f.items)).catch(() => {});
    get<WorkflowPage>(`/api/v1/workflows${query({ definition: name, limit: 10 })}`).then(setRecent).catch(() => {});
  }, [name]);

  const version = wanted ?? versions?.[versions.length - 1]?.version;
  useEffect(() => {
    if (version === undefined) return;
    definitionVersion(name, version).then(setCurrent).catch(setError);
  }, [name, version]);

  const byStep = useMemo(() => new Map(figures.map((f) => [f.step, f])), [figures]);
  const slowest = useMemo(() => figures.reduce<StepFigure | null>((worst, f) => (f.p95_ms !== null && (!worst || (worst.p95_ms ?? 0) < f.p95_ms) ? f : worst), null), [figures]);
  const source = useMemo(() => (current ? hljs.highlight(current.source, { language: current.source.trimStart().startsWith('{') ? 'json' : 'yaml' }).value : ''), [current]);

  const look = (id: string): NodeLook => {
    const f = byStep.get(id);
    if (!f) return { text: 'no runs yet', tone: 'pending' };
    const failing = (f.failure_rate ?? 0) > 0;
    return {
      text: `p50 ${duration(f.p50_ms)} · p95 ${duration(f.p95_ms)}`,
      tone: slowest?.step === id ? 'bottleneck' : failing ? 'failing' : 'measured',
      note: `${percent(f.failure_rate)} failed · ${f.completed + f.failed} ended`,
      highlight: slowest?.step === id,
    };
  };

  if (error) {
    return (
      <section>
        <h1>{name}</h1>
        <ProblemNote error={error} />
      </section>
    );
  }
  return (
    <section class="definition">
      <header class="page-head">
        <div>
          <h1>
            <span class="muted">Definition</span> {name}
          </h1>
          {current?.description && <p class="sub">{current.description}</p>}
        </div>
        {versions && (
          <label class="version-pick">
            Version
            <select value={String(version)} onChange={(e) => location.route(`/definitions/${encodeURIComponent(name)}?version=${(e.target as HTMLSelectElement).value}`)}>
              {versions.map((v) => (
                <option key={v.version} value={String(v.version)}>
                  v{v.version} · deployed {absolute(v.created_at)}
                </option>
              ))}
            </select>
          </label>
        )}
      </header>
      {!current && <p role="status">Loading…</p>}
      {current && (
        <>
          <div class="card graph-card">
            <h2>Steps, with p50 and p95 durations and failure rates (all versions)</h2>
            {slowest && (
              <p class="note">
                Bottleneck: <strong>{slowest.step}</strong>, p95 {duration(slowest.p95_ms)} from scheduled to completed.
              </p>
            )}
            <Graph steps={current.graph.steps} layoutKey={`${current.name}@${current.version}`} look={look} label={`Steps of ${name} v${current.version} with their durations`} />
          </div>
          <div class="split">
            <section class="card">
              <h2>Start a workflow</h2>
              {may(me, 'operate') ? (
                <StartForm definition={current.name} version={current.version} schema={current.graph.input_schema} onStarted={(id) => location.route(`/workflows/${id}`)} />
              ) : (
                <p class="muted">Your role ({me?.role}) may not start workflows.</p>
              )}
            </section>
            <section class="card">
              <h2>Recent instances</h2>
              {!recent || recent.items.length === 0 ? (
                <p class="muted">None yet.</p>
              ) : (
                <table>
                  <tbody>
                    {recent.items.map((w) => (
                      <tr key={w.id}>
                        <td>
                          <IdLink id={w.id} />
                        </td>
                        <td>v{w.version}</td>
                        <td>
                          <StatusBadge status={w.status} />
                        </td>
                        <td>
                          <Time at={w.created_at} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              <p>
                <a href={`/workflows?definition=${encodeURIComponent(name)}`}>All instances of {name}</a>
              </p>
            </section>
          </div>
          <section class="card">
            <h2>Source of v{current.version}</h2>
            <pre class="source" tabIndex={0} aria-label={`YAML source of ${name} v${current.version}`}>
              <code class="hljs" dangerouslySetInnerHTML={{ __html: source }} />
            </pre>
          </section>
        </>
      )}
    </section>
  );
}
