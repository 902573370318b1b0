"use strict";
// `${ secrets.NAME }` references in a task's input, resolved in the worker
// (protocol, section 7), so that secret values never reach an event or the bus.
Object.defineProperty(exports, "__esModule", { value: true });
exports.fromEnvironment = exports.MissingSecret = void 0;
exports.lookupOf = lookupOf;
exports.resolve = resolve;
const OPEN = "${ secrets.";
const CLOSE = " }";
/** A reference names a secret this worker does not have: a permanent failure. */
class MissingSecret extends Error {
    name = "MissingSecret";
}
exports.MissingSecret = MissingSecret;
/** `secrets.api_token` is `DISTORCH_SECRET_API_TOKEN`, as for the built-in workers. */
const fromEnvironment = (name) => process.env[`DISTORCH_SECRET_${name.toUpperCase()}`];
exports.fromEnvironment = fromEnvironment;
function lookupOf(secrets) {
    if (secrets === undefined)
        return exports.fromEnvironment;
    if (typeof secrets === "function")
        return secrets;
    return (name) => (Object.hasOwn(secrets, name) ? secrets[name] : undefined);
}
/** `value` with each reference in its strings, at any depth, replaced. */
function resolve(value, lookup) {
    if (typeof value === "string")
        return resolveText(value, lookup);
    if (Array.isArray(value))
        return value.map((item) => resolve(item, lookup));
    if (typeof value === "object" && value !== null) {
        const out = {};
        for (const [key, item] of Object.entries(value))
            out[key] = resolve(item, lookup);
        return out;
    }
    return value;
}
function resolveText(text, lookup) {
    let out = "";
    let rest = text;
    for (let start = rest.indexOf(OPEN); start >= 0; start = rest.indexOf(OPEN)) {
        out += rest.slice(0, start);
        const after = rest.slice(start + OPEN.length);
        const end = after.indexOf(CLOSE);
        if (end < 0)
            return out + rest.slice(start);
        const name = after.slice(0, end);
        const secret = lookup(name);
        if (secret === undefined)
            throw new MissingSecret(`secret \`${name}\` is not set in this worker`);
        out += secret;
        rest = after.slice(end + CLOSE.length);
    }
    return out + rest;
}
