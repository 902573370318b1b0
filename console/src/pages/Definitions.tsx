import { useEffect, useState } from 'preact/hooks';
import { type DefinitionItem, get } from '../api';
import { ProblemNote } from '../components/bits';

export function Definitions() {
  const [items, setItems] = useState<DefinitionItem[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    get<{ items: DefinitionItem[] }>('/api/v1/definitions').then((d) => setItems(d.items)).catch(setError);
  }, []);
  return (
    <section>
      <h1>Definitions</h1>
      <ProblemNote error={error} />
      {!items && !error && <p role="status">Loading…</p>}
      {items && (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Latest version</th>
              <th scope="col">Versions</th>
              <th scope="col">Description</th>
            </tr>
          </thead>
          <tbody>
            {items.length === 0 && (
              <tr>
                <td colSpan={4} class="muted">
                  No definition is deployed (<code>distorch deploy FILE</code>).
                </td>
              </tr>
            )}
            {items.map((d) => (
              <tr key={d.name}>
                <td>
                  <a href={`/definitions/${encodeURIComponent(d.name)}`}>{d.name}</a>
                </td>
                <td>v{d.latest_version}</td>
                <td>{d.versions.map((v) => `v${v}`).join(', ')}</td>
                <td>{d.description ?? <span class="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
