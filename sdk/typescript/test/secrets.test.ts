import assert from "node:assert/strict";
import { test } from "node:test";

import { lookupOf, MissingSecret, resolve } from "../src/secrets";

test("replaces references at any depth and keeps the rest", () => {
  const given = {
    headers: { Authorization: "Bearer ${ secrets.token }" },
    n: 1,
    list: ["${ secrets.token }${ secrets.token }", null, true],
    open: "${ secrets.token",
  };
  assert.deepEqual(resolve(given, lookupOf({ token: "s3cr3t" })), {
    headers: { Authorization: "Bearer s3cr3t" },
    n: 1,
    list: ["s3cr3ts3cr3t", null, true],
    open: "${ secrets.token",
  });
});

test("an unknown secret is named", () => {
  assert.throws(() => resolve(["${ secrets.other }"], lookupOf({})), (error: unknown) => {
    return error instanceof MissingSecret && error.message.includes("`other`");
  });
});

test("reads the environment by default", () => {
  process.env["DISTORCH_SECRET_API_TOKEN"] = "from-env";
  assert.equal(resolve("${ secrets.api_token }", lookupOf(undefined)), "from-env");
});
