import { ErrorBoundary, LocationProvider, Route, Router, lazy, useLocation } from 'preact-iso';
import { useEffect, useState } from 'preact/hooks';
import { type Me, Problem, credential, get, setCredential, whenUnauthorized } from './api';
import { Session, safeNext } from './session';
import { SignIn } from './pages/SignIn';
import { Overview } from './pages/Overview';
import { Workflows } from './pages/Workflows';
import { Approvals } from './pages/Approvals';
import { Definitions } from './pages/Definitions';
import { NotFound } from './pages/NotFound';
import { LinkStatus } from './components/LinkStatus';
import { ThemeToggle } from './components/ThemeToggle';

// The pages with a graph load their code (and the layout library) on demand.
const WorkflowPage = lazy(() => import('./pages/Workflow').then((m) => m.WorkflowPage));
const DefinitionPage = lazy(() => import('./pages/Definition').then((m) => m.DefinitionPage));

const NAV: { href: string; label: string }[] = [
  { href: '/', label: 'Overview' },
  { href: '/workflows', label: 'Workflows' },
  { href: '/approvals', label: 'Approvals' },
  { href: '/definitions', label: 'Definitions' },
];

/** Pages that come with the fleet issue: shown, marked as not available yet. */
const LATER = ['Queues', 'Workers', 'Dead letters'];

function Shell({ me, signOut }: { me: Me; signOut: () => void }) {
  const { path } = useLocation();
  const current = (href: string) => (href === '/' ? path === '/' : path === href || path.startsWith(`${href}/`));
  return (
    <div class="shell">
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <a class="brand" href="/" aria-label="DisTorch overview">
          <img src="/favicon.svg" alt="" width="22" height="22" /> DisTorch
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.href}>
                <a href={item.href} aria-current={current(item.href) ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
            {LATER.map((label) => (
              <li key={label}>
                <span class="later" aria-disabled="true" title={`${label}: not available yet (comes with the workers and queues API)`}>
                  {label} <small>soon</small>
                </span>
              </li>
            ))}
          </ul>
        </nav>
        <div class="tools">
          <LinkStatus />
          <a href="/graphql" class="tool-link">GraphQL</a>
          <a href="/docs/" class="tool-link">API docs</a>
          <ThemeToggle />
          <span class="who" title={`Signed in as ${me.id}`}>
            <span class="visually-hidden">Signed in as {me.id}, </span>
            <span class="role">{me.role}</span>
          </span>
          {credential() && (
            <button type="button" class="quiet" onClick={signOut}>
              Sign out
            </button>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <ErrorBoundary>
          <Router>
            <Route path="/" component={Overview} />
            <Route path="/workflows" component={Workflows} />
            <Route path="/workflows/:id" component={WorkflowPage} />
            <Route path="/approvals" component={Approvals} />
            <Route path="/definitions" component={Definitions} />
            <Route path="/definitions/:name" component={DefinitionPage} />
            <Route default component={NotFound} />
          </Router>
        </ErrorBoundary>
      </main>
    </div>
  );
}

function Gate() {
  const location = useLocation();
  const [me, setMe] = useState<Me | null>(null);
  const [state, setState] = useState<'loading' | 'signed-in' | 'signed-out' | 'unreachable'>('loading');
  const [error, setError] = useState('');

  const check = async () => {
    try {
      const found = await get<Me>('/api/v1/me');
      setMe(found.id ? found : null);
      setState(found.id ? 'signed-in' : 'signed-out');
    } catch (problem) {
      if (problem instanceof Problem && problem.status === 401) {
        setState('signed-out');
      } else {
        setError(problem instanceof Problem ? problem.detail : String(problem));
        setState('unreachable');
      }
    }
  };

  useEffect(() => {
    whenUnauthorized(() => {
      setCredential(null);
      setMe(null);
      setState('signed-out');
    });
    void check();
  }, []);

  useEffect(() => {
    if (state === 'signed-out' && location.path !== '/sign-in') {
      location.route(`/sign-in?next=${encodeURIComponent(location.url)}`, true);
    }
    if (state === 'signed-in' && location.path === '/sign-in') {
      location.route(safeNext(location.query.next), true);
    }
  }, [state, location.path]);

  if (state === 'loading') return <p class="loading" role="status">Loading…</p>;
  if (state === 'unreachable') {
    return (
      <main class="center" id="main">
        <h1>The node cannot be reached</h1>
        <p role="alert">{error}</p>
        <button type="button" onClick={() => { setState('loading'); void check(); }}>Try again</button>
      </main>
    );
  }
  if (state === 'signed-out' || !me) {
    return <SignIn onSignedIn={(who) => { setMe(who); setState('signed-in'); location.route(safeNext(location.query.next), true); }} />;
  }
  return (
    <Session.Provider value={me}>
      <Shell
        me={me}
        signOut={() => {
          setCredential(null);
          setMe(null);
          setState('signed-out');
        }}
      />
    </Session.Provider>
  );
}

export function App() {
  return (
    <LocationProvider>
      <Gate />
    </LocationProvider>
  );
}
