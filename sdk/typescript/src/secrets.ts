// `${ secrets.NAME }` references in a task's input, resolved in the worker
// (protocol, section 7), so that secret values never reach an event or the bus.

export type SecretLookup = (name: string) => string | undefined;
export type Secrets = SecretLookup | Record<string, string> | undefined;

const OPEN = "${ secrets.";
const CLOSE = " }";

/** A reference names a secret this worker does not have: a permanent failure. */
export class MissingSecret extends Error {
  override name = "MissingSecret";
}

/** `secrets.api_token` is `DISTORCH_SECRET_API_TOKEN`, as for the built-in workers. */
export const fromEnvironment: SecretLookup = (name) => process.env[`DISTORCH_SECRET_${name.toUpperCase()}`];

export function lookupOf(secrets: Secrets): SecretLookup {
  if (secrets === undefined) return fromEnvironment;
  if (typeof secrets === "function") return secrets;
  return (name) => (Object.hasOwn(secrets, name) ? secrets[name] : undefined);
}

/** `value` with each reference in its strings, at any depth, replaced. */
export function resolve(value: unknown, lookup: SecretLookup): unknown {
  if (typeof value === "string") return resolveText(value, lookup);
  if (Array.isArray(value)) return value.map((item) => resolve(item, lookup));
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = resolve(item, lookup);
    return out;
  }
  return value;
}

function resolveText(text: string, lookup: SecretLookup): string {
  let out = "";
  let rest = text;
  for (let start = rest.indexOf(OPEN); start >= 0; start = rest.indexOf(OPEN)) {
    out += rest.slice(0, start);
    const after = rest.slice(start + OPEN.length);
    const end = after.indexOf(CLOSE);
    if (end < 0) return out + rest.slice(start);
    const name = after.slice(0, end);
    const secret = lookup(name);
    if (secret === undefined) throw new MissingSecret(`secret \`${name}\` is not set in this worker`);
    out += secret;
    rest = after.slice(end + CLOSE.length);
  }
  return out + rest;
}
