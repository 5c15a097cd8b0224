/**
 * A realistic csvlog for the benchmark: what a busy server with `pgaudit.log = 'read, write,
 * role, ddl'`, `pgaudit.log_parameter` and connection logging writes — mostly short pgAudit
 * SESSION lines (reads and writes, some with parameters), OBJECT lines, connections and
 * disconnections, a few multi-line statements, errors with their statement, and now and then a
 * long statement. Rows are PostgreSQL 15's 26 columns, quoted as `appendCSVLiteral` does; times
 * move forward a millisecond a row, so no two rows are the same.
 */

const ROLES = ["app_rw", "app_ro", "etl", "alice", "bob", "postgres"];
const TABLES = ["public.accounts", "public.payments", "hr.salaries", "public.orders", "audit.log"];

function lit(v: string): string {
  return `"${v.replaceAll('"', '""')}"`;
}

function auditField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

function time(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", " UTC");
}

/** The message and fields of row `i`. */
function rowParts(
  i: number,
): { message: string; severity: string; state: string; tag: string; statement: string } {
  const table = TABLES[i % TABLES.length]!;
  const k = i % 100;
  const audit = (type: string, cls: string, cmd: string, obj: string, sql: string, p: string) => ({
    message: `AUDIT: ${type},${i},1,${cls},${cmd},${obj ? "TABLE" : ""},${obj},${auditField(sql)},${
      auditField(p)
    }`,
    severity: "LOG",
    state: "00000",
    tag: cmd,
    statement: "",
  });
  if (k < 40) {
    return audit(
      "SESSION",
      "READ",
      "SELECT",
      table,
      `SELECT * FROM ${table} WHERE id = $1`,
      `${i}`,
    );
  }
  if (k < 60) {
    return audit(
      "SESSION",
      "WRITE",
      "UPDATE",
      table,
      `UPDATE ${table} SET note = $1, amount = amount + $2 WHERE id = $3`,
      `"note, with ""quotes"" ${i}",${k}.50,${i}`,
    );
  }
  if (k < 70) {
    return audit(
      "OBJECT",
      "WRITE",
      "INSERT",
      table,
      `INSERT INTO ${table} (id, note) VALUES (${i}, 'x')`,
      "<none>",
    );
  }
  if (k < 78) {
    const sql = `SELECT a.id, sum(p.amount)\n  FROM public.accounts a\n  JOIN public.payments p ` +
      `ON p.account = a.id\n WHERE a.owner = 'ünï ${i}'\n GROUP BY a.id`;
    return audit("SESSION", "READ", "SELECT", "public.accounts", sql, "<not logged>");
  }
  if (k < 86) {
    return {
      message: `connection authorized: user=${ROLES[i % ROLES.length]} database=billing ` +
        "application_name=app SSL enabled (protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)",
      severity: "LOG",
      state: "00000",
      tag: "authentication",
      statement: "",
    };
  }
  if (k < 94) {
    return {
      message: `disconnection: session time: 0:00:0${k % 10}.123 user=${
        ROLES[i % ROLES.length]
      } database=billing host=10.1.2.3 port=5${k}`,
      severity: "LOG",
      state: "00000",
      tag: "idle",
      statement: "",
    };
  }
  if (k < 97) {
    return {
      message: `duplicate key value violates unique constraint "orders_pkey"`,
      severity: "ERROR",
      state: "23505",
      tag: "INSERT",
      statement: `INSERT INTO public.orders (id) VALUES (${i})`,
    };
  }
  if (k < 99) return audit("SESSION", "ROLE", "GRANT", "", `GRANT SELECT ON ${table} TO bob`, "");
  const long = `SELECT ${
    Array.from({ length: 200 }, (_, c) => `col_${c}`).join(", ")
  } FROM ${table}`;
  return audit("SESSION", "READ", "SELECT", table, long, "<none>");
}

/** Row `i` of the log, with its newline. */
export function benchRow(i: number, startMs: number): string {
  const p = rowParts(i);
  const role = ROLES[i % ROLES.length]!;
  const pid = 10_000 + (i % 50);
  return [
    time(startMs + i),
    lit(role),
    lit("billing"),
    String(pid),
    lit(`10.1.${i % 7}.${i % 250}:${40_000 + (i % 20_000)}`),
    `6b048ec8.${pid.toString(16)}`,
    String(1 + (i % 10_000)),
    lit(p.tag),
    time(startMs - 60_000),
    `${i % 16}/${i}`,
    String(p.severity === "LOG" ? 0 : 700 + i),
    p.severity,
    p.state,
    lit(p.message),
    "",
    "",
    "",
    "",
    "",
    p.statement === "" ? "" : lit(p.statement),
    "",
    "",
    lit("app"),
    lit("client backend"),
    "",
    "0",
  ].join(",") + "\n";
}

/** Writes about `bytes` of log to `path`; returns the rows and bytes written. */
export async function writeBenchLog(
  path: string,
  bytes: number,
): Promise<{ rows: number; bytes: number; lines: number }> {
  const enc = new TextEncoder();
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const start = Date.UTC(2026, 10, 23, 18, 0, 0);
  let rows = 0;
  let written = 0;
  let lines = 0;
  try {
    while (written < bytes) {
      let text = "";
      while (text.length < 4 << 20 && written + text.length < bytes) {
        text += benchRow(rows++, start);
      }
      const chunk = enc.encode(text);
      for (let i = 0; i < chunk.length; i++) if (chunk[i] === 0x0a) lines++;
      for (let w = 0; w < chunk.length;) w += await file.write(chunk.subarray(w));
      written += chunk.length;
    }
  } finally {
    file.close();
  }
  return { rows, bytes: written, lines };
}
