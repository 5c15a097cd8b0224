/**
 * The recorded fixtures (`tests/testdata/pgaudit/`, see its `record.ts`): real PostgreSQL 15 +
 * pgAudit output of the nasty workload in all three formats. Every format must give back every
 * statement byte for byte, the parameters, the failed logins, the errors and the setting change,
 * and all three must agree on what they all say.
 */

import { assertEquals } from "../../support/assert.ts";
import {
  assertSameEvents,
  assertTiles,
  checkWorkload,
  comparable,
  decodeChunks,
  eventsOf,
  type Format,
  FORMATS,
} from "./_expect.ts";
import type { Session } from "./_workload.ts";

const DIR = new URL("../../testdata/pgaudit/", import.meta.url);
const FILES: Record<Format, string> = {
  csvlog: "postgresql.csv",
  jsonlog: "postgresql.jsonlog",
  stderr: "postgresql.log",
};

interface Meta {
  serverVersion: string;
  logLinePrefix: string;
  sessions: Session[];
}

const meta: Meta = JSON.parse(await Deno.readTextFile(new URL("workload.json", DIR)));

async function fixture(format: Format): Promise<Uint8Array> {
  return await Deno.readFile(new URL(FILES[format], DIR));
}

for (const format of FORMATS) {
  Deno.test(`${format} fixture: every record reads, and the workload comes back exactly`, async () => {
    const input = await fixture(format);
    const records = decodeChunks(format, [input], meta.logLinePrefix);
    assertTiles(records, input.length, format);
    assertEquals(records.filter((r) => r.problem !== undefined).map((r) => r.problem), []);
    checkWorkload(format, eventsOf(format, records), meta.sessions);
  });
}

Deno.test("the three fixture formats give the same events", async () => {
  const views = [];
  for (const format of FORMATS) {
    const events = eventsOf(
      format,
      decodeChunks(format, [await fixture(format)], meta.logLinePrefix),
    );
    views.push(events.map(comparable));
  }
  assertSameEvents(views[0]!, views[1]!, "jsonlog vs csvlog");
  assertSameEvents(views[0]!, views[2]!, "stderr vs csvlog");
});
