// The public API, as the console calls it: the credential of the tab's
// session on every request, problems (RFC 9457) as errors carrying their
// `detail`, and a 401 sending the user back to sign-in.

const KEY = 'distorch.credential';

export function credential(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setCredential(value: string | null) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

export class Problem extends Error {
  constructor(
    public status: number,
    public detail: string,
    public problems: { message: string; index?: number; line?: number }[] = [],
  ) {
    super(detail);
  }
}

let onUnauthorized: () => void = () => {};

/** What to do on a 401: the app sends the user to sign-in. */
export function whenUnauthorized(handler: () => void) {
  onUnauthorized = handler;
}

export function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = credential();
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

async function problemOf(response: Response): Promise<Problem> {
  try {
    const body = await response.json();
    return new Problem(response.status, body.detail ?? response.statusText, body.problems ?? []);
  } catch {
    return new Problem(response.status, `${response.status} ${response.statusText}`);
  }
}

export async function request<T>(method: string, path: string, body?: unknown, options: { quiet401?: boolean } = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new Problem(0, 'The node cannot be reached; check that it is running.');
  }
  if (response.status === 401 && !options.quiet401) onUnauthorized();
  if (!response.ok) throw await problemOf(response);
  return (await response.json()) as T;
}

export const get = <T,>(path: string) => request<T>('GET', path);
export const post = <T,>(path: string, body?: unknown) => request<T>('POST', path, body ?? null);

export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

// The shapes the console reads.

export interface Me {
  /** Null without a credential on a node that requires one. */
  id: string | null;
  role: string | null;
  permissions: string[];
}

export interface StepRow {
  id: string;
  type: string;
  status: string;
  attempt: number;
  output?: unknown;
  error?: string | null;
  last_error?: string;
  worker?: string;
  progress?: number;
  compensation?: string;
  scheduled_at?: string;
  started_at?: string;
  finished_at?: string;
}

export interface Workflow {
  id: string;
  definition: string;
  version: number;
  status: string;
  input: unknown;
  output?: unknown;
  error?: string | null;
  started_by?: string;
  current_steps?: string[];
  failed_steps?: string[];
  created_at?: string;
  updated_at?: string;
  finished_at?: string | null;
  steps?: StepRow[];
}

export interface WorkflowPage {
  items: Workflow[];
  next_cursor: string | null;
}

export interface GraphStep {
  id: string;
  type: string;
  description?: string | null;
  needs: string[];
  join: 'all' | 'any';
  when?: string | null;
  on_error: string;
  compensated: boolean;
  compensation_queue?: string | null;
  queue?: string | null;
  approvers?: string[];
  timeout_ms?: number | null;
  max_attempts: number;
}

export interface DefinitionVersion {
  name: string;
  version: number;
  hash: string;
  description?: string | null;
  created_at: string;
  source: string;
  graph: { steps: GraphStep[]; input_schema?: JsonSchema | null; mermaid: string };
}

export interface DefinitionItem {
  name: string;
  latest_version: number;
  description?: string | null;
  versions: number[];
}

export interface StepFigure {
  step: string;
  completed: number;
  failed: number;
  skipped: number;
  failure_rate: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
}

export interface Approval {
  workflow_id: string;
  task_id: string;
  definition: string;
  version: number;
  status: string;
  step: string;
  description?: string | null;
  attempt: number;
  requested_at?: string | null;
  due_at?: string | null;
  on_timeout: string;
  approvers: string[];
  input: unknown;
  decidable: boolean;
}

export interface Overview {
  at: string;
  counts: Record<string, number>;
  minutes: { at: string; started: number; finished: Record<string, number> }[];
  last_hour: Record<string, number>;
  approvals_waiting: number;
  queues: { queue: string; waiting: number; oldest_scheduled_at: string }[];
}

// A JSON Schema, as far as the start form reads it.
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  format?: string;
  minimum?: number;
  maximum?: number;
  default?: unknown;
}

/** Cached per name and version: a version never changes once deployed. */
const versions = new Map<string, Promise<DefinitionVersion>>();
export function definitionVersion(name: string, version: number): Promise<DefinitionVersion> {
  const key = `${name}@${version}`;
  let found = versions.get(key);
  if (!found) {
    found = get<DefinitionVersion>(`/api/v1/definitions/${encodeURIComponent(name)}/versions/${version}`);
    found.catch(() => versions.delete(key));
    versions.set(key, found);
  }
  return found;
}
