"use strict";
// Results published with publisher confirms, together when several are ready
// at once: a result that comes while no publish is under way goes out at
// once; those that come while a publish waits for its confirm go out together
// in the next message (a JSON array, protocol section 3), up to 64.
Object.defineProperty(exports, "__esModule", { value: true });
exports.Reporter = exports.BATCH = void 0;
/** Results in one message at most (as DisTorch's own workers). */
exports.BATCH = 64;
class Reporter {
    send;
    waiting = [];
    publishing = false;
    constructor(send) {
        this.send = send;
    }
    /** Resolves once the message carrying `result` is confirmed. */
    publish(result) {
        return new Promise((resolveWith, reject) => {
            this.waiting.push({ result, confirmed: (error) => (error === undefined ? resolveWith() : reject(error)) });
            if (!this.publishing) {
                this.publishing = true;
                void this.drain();
            }
        });
    }
    async drain() {
        try {
            while (this.waiting.length > 0) {
                const batch = this.waiting.splice(0, exports.BATCH);
                let problem;
                try {
                    await this.send(batch.map((waiting) => waiting.result));
                }
                catch (error) {
                    problem = error ?? new Error("publishing failed");
                }
                for (const waiting of batch)
                    waiting.confirmed(problem);
            }
        }
        finally {
            this.publishing = false;
        }
    }
}
exports.Reporter = Reporter;
