// A start form generated from the definition's input JSON Schema: a field
// per property (text, number, checkbox, choice, nested objects), required
// ones marked; the raw JSON stays available for what the form cannot say.

import { useState } from 'preact/hooks';
import { type JsonSchema, post } from '../api';
import { ProblemNote } from './bits';
import { JsonEditor, parseJson } from './JsonEditor';

type Value = Record<string, unknown>;

function typeOf(schema: JsonSchema): string {
  const t = Array.isArray(schema.type) ? schema.type.find((x) => x !== 'null') : schema.type;
  if (t) return t;
  if (schema.properties) return 'object';
  if (schema.enum) return 'enum';
  return 'any';
}

/** Whether the form can render this schema field by field. */
export function formable(schema: JsonSchema | null | undefined): boolean {
  if (!schema || typeOf(schema) !== 'object' || !schema.properties) return false;
  return Object.values(schema.properties).every((p) => ['string', 'number', 'integer', 'boolean', 'enum', 'object', 'array'].includes(typeOf(p)) && (typeOf(p) !== 'object' || formable(p)));
}

function initialOf(schema: JsonSchema): unknown {
  if (schema.default !== undefined) return schema.default;
  switch (typeOf(schema)) {
    case 'object': {
      const value: Value = {};
      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        const start = initialOf(property);
        if (start !== undefined) value[name] = start;
      }
      return value;
    }
    case 'boolean':
      return false;
    default:
      return undefined;
  }
}

function Field({ name, path, schema, required, value, onChange }: { name: string; path: string; schema: JsonSchema; required: boolean; value: unknown; onChange: (value: unknown) => void }) {
  const id = `field-${path.replace(/[^a-zA-Z0-9_-]/g, '-')}`;
  const label = (
    <>
      {schema.title ?? name}
      {required && <span class="required" aria-hidden="true"> *</span>}
    </>
  );
  const help = schema.description ? <small id={`${id}-help`}>{schema.description}</small> : null;
  const described = schema.description ? `${id}-help` : undefined;
  const kind = typeOf(schema);
  if (kind === 'object') {
    const object = (value as Value) ?? {};
    return (
      <fieldset>
        <legend>{label}</legend>
        {help}
        {Object.entries(schema.properties ?? {}).map(([child, property]) => (
          <Field key={child} name={child} path={`${path}.${child}`} schema={property} required={(schema.required ?? []).includes(child)} value={object[child]} onChange={(v) => onChange({ ...object, [child]: v })} />
        ))}
      </fieldset>
    );
  }
  if (schema.enum) {
    return (
      <div class="field">
        <label for={id}>{label}</label>
        <select id={id} required={required} aria-describedby={described} value={value === undefined ? '' : JSON.stringify(value)} onChange={(e) => { const t = (e.target as HTMLSelectElement).value; onChange(t === '' ? undefined : JSON.parse(t)); }}>
          <option value="">choose…</option>
          {schema.enum.map((option) => (
            <option key={JSON.stringify(option)} value={JSON.stringify(option)}>
              {String(option)}
            </option>
          ))}
        </select>
        {help}
      </div>
    );
  }
  if (kind === 'boolean') {
    return (
      <div class="field check">
        <input id={id} type="checkbox" checked={!!value} aria-describedby={described} onChange={(e) => onChange((e.target as HTMLInputElement).checked)} />
        <label for={id}>{label}</label>
        {help}
      </div>
    );
  }
  if (kind === 'array') {
    return (
      <div class="field">
        <JsonEditor id={id} label={`${schema.title ?? name}${required ? ' *' : ''} (a JSON list)`} rows={3} value={value === undefined ? '[]' : JSON.stringify(value)} onChange={(text) => { const parsed = parseJson(text); onChange(parsed.error ? text : parsed.value); }} />
        {help}
      </div>
    );
  }
  const numeric = kind === 'number' || kind === 'integer';
  const inputType: string = numeric ? 'number' : schema.format === 'date' ? 'date' : schema.format === 'email' ? 'email' : schema.format === 'date-time' ? 'datetime-local' : 'text';
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        {...({ type: inputType } as Record<string, string>)}
        required={required}
        min={schema.minimum}
        max={schema.maximum}
        step={kind === 'integer' ? 1 : numeric ? 'any' : undefined}
        aria-describedby={described}
        value={value === undefined ? '' : inputType === 'datetime-local' && typeof value === 'string' ? value.slice(0, 16) : String(value)}
        onInput={(e) => {
          const text = (e.target as HTMLInputElement).value;
          if (text === '') onChange(undefined);
          else if (numeric) onChange(Number(text));
          else if (inputType === 'datetime-local') onChange(new Date(text).toISOString());
          else onChange(text);
        }}
      />
      {help}
    </div>
  );
}

export function StartForm({ definition, version, schema, onStarted }: { definition: string; version: number; schema?: JsonSchema | null; onStarted: (id: string) => void }) {
  const usable = formable(schema);
  const [raw, setRaw] = useState(!usable);
  const [value, setValue] = useState<unknown>(() => (usable ? initialOf(schema!) : {}));
  const [text, setText] = useState(() => JSON.stringify(usable ? initialOf(schema!) : {}, null, 2));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const switchTo = (toRaw: boolean) => {
    if (toRaw) setText(JSON.stringify(value ?? {}, null, 2));
    else {
      const parsed = parseJson(text);
      if (!parsed.error) setValue(parsed.value);
    }
    setRaw(toRaw);
  };
  const submit = async (event: Event) => {
    event.preventDefault();
    const input = raw ? parseJson(text) : { value };
    if (input.error) {
      setError(new Error(input.error));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const started = await post<{ id: string }>('/api/v1/workflows', { definition, version, input: input.value });
      onStarted(started.id);
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="start-form" onSubmit={submit} aria-label={`Start ${definition}`}>
      {usable && (
        <div class="mode" role="group" aria-label="How to enter the input">
          <button type="button" aria-pressed={!raw} onClick={() => switchTo(false)}>
            Form
          </button>
          <button type="button" aria-pressed={raw} onClick={() => switchTo(true)}>
            Raw JSON
          </button>
        </div>
      )}
      {!usable && <p class="muted small">{schema ? 'The input schema is beyond the form: enter the input as JSON.' : 'This definition declares no input schema: enter the input as JSON.'}</p>}
      {raw ? (
        <JsonEditor id="start-input" label="Input (JSON)" value={text} onChange={setText} rows={8} />
      ) : (
        Object.entries(schema!.properties ?? {}).map(([name, property]) => (
          <Field key={name} name={name} path={name} schema={property} required={(schema!.required ?? []).includes(name)} value={(value as Value)[name]} onChange={(v) => setValue({ ...(value as Value), [name]: v })} />
        ))
      )}
      <ProblemNote error={error} />
      <button type="submit" disabled={busy}>
        Start {definition} v{version}
      </button>
    </form>
  );
}
