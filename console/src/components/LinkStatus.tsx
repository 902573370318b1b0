import { useEffect, useState } from 'preact/hooks';
import type { Link } from '../sse';

// One place that says whether the live feeds are connected.
const listeners = new Set<(link: Link | null) => void>();
let current: Link | null = null;

export function reportLink(link: Link | null) {
  current = link;
  for (const listener of listeners) listener(link);
}

export function LinkStatus() {
  const [link, setLink] = useState<Link | null>(current);
  useEffect(() => {
    listeners.add(setLink);
    return () => void listeners.delete(setLink);
  }, []);
  const text = link === 'live' ? 'Live' : link === 'reconnecting' ? 'Reconnecting…' : link === 'connecting' ? 'Connecting…' : link === 'closed' ? 'Not live' : '';
  return (
    <span class={`link link-${link ?? 'none'}`} role="status" aria-live="polite">
      {text}
    </span>
  );
}
