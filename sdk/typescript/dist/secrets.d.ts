export type SecretLookup = (name: string) => string | undefined;
export type Secrets = SecretLookup | Record<string, string> | undefined;
/** A reference names a secret this worker does not have: a permanent failure. */
export declare class MissingSecret extends Error {
    name: string;
}
/** `secrets.api_token` is `DISTORCH_SECRET_API_TOKEN`, as for the built-in workers. */
export declare const fromEnvironment: SecretLookup;
export declare function lookupOf(secrets: Secrets): SecretLookup;
/**
 * `value` with the references in the strings at `pointers` (JSON Pointers the
 * task names) replaced; `$${` there is a literal `${`. A reference anywhere
 * else is data and stays as it is.
 */
export declare function resolve(value: unknown, pointers: readonly string[], lookup: SecretLookup): unknown;
