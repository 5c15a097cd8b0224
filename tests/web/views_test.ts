/** Unit tests of the view helpers that keep database text inert and secrets off the screen. */

import { maskDsn } from "../../web/views/config.tsx";
import { escapeCode, Text, textParts } from "../../web/views/text.tsx";
import { linePoints } from "../../web/views/chart.tsx";
import { assertEquals } from "../support/assert.ts";

Deno.test("textParts() isolates control, zero-width and bidi characters, and keeps line breaks", () => {
  const s = "a\u202Eb\u200Bc\u0007d\ne\tf\u2066g";
  assertEquals(textParts(s), [
    { text: "a", hidden: false },
    { text: "\u202E", hidden: true },
    { text: "b", hidden: false },
    { text: "\u200B", hidden: true },
    { text: "c", hidden: false },
    { text: "\u0007", hidden: true },
    { text: "d\ne\tf", hidden: false },
    { text: "\u2066", hidden: true },
    { text: "g", hidden: false },
  ]);
  assertEquals(escapeCode("\u202E"), "\\u202E");
});

Deno.test("Text renders markup as text and hidden characters as badges", async () => {
  const html = String(await Text({ value: "<b onclick=x()>\u202E</b>" }));
  assertEquals(
    html,
    '&lt;b onclick=x()&gt;<span class="ctl" title="hidden or control character">\\u202E</span>' +
      "&lt;/b&gt;",
  );
  assertEquals(String(await Text({ value: undefined })), '<span class="none">—</span>');
});

Deno.test("maskDsn() hides a DSN's password in URL and key=value forms", () => {
  assertEquals(
    maskDsn("postgres://vigil:s3cret@db1:5432/billing"),
    "postgres://vigil:***@db1:5432/billing",
  );
  assertEquals(maskDsn("host=db1 user=vigil password=s3cret"), "host=db1 user=vigil password=***");
  assertEquals(maskDsn("postgres://vigil@db1/billing"), "postgres://vigil@db1/billing");
});

Deno.test("linePoints() scales samples into the plot and skips missing values", () => {
  const samples = [
    { at: 0, eventsPerSecond: 0, lagBytes: null },
    { at: 50, eventsPerSecond: 10, lagBytes: 5 },
    { at: 100, eventsPerSecond: 5, lagBytes: null },
  ];
  const pts = linePoints(samples, (s) => s.eventsPerSecond, { t0: 0, t1: 100, max: 10 });
  assertEquals(pts, "44.0,138.0 318.0,10.0 592.0,74.0");
  assertEquals(linePoints(samples, (s) => s.lagBytes, { t0: 0, t1: 100, max: 5 }), "318.0,10.0");
});
