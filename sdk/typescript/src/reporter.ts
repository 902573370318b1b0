// Results published with publisher confirms, together when several are ready
// at once: a result that comes while no publish is under way goes out at
// once; those that come while a publish waits for its confirm go out together
// in the next message (a JSON array, protocol section 3), up to 64.

import type { Result } from "./message";

/** Results in one message at most (as DisTorch's own workers). */
export const BATCH = 64;

type Waiting = { result: Result; confirmed: (error?: unknown) => void };

export class Reporter {
  private waiting: Waiting[] = [];
  private publishing = false;

  constructor(private readonly send: (results: Result[]) => Promise<void>) {}

  /** Resolves once the message carrying `result` is confirmed. */
  publish(result: Result): Promise<void> {
    return new Promise((resolveWith, reject) => {
      this.waiting.push({ result, confirmed: (error) => (error === undefined ? resolveWith() : reject(error)) });
      if (!this.publishing) {
        this.publishing = true;
        void this.drain();
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0, BATCH);
        let problem: unknown;
        try {
          await this.send(batch.map((waiting) => waiting.result));
        } catch (error) {
          problem = error ?? new Error("publishing failed");
        }
        for (const waiting of batch) waiting.confirmed(problem);
      }
    } finally {
      this.publishing = false;
    }
  }
}
