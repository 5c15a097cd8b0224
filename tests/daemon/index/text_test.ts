import assert from "node:assert/strict";
import {
  foldText,
  ftsQuery,
  searchableText,
  textMatches,
  textTokens,
  tokenTrigrams,
} from "../../../daemon/index/text.ts";
import { event } from "./_events.ts";

Deno.test("foldText() lower-cases Unicode and replaces lone surrogates", () => {
  assert.equal(foldText("SELECT Ä É"), "select ä é");
  assert.equal(foldText("a\ud800b"), "a\ufffdb");
  assert.equal(foldText("x\udc00"), foldText("x\ud800"));
});

Deno.test("textTokens() splits on any white space, folds and drops duplicates", () => {
  assert.deepEqual(textTokens("  DROP\ttable\n drop\u00a0Users "), ["drop", "table", "users"]);
  assert.deepEqual(textTokens(""), []);
  assert.deepEqual(textTokens(" \t\n"), []);
});

Deno.test("searchableText() holds statement and error, and raw only for unparsed input", () => {
  assert.equal(searchableText(event(0)), undefined);
  assert.equal(
    searchableText(event(0, { statement: "SELECT 1", error: "Boom", raw: "RAW" })),
    "select 1\nboom",
  );
  assert.equal(searchableText(event(0, { raw: "Garbled", parse_error: "bad csv" })), "garbled");
  assert.equal(searchableText(event(0, { kind: "app", token: "CI-Deployer" })), "ci-deployer");
});

Deno.test("textMatches() needs every token, and a text for any token", () => {
  assert.ok(textMatches("select * from users", ["user", "from"]));
  assert.ok(!textMatches("select * from users", ["user", "drop"]));
  assert.ok(textMatches(undefined, []));
  assert.ok(!textMatches(undefined, ["a"]));
});

Deno.test("tokenTrigrams() counts code points, skips NUL and bounds long tokens", () => {
  assert.deepEqual(tokenTrigrams("ab"), []);
  assert.deepEqual(tokenTrigrams("abcd"), ["abc", "bcd"]);
  assert.deepEqual(tokenTrigrams("😀😀é"), ["😀😀é"]);
  assert.deepEqual(tokenTrigrams("a\0bcd"), ["bcd"]);
  assert.deepEqual(tokenTrigrams("aaaaa"), ["aaa"]);
  const long = tokenTrigrams("abcdefghijklmnopqrstuvwxyz0123456789");
  assert.equal(long.length, 12);
  assert.equal(long[0], "abc");
  assert.equal(long[11], "789");
});

Deno.test("ftsQuery() quotes every trigram so FTS5 syntax in user text is literal", () => {
  assert.equal(ftsQuery(["ab"]), undefined);
  assert.equal(ftsQuery(['a"b']), '"a""b"');
  assert.equal(ftsQuery(["near(", "x*y"]), '"nea" AND "ear" AND "ar(" AND "x*y"');
  assert.equal(ftsQuery(["-abc", "abc"]), '"-ab" AND "abc"');
});

Deno.test("searchableText() holds parameter values and row values, not column names", () => {
  const text = searchableText(event(0, {
    params: ["Ada Lovelace", null],
    old_row: { owner: "Old Name", id: "7" },
    new_row: { owner: "New Name", id: "7", note: null },
  }))!;
  for (const want of ["ada lovelace", "old name", "new name", "7"]) {
    assert.ok(text.includes(want), `${want} in ${JSON.stringify(text)}`);
  }
  assert.ok(!text.includes("owner") && !text.includes("null"), text);
});

Deno.test("searchableText() holds a value said twice once, and still matches what it matched", () => {
  const ev = event(0, {
    old_row: { id: "4711", owner: "Ada", note: "same" },
    new_row: { id: "4711", owner: "Grace", note: "same" },
  });
  const text = searchableText(ev)!;
  assert.equal(text.split("\n").filter((v) => v === "4711").length, 1, text);
  for (const hit of ["4711", "ada", "grace", "same", "471"]) assert.ok(textMatches(text, [hit]));
  assert.ok(!text.includes("4711\n4711"), "the value is not repeated");
});
