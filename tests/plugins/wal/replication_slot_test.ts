/**
 * Replication commands against a real PostgreSQL 15: IDENTIFY_SYSTEM, a slot created
 * permanent (never temporary) and only once, a slot of the wrong kind refused, slots dropped,
 * and a START_REPLICATION the server refuses reported with its SQLSTATE.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../support/assert.ts";
import { startPostgres } from "../../support/postgres.ts";
import { connectReplication } from "../../../plugins/wal/replication.ts";
import { PgError } from "../../../daemon/pgwire/mod.ts";
import { parseLsn } from "../../../plugins/wal/lsn.ts";

Deno.test("ReplicationClient manages permanent pgoutput slots on PostgreSQL 15", async (t) => {
  await using pg = await startPostgres({ passwordAuth: true });
  await using client = await connectReplication(pg.dsn());

  await t.step(
    "identifySystem() reports system id, timeline, WAL position and database",
    async () => {
      const identity = await client.identifySystem();
      const [systemId, lsn] = (await pg.sql(
        "SELECT system_identifier, pg_current_wal_lsn() FROM pg_control_system()",
      )).split("|");
      assertEquals(identity.systemId, systemId);
      assertEquals(identity.timeline, 1);
      assertEquals(identity.dbName, "postgres");
      assert(
        identity.xlogPos > 0n && identity.xlogPos <= parseLsn(lsn ?? ""),
        `${identity.xlogPos}`,
      );
    },
  );

  await t.step("createSlotIfMissing() creates a permanent logical pgoutput slot once", async () => {
    assertEquals(await client.slotInfo("vigil_a"), undefined);
    const first = await client.createSlotIfMissing("vigil_a");
    assertEquals(first.created, true);
    assertEquals(first.slot.plugin, "pgoutput");
    assertEquals(first.slot.slotType, "logical");
    assertEquals(first.slot.temporary, false);
    assertEquals(first.slot.database, "postgres");
    assert(first.slot.confirmedFlushLsn !== null && first.slot.restartLsn !== null);
    const row = await pg.sql(
      "SELECT temporary, plugin, slot_type, confirmed_flush_lsn FROM pg_replication_slots " +
        "WHERE slot_name = 'vigil_a'",
    );
    const [temporary, plugin, type, confirmed] = row.split("|");
    assertEquals([temporary, plugin, type], ["f", "pgoutput", "logical"]);

    const again = await client.createSlotIfMissing("vigil_a");
    assertEquals(again.created, false);
    assertEquals(again.slot.confirmedFlushLsn, parseLsn(confirmed ?? ""));
    assertEquals(await pg.sql("SELECT count(*) FROM pg_replication_slots"), "1");
  });

  await t.step("the slot outlives the connection that created it", async () => {
    await using other = await connectReplication(pg.dsn());
    await other.createSlotIfMissing("vigil_b");
    await other.close();
    assertEquals(
      await pg.sql(
        "SELECT temporary, active FROM pg_replication_slots WHERE slot_name = 'vigil_b'",
      ),
      "f|f",
    );
  });

  await t.step("createSlotIfMissing() refuses a same-named slot of another plugin", async () => {
    await pg.sql("SELECT pg_create_logical_replication_slot('vigil_td', 'test_decoding')");
    const error = await assertRejects(() => client.createSlotIfMissing("vigil_td"), TypeError);
    assertStringIncludes(error.message, 'slot "vigil_td"');
    assertStringIncludes(error.message, "test_decoding, not pgoutput");
    await pg.sql("SELECT pg_create_physical_replication_slot('vigil_phys')");
    await assertRejects(() => client.createSlotIfMissing("vigil_phys"), {
      instanceOf: TypeError,
      message: /physical slot/,
    });
  });

  await t.step(
    "createSlotIfMissing() refuses a bad slot name before sending anything",
    async () => {
      await assertRejects(() => client.createSlotIfMissing("Bad-Name"), TypeError);
    },
  );

  await t.step("start() on a missing slot fails with the server's SQLSTATE", async () => {
    await using other = await connectReplication(pg.dsn());
    const error = await assertRejects(
      () => other.start({ slot: "vigil_missing", publication: "nothing" }),
      PgError,
    );
    assertEquals(error.code, "42704");
    assertEquals(error.stage, "replicate");
    assertStringIncludes(error.message, 'Cannot start replication from slot "vigil_missing"');
  });

  await t.step("dropSlot() drops a slot and reports when there was none", async () => {
    assertEquals(await client.dropSlot("vigil_b"), true);
    assertEquals(await client.dropSlot("vigil_b"), false);
    assertEquals(await client.slotInfo("vigil_b"), undefined);
    for (const slot of ["vigil_a", "vigil_td", "vigil_phys"]) {
      assertEquals(await client.dropSlot(slot), true);
    }
    assertEquals(await pg.sql("SELECT count(*) FROM pg_replication_slots"), "0");
  });
});
