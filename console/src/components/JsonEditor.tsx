// A JSON editor for operator input: a monospace area that checks the JSON
// as it is typed, says where it breaks, and formats it on request.

import { useState } from 'preact/hooks';

export function parseJson(text: string): { value?: unknown; error?: string } {
  if (!text.trim()) return { error: 'Enter a JSON value (for example {} or null).' };
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { error: `Not JSON: ${(error as Error).message}` };
  }
}

export function JsonEditor({ id, label, value, onChange, rows = 6 }: { id: string; label: string; value: string; onChange: (text: string) => void; rows?: number }) {
  const [touched, setTouched] = useState(false);
  const check = parseJson(value);
  return (
    <div class="json-editor">
      <label for={id}>{label}</label>
      <textarea
        id={id}
        rows={rows}
        spellcheck={false}
        value={value}
        aria-invalid={touched && !!check.error}
        aria-describedby={`${id}-check`}
        onInput={(e) => {
          setTouched(true);
          onChange((e.target as HTMLTextAreaElement).value);
        }}
      />
      <div class="json-tools">
        <span id={`${id}-check`} class={check.error ? 'error-text' : 'ok-text'} aria-live="polite">
          {check.error ?? 'Valid JSON'}
        </span>
        <button type="button" class="quiet" disabled={!!check.error} onClick={() => onChange(JSON.stringify(check.value, null, 2))}>
          Format
        </button>
      </div>
    </div>
  );
}
