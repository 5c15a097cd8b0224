/**
 * The parts of daemon/serve/notify.ts that do not need systemd: where the daemon binds its end
 * of the socket, the watchdog interval, and what happens without the means to notify. The
 * whole exchange (READY=1, WATCHDOG=1, STOPPING=1 through a real unix datagram socket) is in
 * tests/packaging/deb_test.ts, against the installed package.
 */

import { notifyBindPath, notifySystemd, watchdogIntervalMs } from "../../../daemon/serve/notify.ts";
import { assert, assertEquals } from "../../support/assert.ts";

Deno.test("notifyBindPath() uses the first runtime directory, else the fallback", () => {
  assertEquals(notifyBindPath("/run/vigil", "/var/lib/vigil"), "/run/vigil/notify.sock");
  assertEquals(notifyBindPath("/run/vigil/:/run/other", "/x"), "/run/vigil/notify.sock");
  assertEquals(notifyBindPath(undefined, "/var/lib/vigil/"), "/var/lib/vigil/notify.sock");
  assertEquals(notifyBindPath("", "/var/lib/vigil"), "/var/lib/vigil/notify.sock");
});

Deno.test("watchdogIntervalMs() pings at half of WATCHDOG_USEC, only for this process", () => {
  assertEquals(watchdogIntervalMs({ WATCHDOG_USEC: "60000000" }, 42), 30_000);
  assertEquals(watchdogIntervalMs({ WATCHDOG_USEC: "60000000", WATCHDOG_PID: "42" }, 42), 30_000);
  assertEquals(watchdogIntervalMs({ WATCHDOG_USEC: "60000000", WATCHDOG_PID: "7" }, 42), null);
  assertEquals(watchdogIntervalMs({}, 42), null);
  assertEquals(watchdogIntervalMs({ WATCHDOG_USEC: "0" }, 42), null);
  assertEquals(watchdogIntervalMs({ WATCHDOG_USEC: "soon" }, 42), null);
});

async function logged(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (line: string) => void lines.push(line);
  try {
    await fn();
  } finally {
    console.error = original;
  }
  return lines;
}

Deno.test("notifySystemd() does nothing when not run by systemd", async () => {
  const lines = await logged(() =>
    notifySystemd(Promise.resolve(), { status: "x", dataDir: "/nonexistent", env: {} })
  );
  assertEquals(lines, []);
});

Deno.test("notifySystemd() says why it cannot notify when Deno lacks --unstable-net", async () => {
  // This test process runs without --unstable-net, as a daemon started outside the launcher.
  assert(!("listenDatagram" in Deno), "run this test without --unstable-net");
  const lines = await logged(() =>
    notifySystemd(Promise.resolve(), {
      status: "x",
      dataDir: "/nonexistent",
      env: { NOTIFY_SOCKET: "/run/systemd/notify" },
    })
  );
  assertEquals(lines.length, 1);
  const entry = JSON.parse(lines[0]!);
  assertEquals(entry.level, "error");
  assert(String(entry.msg).includes("without --unstable-net"), entry.msg);
});

Deno.test("notifySystemd() refuses an abstract socket with an error, not silence", async () => {
  const lines = await logged(() =>
    notifySystemd(Promise.resolve(), {
      status: "x",
      dataDir: "/nonexistent",
      env: { NOTIFY_SOCKET: "@/org/freedesktop/systemd1/notify" },
    })
  );
  assertEquals(lines.length, 1);
  assert(lines[0]!.includes("abstract notify sockets are not supported"), lines[0]);
});
