// `${ secrets.NAME }` references in a task's input, resolved in the worker
// (protocol, section 7), so that secret values never reach an event or the bus.
// Only the strings the task names in `secrets` are resolved.

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

/**
 * `value` with the references in the strings at `pointers` (JSON Pointers the
 * task names) replaced; `$${` there is a literal `${`. A reference anywhere
 * else is data and stays as it is.
 */
export function resolve(value: unknown, pointers: readonly string[], lookup: SecretLookup): unknown {
  let resolved: unknown = structuredClone(value);
  for (const pointer of pointers) {
    if (pointer === "" && typeof resolved === "string") {
      resolved = resolveText(resolved, lookup);
      continue;
    }
    const found = locate(resolved, pointer);
    if (found === undefined) continue;
    const [parent, key] = found;
    const text = (parent as Record<string | number, unknown>)[key];
    if (typeof text === "string") (parent as Record<string | number, unknown>)[key] = resolveText(text, lookup);
  }
  return resolved;
}

/** The container holding the value at `pointer`, and its key or index. */
function locate(value: unknown, pointer: string): [object, string | number] | undefined {
  if (!pointer.startsWith("/")) return undefined;
  const tokens = pointer.slice(1).split("/").map((token) => token.replaceAll("~1", "/").replaceAll("~0", "~"));
  let found: [object, string | number] | undefined;
  let current: unknown = value;
  for (const token of tokens) {
    if (Array.isArray(current) && /^\d+$/.test(token) && Number(token) < current.length) {
      found = [current, Number(token)];
    } else if (typeof current === "object" && current !== null && !Array.isArray(current) && Object.hasOwn(current, token)) {
      found = [current, token];
    } else {
      return undefined;
    }
    current = (found[0] as Record<string | number, unknown>)[found[1]];
  }
  return found;
}

function resolveText(text: string, lookup: SecretLookup): string {
  let out = "";
  let rest = text;
  for (let start = rest.indexOf("${"); start >= 0; start = rest.indexOf("${")) {
    if (rest.slice(0, start).endsWith("$")) {
      out += rest.slice(0, start - 1) + "${";
      rest = rest.slice(start + 2);
      continue;
    }
    out += rest.slice(0, start);
    const end = rest.indexOf(CLOSE, start + OPEN.length);
    if (!rest.startsWith(OPEN, start) || end < 0) {
      out += "${";
      rest = rest.slice(start + 2);
      continue;
    }
    const name = rest.slice(start + OPEN.length, end);
    const secret = lookup(name);
    if (secret === undefined) throw new MissingSecret(`secret \`${name}\` is not set in this worker`);
    out += secret;
    rest = rest.slice(end + CLOSE.length);
  }
  return out + rest;
}
