/**
 * `vigil user add --data DIR --name N --role admin|auditor|operator` creates a web UI user with
 * the password read from stdin (its first line), so it never shows in the process list or the
 * shell history; weak or empty passwords are refused. `vigil user list --data DIR` lists users.
 */

import { AccessStore, ROLES } from "../access/mod.ts";
import { print } from "../log.ts";
import { noRest, parseFlags, required, UsageError } from "./args.ts";

const MAX_STDIN = 64 * 1024;

/** The first line of `input`, without its line ending. */
async function firstLine(input: ReadableStream<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of input) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > MAX_STDIN || chunk.includes(0x0a)) break;
  }
  const all = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  const text = new TextDecoder().decode(all);
  return text.split("\n")[0]!.replace(/\r$/, "");
}

async function dataDir(values: { data?: string }): Promise<string> {
  const data = required(values.data, "data");
  try {
    if (!(await Deno.stat(data)).isDirectory) throw new Error("not a directory");
  } catch (e) {
    throw new UsageError(`--data ${data}: ${(e as Error).message}`);
  }
  return data;
}

async function addUser(argv: string[], input: ReadableStream<Uint8Array>): Promise<number> {
  const { values, rest } = parseFlags(argv, {
    data: { type: "string" },
    name: { type: "string" },
    role: { type: "string" },
  });
  noRest(rest);
  const data = await dataDir(values);
  const name = required(values.name, "name");
  const role = required(values.role, "role");
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new UsageError(`--role must be one of ${ROLES.join(", ")}, got ${JSON.stringify(role)}`);
  }
  const password = await firstLine(input);
  const access = AccessStore.open(data);
  try {
    const user = await access.users.add(name, role, password);
    print(`added user ${user.name} (${user.role})`);
    return 0;
  } catch (e) {
    if (e instanceof TypeError) throw new UsageError(e.message);
    throw e;
  } finally {
    access.close();
  }
}

async function listUsers(argv: string[]): Promise<number> {
  const { values, rest } = parseFlags(argv, { data: { type: "string" } });
  noRest(rest);
  const access = AccessStore.open(await dataDir(values));
  try {
    for (const u of access.users.list()) {
      print(JSON.stringify({
        name: u.name,
        role: u.role,
        disabled: u.disabled,
        created: new Date(u.createdAt).toISOString(),
        last_login: u.lastLoginAt === null ? null : new Date(u.lastLoginAt).toISOString(),
      }));
    }
    return 0;
  } finally {
    access.close();
  }
}

/** Runs `vigil user add|list`; returns the exit code. */
export function userCommand(
  argv: string[],
  input: ReadableStream<Uint8Array> = Deno.stdin.readable,
): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "add") return addUser(rest, input);
  if (sub === "list") return listUsers(rest);
  return Promise.reject(
    new UsageError(`expected "user add" or "user list", got ${JSON.stringify(sub ?? "")}`),
  );
}
