// Who is signed in and what the role may do: actions show only when the
// role permits them (`GET /api/v1/me`).

import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Me } from './api';

export const Session = createContext<Me | null>(null);

export function useMe(): Me | null {
  return useContext(Session);
}

export function may(me: Me | null, permission: 'read' | 'operate' | 'approve' | 'administer'): boolean {
  return !!me && me.permissions.includes(permission);
}

/** The page to go to after sign-in: only paths of this console. */
export function safeNext(next: string | undefined): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}
