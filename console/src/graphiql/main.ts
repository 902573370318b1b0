// GraphiQL, vendored: served by the node at GET /graphql from this bundle,
// so it works offline. It uses the console's credential (kept for the tab's
// session) for queries and for subscriptions over /graphql/ws.

import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import { createElement as h } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';

const token = sessionStorage.getItem('distorch.credential');
const authorization: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
const socket = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql/ws`;

const fetcher = createGraphiQLFetcher({
  url: '/graphql',
  subscriptionUrl: socket,
  headers: authorization,
  wsConnectionParams: authorization,
});

const DEFAULT_QUERY = `# DisTorch's GraphQL API (docs/api.md#graphql).
query Recent {
  workflows(first: 10) {
    items { id definition status createdAt }
    nextCursor
  }
}
`;

function Page() {
  return h(
    'div',
    { style: { display: 'flex', flexDirection: 'column', height: '100vh' } },
    h(
      'header',
      { style: { display: 'flex', gap: '16px', alignItems: 'center', padding: '6px 14px', font: '14px system-ui, sans-serif', borderBottom: '1px solid #d5d9e0' } },
      h('a', { href: '/' }, '← DisTorch console'),
      h('span', null, token ? 'Using the credential you signed in with.' : 'Not signed in: '),
      token ? null : h('a', { href: '/sign-in?next=%2Fgraphql' }, 'sign in'),
    ),
    h('div', { style: { flex: 1, minHeight: 0 } }, h(GraphiQL, { fetcher, defaultQuery: DEFAULT_QUERY })),
  );
}

createRoot(document.getElementById('graphiql')!).render(h(Page));
