// OpenTelemetry, when `@opentelemetry/api` is installed: each task runs in a
// span of its own, a child of the task's `traceparent`. Without it, tasks run
// untraced and `task.traceparent` is the task's own.

import type { TaskMessage } from "./message";

/** The few parts of `@opentelemetry/api` used here. */
interface Span {
  end(): void;
  recordException(error: Error): void;
  setStatus(status: { code: number; message?: string }): void;
}
interface Api {
  context: {
    active(): unknown;
    with<T>(context: unknown, fn: () => T): T;
  };
  propagation: {
    extract(context: unknown, carrier: Record<string, string>): unknown;
    inject(context: unknown, carrier: Record<string, string>): void;
  };
  trace: {
    getTracer(name: string): {
      startSpan(name: string, options: { kind: number; attributes: Record<string, string | number> }, context: unknown): Span;
    };
    setSpan(context: unknown, span: Span): unknown;
  };
  SpanKind: { CONSUMER: number };
  SpanStatusCode: { ERROR: number };
}

function load(): Api | undefined {
  try {
    return require("@opentelemetry/api") as Api;
  } catch {
    return undefined;
  }
}

const api = load();

export interface TaskTrace {
  /** Runs `fn` with the task's span current. */
  run<T>(fn: () => T): T;
  /** The `traceparent` to send on: the task's span's, or the task's own. */
  traceparent(): string | undefined;
  end(error: unknown): void;
}

export function traceTask(task: TaskMessage): TaskTrace {
  if (api === undefined) {
    return { run: (fn) => fn(), traceparent: () => task.traceparent, end: () => undefined };
  }
  const otel = api;
  const carrier: Record<string, string> = task.traceparent ? { traceparent: task.traceparent } : {};
  const parent = otel.propagation.extract(otel.context.active(), carrier);
  const span = otel.trace.getTracer("distorch").startSpan(
    `task ${task.step}`,
    {
      kind: otel.SpanKind.CONSUMER,
      attributes: {
        "distorch.queue": task.queue,
        "distorch.step": task.step,
        "distorch.instance_id": task.instanceId,
        "distorch.attempt": task.attempt,
        "distorch.kind": task.kind,
      },
    },
    parent,
  );
  const current = otel.trace.setSpan(parent, span);
  return {
    run: (fn) => otel.context.with(current, fn),
    traceparent: () => {
      const out: Record<string, string> = {};
      otel.propagation.inject(current, out);
      return out["traceparent"] ?? task.traceparent;
    },
    end: (error) => {
      if (error !== undefined) {
        span.recordException(error instanceof Error ? error : new Error(String(error)));
        span.setStatus({ code: otel.SpanStatusCode.ERROR, message: String(error) });
      }
      span.end();
    },
  };
}
