/** `vigil user add` and `vigil user list` through the real command line. */

import { runVigil } from "../../support/cli.ts";
import { assertEquals, assertStringIncludes } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";

Deno.test("vigil user add reads the password from stdin and refuses weak ones", async () => {
  await withTempDir(async (dir) => {
    const weak = await runVigil(
      ["user", "add", "--data", dir, "--name", "ada", "--role", "admin"],
      {
        stdin: "secret\n",
      },
    );
    assertEquals(weak.code, 2);
    assertStringIncludes(weak.stderr, "shorter than 12");
    const empty = await runVigil(
      ["user", "add", "--data", dir, "--name", "ada", "--role", "admin"],
      { stdin: "" },
    );
    assertEquals(empty.code, 2);
    assertStringIncludes(empty.stderr, "empty");
    const role = await runVigil(["user", "add", "--data", dir, "--name", "ada", "--role", "root"], {
      stdin: "a long enough passphrase\n",
    });
    assertEquals(role.code, 2);
    const ok = await runVigil(["user", "add", "--data", dir, "--name", "ada", "--role", "admin"], {
      stdin: "a long enough passphrase\n",
    });
    assertEquals(ok.code, 0, ok.stderr);
    const list = await runVigil(["user", "list", "--data", dir]);
    assertEquals(list.code, 0);
    const users = list.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(users.map((u) => [u.name, u.role, u.disabled]), [["ada", "admin", false]]);
  });
});
