import assert from "node:assert/strict";
import { test } from "node:test";

import { lookupOf, MissingSecret, resolve } from "../src/secrets";

test("replaces references where the task says and keeps the rest", () => {
  const given = {
    headers: { Authorization: "Bearer ${ secrets.token } $${ secrets.token }" },
    n: 1,
    list: ["${ secrets.token }${ secrets.token }", null, true],
    open: "${ secrets.token",
    note: "${ secrets.token }",
  };
  const pointers = ["/headers/Authorization", "/list/0", "/open", "/missing/x"];
  assert.deepEqual(resolve(given, pointers, lookupOf({ token: "s3cr3t" })), {
    headers: { Authorization: "Bearer s3cr3t ${ secrets.token }" },
    n: 1,
    list: ["s3cr3ts3cr3t", null, true],
    open: "${ secrets.token",
    note: "${ secrets.token }",
  });
  assert.equal(given.headers.Authorization.startsWith("Bearer ${"), true);
});

test("an unknown secret is named", () => {
  assert.throws(() => resolve(["${ secrets.other }"], ["/0"], lookupOf({})), (error: unknown) => {
    return error instanceof MissingSecret && error.message.includes("`other`");
  });
});

test("reads the environment by default", () => {
  process.env["DISTORCH_SECRET_API_TOKEN"] = "from-env";
  assert.equal(resolve("${ secrets.api_token }", [""], lookupOf(undefined)), "from-env");
});
