export { Worker, type WorkerOptions } from "./worker";
export { Permanent, Task } from "./task";
export type { TaskFunction } from "./execute";
export type { Kind } from "./message";
export { MissingSecret, type Secrets, type SecretLookup } from "./secrets";
