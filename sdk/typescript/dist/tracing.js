"use strict";
// OpenTelemetry, when `@opentelemetry/api` is installed: each task runs in a
// span of its own, a child of the task's `traceparent`. Without it, tasks run
// untraced and `task.traceparent` is the task's own.
Object.defineProperty(exports, "__esModule", { value: true });
exports.traceTask = traceTask;
function load() {
    try {
        return require("@opentelemetry/api");
    }
    catch {
        return undefined;
    }
}
const api = load();
function traceTask(task) {
    if (api === undefined) {
        return { run: (fn) => fn(), traceparent: () => task.traceparent, end: () => undefined };
    }
    const otel = api;
    const carrier = task.traceparent ? { traceparent: task.traceparent } : {};
    const parent = otel.propagation.extract(otel.context.active(), carrier);
    const span = otel.trace.getTracer("distorch").startSpan(`task ${task.step}`, {
        kind: otel.SpanKind.CONSUMER,
        attributes: {
            "distorch.queue": task.queue,
            "distorch.step": task.step,
            "distorch.instance_id": task.instanceId,
            "distorch.attempt": task.attempt,
            "distorch.kind": task.kind,
        },
    }, parent);
    const current = otel.trace.setSpan(parent, span);
    return {
        run: (fn) => otel.context.with(current, fn),
        traceparent: () => {
            const out = {};
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
