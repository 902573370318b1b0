// The events of an instance as the API sends them (history page or feed),
// in one shape: the fold, the timeline and the cause read only this.

export interface HistoryEvent {
  /** Position in the global log. */
  position: number;
  /** Position in the instance's stream, from 1. */
  version: number;
  type: string;
  data: Record<string, any>;
  actor: string;
  occurred_at: string;
}

/** A feed event (`/stream` routes) as a history event. */
export function fromFeed(item: any): HistoryEvent {
  return {
    position: item.position,
    version: item.version,
    type: item.type,
    data: item.data ?? {},
    actor: item.metadata?.actor ?? '',
    occurred_at: item.metadata?.occurred_at ?? item.recorded_at,
  };
}
