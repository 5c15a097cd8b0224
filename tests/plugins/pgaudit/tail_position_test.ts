/** The stored position of a pgAudit source: round trip, refusal of damage, and its bound. */

import {
  boundState,
  decodePosition,
  encodePosition,
  type FileEntry,
  MAX_FILES,
} from "../../../plugins/pgaudit/tail_position.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";

function entry(i: number): FileEntry {
  return {
    hash: i.toString(16).padStart(32, "0"),
    length: 1024,
    offset: i * 10,
    line: i + 1,
    size: i * 10 + 5,
    mtime: 1_000 + i,
    name: `pg-${i}.csv`,
  };
}

Deno.test("encodePosition() and decodePosition() round-trip every field", () => {
  const state = { files: [entry(1), entry(2)], floor: 77 };
  assertEquals(decodePosition(encodePosition(state)), state);
  assertEquals(decodePosition(undefined), { files: [], floor: 0 });
});

Deno.test("decodePosition() refuses damaged or foreign positions with a SyntaxError", () => {
  for (
    const bad of [
      "not json",
      "{}",
      '{"v":2,"floor":0,"files":[]}',
      '{"v":1,"floor":-1,"files":[]}',
      '{"v":1,"floor":0,"files":[{"f":"xyz","n":1,"o":0,"l":1,"s":0,"m":0,"p":""}]}',
      '{"v":1,"floor":0,"files":[null]}',
      "0/16B3748",
    ]
  ) {
    assertThrows(() => decodePosition(bad), { instanceOf: SyntaxError, message: "position" });
  }
});

Deno.test("boundState() drops the least recently modified files past the bound and raises the floor", () => {
  const files = Array.from({ length: MAX_FILES + 3 }, (_, i) => entry(i));
  const state = { files, floor: 0 };
  // The oldest is being followed: it stays.
  const dropped = boundState(state, new Set([files[0]!.hash]));
  assertEquals(dropped.map((e) => e.name), ["pg-1.csv", "pg-2.csv", "pg-3.csv"]);
  assertEquals(state.files.length, MAX_FILES);
  assertEquals(state.floor, 1_003);
  assertEquals(boundState(state, new Set()), []);
});
