export type SecretLookup = (name: string) => string | undefined;
export type Secrets = SecretLookup | Record<string, string> | undefined;
/** A reference names a secret this worker does not have: a permanent failure. */
export declare class MissingSecret extends Error {
    name: string;
}
/** `secrets.api_token` is `DISTORCH_SECRET_API_TOKEN`, as for the built-in workers. */
export declare const fromEnvironment: SecretLookup;
export declare function lookupOf(secrets: Secrets): SecretLookup;
/** `value` with each reference in its strings, at any depth, replaced. */
export declare function resolve(value: unknown, lookup: SecretLookup): unknown;
