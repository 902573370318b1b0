// One instance: the whole graph of its definition with live states, the
// timeline, the step panel, the history with time travel, why it ended,
// and the operator's actions.

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { type Approval, type DefinitionVersion, type Workflow, definitionVersion, get, query } from '../api';
import { ProblemNote, StatusBadge, Time, absolute } from '../components/bits';
import { reportLink } from '../components/LinkStatus';
import { Graph } from '../graph/Graph';
import { type HistoryEvent, fromFeed } from '../model/events';
import { type InstanceState, apply, fold, initial } from '../model/fold';
import { whyItEnded } from '../model/cause';
import { bars, pendingTimers } from '../model/timeline';
import { statusWords } from '../model/words';
import { follow } from '../sse';
import { may, useMe } from '../session';
import { lookOf } from './workflow/looks';
import { Timeline } from './workflow/Timeline';
import { History } from './workflow/History';
import { StepPanel } from './workflow/StepPanel';
import { Actions } from './workflow/Actions';

const FINAL = new Set(['completed', 'failed', 'compensated', 'compensation_failed', 'cancelled']);

async function loadHistory(id: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await get<{ items: HistoryEvent[]; next_after: number | null }>(`/api/v1/workflows/${id}/events${query({ after, limit: 500 })}`);
    events.push(...page.items);
    if (page.next_after === null) return events;
    after = page.next_after;
  }
}

/** The step to show first: one that failed, else one that waits or runs. */
function firstInterest(state: InstanceState): string | undefined {
  const order = state.order.map((id) => state.steps[id]);
  return (
    order.find((s) => s.compensation === 'failed' || (s.status === 'failed' && s.compensation === 'not_started'))?.id ??
    order.find((s) => s.status === 'waiting' || s.status === 'running')?.id
  );
}

