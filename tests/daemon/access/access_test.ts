/** Tests of the access database: users, login throttling, sessions and API tokens. */

import { AccessStore } from "../../../daemon/access/mod.ts";
import { secretHash } from "../../../daemon/access/secret.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../../support/assert.ts";
import { withTempDir } from "../../support/store.ts";

const PW = "correct horse battery";

function clock(start = 1_800_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

Deno.test("AccessStore.open() creates access.sqlite readable by its owner only", async () => {
  await withTempDir(async (dir) => {
    const access = AccessStore.open(dir);
    try {
      await access.users.add("ada", "admin", PW);
      let text = "";
      for (const f of ["access.sqlite", "access.sqlite-wal"]) {
        assertEquals((await Deno.stat(`${dir}/${f}`)).mode! & 0o777, 0o600, f);
        text += new TextDecoder("latin1").decode(await Deno.readFile(`${dir}/${f}`));
      }
      assert(text.includes("scrypt$"), "the hash is an scrypt hash");
      assert(!text.includes(PW), "the password is not stored in clear");
    } finally {
      access.close();
    }
  });
});

Deno.test("Users.add() refuses weak passwords, bad roles and taken names", async () => {
  await withTempDir(async (dir) => {
    const access = AccessStore.open(dir);
    try {
      for (const pw of ["", "short", "aaaaaaaaaaaaaaaa", "ada-password-123"]) {
        await assertRejects(() => access.users.add("ada", "admin", pw), { instanceOf: TypeError });
      }
      await assertRejects(() => access.users.add("ada", "root", PW), { message: /role/ });
      await access.users.add("ada", "auditor", PW);
      await assertRejects(() => access.users.add("ada", "admin", PW), { message: /taken/ });
      assertEquals(access.users.list().map((u) => [u.name, u.role]), [["ada", "auditor"]]);
    } finally {
      access.close();
    }
  });
});

Deno.test("AccessStore.login() locks a user out after five failures, even for the right password", async () => {
  await withTempDir(async (dir) => {
    const c = clock();
    const access = AccessStore.open(dir, { now: c.now });
    try {
      await access.users.add("ada", "admin", PW);
      for (let i = 0; i < 4; i++) {
        assertEquals((await access.login("ada", "wrong password!", "10.0.0.1")).ok, false);
      }
      const fifth = await access.login("ada", "wrong password!", "10.0.0.1");
      assert(!fifth.ok && fifth.reason === "locked", "the fifth failure locks");
      const right = await access.login("ada", PW, "10.0.0.2");
      assert(!right.ok && right.reason === "locked" && right.lockout.scope === "user");
      c.advance(15 * 60_000 + 1);
      const later = await access.login("ada", PW, "10.0.0.2");
      assert(later.ok, "the lock-out ends after its window");
    } finally {
      access.close();
    }
  });
});

Deno.test("AccessStore.login() locks a client address that sprays many names", async () => {
  await withTempDir(async (dir) => {
    const access = AccessStore.open(dir, { throttle: { addrFailures: 3 } });
    try {
      await access.users.add("ada", "admin", PW);
      for (const name of ["x1", "x2", "x3"]) await access.login(name, "nope", "10.9.9.9");
      const r = await access.login("ada", PW, "10.9.9.9");
      assert(!r.ok && r.reason === "locked" && r.lockout.scope === "address");
      assert((await access.login("ada", PW, "10.0.0.1")).ok, "another address may log in");
    } finally {
      access.close();
    }
  });
});

Deno.test("Sessions end on idle timeout, absolute expiry, logout and disabling the user", async () => {
  await withTempDir(async (dir) => {
    const c = clock();
    const access = AccessStore.open(dir, {
      now: c.now,
      session: { idleMs: 1000, maxAgeMs: 5000 },
    });
    try {
      await access.users.add("ada", "admin", PW);
      const login = async (): Promise<string> => {
        const r = await access.login("ada", PW, "127.0.0.1");
        if (!r.ok) throw new Error("login failed");
        return r.session.id;
      };
      const idle = await login();
      assertEquals(access.sessions.get(idle)?.user.name, "ada");
      c.advance(1000);
      assertEquals(access.sessions.get(idle), null);

      const busy = await login();
      for (let i = 0; i < 6; i++) {
        c.advance(900);
        if (i < 5) assert(access.sessions.get(busy) !== null, "use keeps it alive");
      }
      assertEquals(access.sessions.get(busy), null, "absolute expiry");

      const out = await login();
      access.sessions.end(out);
      assertEquals(access.sessions.get(out), null);

      const dis = await login();
      access.users.setDisabled("ada", true);
      assertEquals(access.sessions.get(dis), null);
      assertEquals((await access.login("ada", PW, "127.0.0.1")).ok, false);
    } finally {
      access.close();
    }
  });
});

Deno.test("Sessions store the hash of the id, not the id", async () => {
  await withTempDir(async (dir) => {
    const access = AccessStore.open(dir);
    try {
      await access.users.add("ada", "admin", PW);
      const r = await access.login("ada", PW, "127.0.0.1");
      assert(r.ok);
      assertEquals(r.session.id.length, 43);
      access.close();
      const text = new TextDecoder("latin1").decode(await Deno.readFile(`${dir}/access.sqlite`)) +
        new TextDecoder("latin1").decode(
          await Deno.readFile(`${dir}/access.sqlite-wal`).catch(() => new Uint8Array()),
        );
      assert(!text.includes(r.session.id), "the session id is not stored");
      assert(text.includes(secretHash(r.session.id)), "its hash is");
    } finally {
      access.close();
    }
  });
});

Deno.test("Tokens are shown once, stored hashed, record use, and stop working when revoked", async () => {
  await withTempDir((dir) => {
    const c = clock();
    const access = AccessStore.open(dir, { now: c.now });
    try {
      const { token, info } = access.tokens.create("billing-app", ["ingest"], "ada");
      assert(token.startsWith("vigil_") && token.length > 40);
      assertEquals(info.lastUsedAt, null);
      assertEquals(info.scopes, ["ingest"]);
      c.advance(5);
      assertEquals(access.tokens.authenticate(token)?.name, "billing-app");
      assertEquals(access.tokens.get("billing-app")?.lastUsedAt, c.now());
      assertEquals(access.tokens.authenticate(token + "x"), null);
      assertEquals(access.tokens.list().length, 1);
      assert(!JSON.stringify(access.tokens.list()).includes(token.slice(14)));
      access.tokens.revoke("billing-app", "ada");
      assertEquals(access.tokens.authenticate(token), null);
      assertEquals(access.tokens.get("billing-app")?.revokedBy, "ada");
      assertThrows(() => access.tokens.revoke("billing-app", "ada"), { instanceOf: TypeError });
      assertThrows(() => access.tokens.create("vigil-ui", ["ingest"], "ada"), {
        instanceOf: TypeError,
      });
      assertThrows(() => access.tokens.create("x", ["write"], "ada"), { message: /scopes/ });
    } finally {
      access.close();
    }
    return Promise.resolve();
  });
});
