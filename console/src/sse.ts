// Server-Sent Events over fetch (so the credential travels in a header, not
// the URL), resuming with `Last-Event-ID` after a dropped connection or a
// node restart, and telling the page whether it is live or reconnecting.

import { createParser } from 'eventsource-parser';
import { headers } from './api';

export type Link = 'connecting' | 'live' | 'reconnecting' | 'closed';

export interface Feed {
  close(): void;
}

export function follow(
  url: string,
  onEvent: (data: unknown, id: string | undefined) => void,
  onLink: (link: Link) => void,
  lastId?: string,
): Feed {
  let closed = false;
  let last = lastId;
  let controller: AbortController | null = null;
  let delay = 500;
  const connect = async () => {
    while (!closed) {
      controller = new AbortController();
      try {
        const response = await fetch(url, {
          headers: headers(last ? { Accept: 'text/event-stream', 'Last-Event-ID': last } : { Accept: 'text/event-stream' }),
          signal: controller.signal,
        });
        if (response.status === 401 || response.status === 403 || response.status === 404) {
          onLink('closed');
          return;
        }
        if (!response.ok || !response.body) throw new Error(String(response.status));
        onLink('live');
        delay = 500;
        let lagged = false;
        const parser = createParser({
          onEvent(message) {
            if (message.id) last = message.id;
            if (message.event === 'lagged') {
              lagged = true;
              return;
            }
            try {
              onEvent(JSON.parse(message.data), message.id);
            } catch {
              // A keep-alive or a malformed line: nothing to show.
            }
          },
        });
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        while (!closed) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.feed(value);
        }
        if (lagged) continue;
      } catch {
        if (closed) return;
      }
      if (closed) return;
      onLink('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5000);
    }
  };
  onLink('connecting');
  void connect();
  return {
    close() {
      closed = true;
      controller?.abort();
    },
  };
}