export function WorkflowPage({ id }: { id: string }) {
  const me = useMe();
  const [row, setRow] = useState<Workflow | null>(null);
  const [definition, setDefinition] = useState<DefinitionVersion | null>(null);
  const [events, setEvents] = useState<HistoryEvent[]>([]);
  const [live, setLive] = useState<InstanceState | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [travel, setTravel] = useState<number | null>(null);
  const [selected, setSelected] = useState<string | undefined>();
  const [tab, setTab] = useState<'timeline' | 'history'>('timeline');
  const [approvals, setApprovals] = useState<Approval[]>([]);
  const [now, setNow] = useState(Date.now());
  const stepIds = useRef<string[]>([]);
  const eventsRef = useRef<HistoryEvent[]>([]);

  const refreshRow = () => get<Workflow>(`/api/v1/workflows/${id}`).then(setRow).catch(() => {});
  const refreshApprovals = () => get<{ items: Approval[] }>(`/api/v1/approvals${query({ workflow: id })}`).then((a) => setApprovals(a.items)).catch(() => {});

  // Load the instance, its definition and its history, then follow it live.
  useEffect(() => {
    let stop = false;
    let feed: { close(): void } | null = null;
    setError(null);
    setTravel(null);
    setSelected(undefined);
    (async () => {
      try {
        const workflow = await get<Workflow>(`/api/v1/workflows/${id}`);
        const [version, history] = await Promise.all([definitionVersion(workflow.definition, workflow.version), loadHistory(id)]);
        if (stop) return;
        stepIds.current = version.graph.steps.map((s) => s.id);
        eventsRef.current = history;
        const state = fold(stepIds.current, history);
        setRow(workflow);
        setDefinition(version);
        setEvents(history);
        setLive(state);
        void refreshApprovals();
        const last = history.length ? String(history[history.length - 1].position) : undefined;
        let queued: HistoryEvent[] = [];
        let frame = 0;
        const flush = () => {
          frame = 0;
          const fresh = queued.filter((e) => !eventsRef.current.length || e.position > eventsRef.current[eventsRef.current.length - 1].position);
          queued = [];
          if (!fresh.length) return;
          eventsRef.current = [...eventsRef.current, ...fresh];
          setEvents(eventsRef.current);
          setLive((state) => fresh.reduce(apply, state ?? initial(stepIds.current)));
          if (fresh.some((e) => e.type.startsWith('Approval') || e.type.startsWith('Workflow'))) void refreshApprovals();
          if (fresh.some((e) => e.type.startsWith('Workflow') || e.type === 'CompensationStarted')) void refreshRow();
        };
        feed = follow(
          `/api/v1/workflows/${id}/stream${query({ after: last ?? 0 })}`,
          (item) => {
            queued.push(fromFeed(item));
            if (!frame) frame = requestAnimationFrame(flush);
          },
          reportLink,
          last,
        );
      } catch (problem) {
        if (!stop) setError(problem);
      }
    })();
    return () => {
      stop = true;
      feed?.close();
      reportLink(null);
    };
  }, [id]);

  // Progress lives in the read model only (heartbeats are not events).
  const running = !!live && Object.values(live.steps).some((s) => s.status === 'running');
  useEffect(() => {
    const timer = setInterval(() => {
      setNow(Date.now());
      if (running) void refreshRow();
    }, 2000);
    return () => clearInterval(timer);
  }, [running, id]);

  const shownState = useMemo(() => (travel === null || !live ? live : fold(stepIds.current, events, travel + 1)), [travel, live, events]);
  const progress = useMemo(() => new Map((row?.steps ?? []).filter((s) => s.progress !== undefined).map((s) => [s.id, s.progress])), [row]);
  const timeline = useMemo(() => bars(travel === null ? events : events.slice(0, travel + 1)), [events, travel]);

  if (error) {
    return (
      <section>
        <h1>Workflow {id}</h1>
        <ProblemNote error={error} />
      </section>
    );
  }
  if (!row || !definition || !live || !shownState) return <p role="status">Loading workflow {id}…</p>;

  const status = live.status === 'not_started' ? row.status : live.status;
  const cause = FINAL.has(status) ? whyItEnded(status, events) : null;
  const stepDefs = definition.graph.steps;
  // Until someone picks a step, the panel follows the step that matters now.
  const focus = selected ?? firstInterest(shownState);
  const selectedStep = focus ? shownState.steps[focus] : undefined;
  const selectedDef = stepDefs.find((s) => s.id === focus);
  const decidable = new Set(approvals.filter((a) => a.decidable).map((a) => a.step));
  const pickedEvent = travel !== null ? events[travel] : null;

  return (
    <section class="workflow">
      <header class="page-head">
        <div>
          <h1>
            <span class="muted">Workflow</span> <code class="full-id">{id}</code>
          </h1>
          <p class="sub">
            <a href={`/definitions/${encodeURIComponent(row.definition)}`}>{row.definition}</a> v{row.version} · <StatusBadge status={status} />
            {live.started_at && (
              <>
                {' '}
                · started <Time at={live.started_at} /> by {row.started_by ?? events[0]?.actor}
              </>
            )}
            {live.finished_at && (
              <>
                {' '}
                · ended <Time at={live.finished_at} />
              </>
            )}
            {live.sla_breached && <span class="badge s-failed">SLA breached</span>}
          </p>
        </div>
        {may(me, 'operate') && <Actions id={id} status={status} onChanged={() => void refreshRow()} />}
      </header>
      {cause && (
        <p class={`cause s-${statusWords(status).replace(/ /g, '-')}`} role="note" aria-label="Why it ended">
          {cause}
        </p>
      )}
      {pickedEvent && (
        <div class="travel" role="status">
          <span>
            Showing the graph as it was right after event {pickedEvent.version}, <strong>{pickedEvent.type}</strong> ({absolute(pickedEvent.occurred_at)}): the workflow was{' '}
            <strong>{statusWords(shownState.status)}</strong>.
          </span>
          <button type="button" onClick={() => setTravel(null)}>
            Back to live
          </button>
        </div>
      )}
      <div class="card graph-card">
        <Graph
          steps={stepDefs}
          layoutKey={`${definition.name}@${definition.version}`}
          look={(step) => lookOf(shownState.steps[step], progress.get(step))}
          selected={focus}
          onSelect={setSelected}
          label={`Steps of ${row.definition} and their states${pickedEvent ? ` right after event ${pickedEvent.version}` : ''}`}
        />
      </div>
      <div class="split">
        <div class="card">
          <div role="tablist" aria-label="Timeline or history" class="tabs">
            <button type="button" role="tab" id="tab-timeline" aria-selected={tab === 'timeline'} aria-controls="panel-timeline" onClick={() => setTab('timeline')}>
              Timeline
            </button>
            <button type="button" role="tab" id="tab-history" aria-selected={tab === 'history'} aria-controls="panel-history" onClick={() => setTab('history')}>
              History ({events.length} events)
            </button>
          </div>
          <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
            {tab === 'timeline' ? (
              <Timeline bars={timeline} timers={pendingTimers(shownState)} now={travel === null ? (FINAL.has(status) ? new Date(live.finished_at ?? now).getTime() : now) : new Date(events[travel].occurred_at).getTime()} onSelect={setSelected} />
            ) : (
              <History events={events} at={travel} onPick={setTravel} />
            )}
          </div>
        </div>
        <div>
          {selectedStep && selectedDef ? (
            <StepPanel
              key={selectedStep.id}
              workflowId={id}
              definition={selectedDef}
              state={shownState}
              step={selectedStep}
              row={row.steps?.find((s) => s.id === selectedStep.id)}
              live={travel === null}
              canOperate={may(me, 'operate')}
              decidable={decidable.has(selectedStep.id)}
              onChanged={() => {
                void refreshRow();
                void refreshApprovals();
              }}
            />
          ) : (
            <p class="card muted">Choose a step on the graph to see its input, output, error and actions.</p>
          )}
        </div>
      </div>
    </section>
  );
}
