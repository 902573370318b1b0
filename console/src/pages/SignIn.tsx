import { useState } from 'preact/hooks';
import { type Me, Problem, request, setCredential } from '../api';

export function SignIn({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError('');
    setCredential(value.trim());
    try {
      const me = await request<Me>('GET', '/api/v1/me', undefined, { quiet401: true });
      if (!me.id) throw new Error('The node did not recognise this credential.');
      onSignedIn(me);
    } catch (problem) {
      setCredential(null);
      setError(problem instanceof Problem ? problem.detail : String(problem));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="center" id="main">
      <form class="sign-in card" onSubmit={submit}>
        <h1>
          <img src="/favicon.svg" alt="" width="28" height="28" /> Sign in to DisTorch
        </h1>
        <label for="credential">API key or token</label>
        <input
          id="credential"
          name="credential"
          type="password"
          autocomplete="off"
          required
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          aria-describedby="credential-help"
        />
        <p id="credential-help" class="hint">
          An API key (<code>distorch apikey create</code>) or a JWT. It is kept for this tab only.
        </p>
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
