/**
 * The keys of a `[[sources]]` table of type "proxy" besides `name` and `type`: the schema the
 * core checks (unknown keys, kinds, ranges, required keys) before `config.ts` checks what a
 * list cannot (the listen address, the upstream URL, the TLS pair), and what the
 * Administration form shows. The redaction keys mean the same on every source.
 */

import type { ConfigField } from "../../daemon/config/fields.ts";
import { REDACT_FIELDS } from "../../daemon/event/redact.ts";

/** Every key of a proxy table, in the form's order. */
export const PROXY_FIELDS: readonly ConfigField[] = Object.freeze(
  [
    {
      key: "listen",
      kind: "string",
      required: true,
      doc: "host:port the proxy listens on for clients; not loopback needs tls_cert and tls_key",
      form: { hint: "127.0.0.1:6432" },
    },
    {
      key: "upstream",
      kind: "string",
      required: true,
      doc: "postgres://host:port/?sslmode=…: the server clients reach through it, no credentials",
      form: { hint: "postgres://db1:5432/?sslmode=verify-full&sslrootcert=…", masked: true },
    },
    {
      key: "mode",
      kind: "string",
      values: ["observe", "enforce"],
      doc: "observe (default): events stored behind a bounded backlog; enforce: results wait " +
        "for their event",
      form: {},
    },
    {
      key: "tls_cert",
      kind: "string",
      doc: "the certificate (PEM) shown to clients that ask for TLS",
      form: { hint: "/etc/vigil/proxy.crt" },
    },
    {
      key: "tls_key",
      kind: "string",
      doc: "its private key (PEM)",
      form: { hint: "/etc/vigil/proxy.key" },
    },
    {
      key: "backlog_events",
      kind: "integer",
      min: 100,
      max: 10_000_000,
      doc: "observe mode: events waiting for the store at most; default 100000",
    },
    {
      key: "spool_bytes",
      kind: "integer",
      min: 64 * 1024,
      max: 1024 * 1024 * 1024,
      doc: "enforce mode: bytes of durable events waiting for the store at most, beyond which " +
        "statements are refused; default 33554432 (32 MiB)",
    },
    {
      key: "record_bytes",
      kind: "integer",
      min: 1024,
      max: 16 * 1024 * 1024,
      doc: "bytes of a statement or its parameters recorded at most; default 65536",
    },
    {
      key: "max_sessions",
      kind: "integer",
      min: 1,
      max: 100_000,
      doc: "client sessions at once at most; default 1000",
    },
    ...REDACT_FIELDS,
  ] satisfies ConfigField[],
);
