import type { AuditEvent } from "../../daemon/event/model.ts";
import { gapKind } from "../../web/compliance.ts";
import { assertEquals } from "../support/assert.ts";

function system(command: string, context?: Record<string, unknown>): AuditEvent {
  return {
    ts: 1_767_139_200_000_000,
    source: "wal",
    kind: "system",
    command,
    ...(context === undefined ? {} : { context }),
  } as AuditEvent;
}

Deno.test("gapKind() reports collection gaps, a declared key loss and lowered auditing; not a planned rotation", () => {
  for (
    const c of [
      "WAL_GAP",
      "WAL_HEARTBEAT_MISSING",
      "WAL_DDL_TRIGGER_MISSING",
      "WAL_LSN_BACKWARDS",
      "PGAUDIT_FILE_UNREAD",
      "KEY_LOSS_DECLARED",
    ]
  ) assertEquals(gapKind(system(c)), "gap", c);
  assertEquals(gapKind(system("WAL_HEARTBEAT_RESTORED")), "recovery");
  assertEquals(gapKind(system("RELOAD", { audit_reduced: true })), "gap");
  assertEquals(gapKind(system("RELOAD", { audit_reduced: false })), null);
  assertEquals(gapKind(system("KEY_ROTATE")), null);
  assertEquals(gapKind({ ...system("WAL_GAP"), kind: "session" } as AuditEvent), null);
});
