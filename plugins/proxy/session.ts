/**
 * One client session through the proxy: the start (TLS, StartupMessage), the login relayed
 * between client and server and its outcome recorded, then both directions forwarded as they
 * are read while the tracker turns what passes into events, and the end recorded with who
 * ended it. Authentication is the client's own, end to end: the proxy holds no password.
 * It does refuse to relay a clear-text or md5 password over an upstream link whose
 * certificate it did not verify, and it removes the channel-binding SCRAM variant from the
 * server's offer, since the client's TLS ends at the proxy and binding to it would fail.
 *
 * Enforce mode: a server chunk that completes statements is released up to the first
 * completion, then the rest only once those statements' events are stored; if the store
 * refuses, the client gets a FATAL error instead and the session is closed — never a result
 * without its event. Bad bytes from the client end this session only, recorded as a
 * `PROXY_PROTOCOL_ERROR`.
 */

import type tls from "node:tls";
import type { NewEvent } from "../../daemon/event/model.ts";
import {
  authenticationSasl,
  errorResponse,
  frameMessage,
} from "../../daemon/pgwire/backend_encode.ts";
import { parseNotice } from "../../daemon/pgwire/errors.ts";
import { type Frame, FrameScanner } from "../../daemon/pgwire/frames.ts";
import type { ProxySettings } from "./config.ts";
import { type ClientChannel, ConnChannel } from "./channel.ts";
import { SessionEvents } from "./events.ts";
import type { Recorder } from "./recorder.ts";
import { readStart, type StartState } from "./startup.ts";
import { SessionTracker } from "./tracker.ts";
import { connectUpstream, type Upstream } from "./upstream.ts";

/** Why a session ended, as its DISCONNECT event says. */
export type DisconnectReason = "client" | "server" | "restart" | "error";

/** What a session needs of the running source. */
export interface SessionEnv {
  sourceName: string;
  settings: ProxySettings;
  recorder: Recorder;
  secure: tls.SecureContext | null;
  caCerts: string[];
  /** Registers the server's cancel key of this session (undefined to remove it). */
  onBackendKey(session: Session, key: { pid: number; secret: number } | undefined): void;
  /** A CancelRequest arrived on this connection. */
  onCancel(client: ClientChannel, key: { pid: number; secret: number }, from: string): void;
}

/** Requests the server has yet to answer before the proxy stops reading the client. */
const MAX_PENDING = 10_000;
/** Time a client has for its startup packet (PostgreSQL's authentication_timeout). */
const STARTUP_TIMEOUT_MS = 60_000;
/** Enforce mode: server bytes held for a transaction state at most, then released without. */
const HOLD_BYTES = 1024 * 1024;
/** Events waiting for a transaction state at most, then stored without. */
const MAX_WAITING = 1000;
const AUTH_CLEARTEXT = 3;
const AUTH_MD5 = 5;
const AUTH_SASL = 10;

/** A client session. */
export class Session {
  readonly events: SessionEvents;
  readonly #env: SessionEnv;
  #first: ConnChannel;
  #client: ClientChannel;
  #upstream: Upstream | undefined;
  #reason: DisconnectReason | undefined;
  #error: { message: string; sqlstate?: string } | undefined;
  #tracker: SessionTracker;
  #drained: (() => void) | undefined;
  #started = false;
  #refusal: string | undefined;
  /** Until the first ReadyForQuery. */
  #loggingIn = true;
  /** Enforce mode: server bytes withheld until their events are stored. */
  #held: Uint8Array[] = [];
  #heldBytes = 0;

  constructor(conn: Deno.TcpConn, sessionId: string, env: SessionEnv) {
    this.#first = new ConnChannel(conn);
    this.#client = this.#first;
    this.#env = env;
    const remote = conn.remoteAddr;
    this.events = new SessionEvents(env.sourceName, {
      sessionId,
      clientAddr: remote.hostname,
      clientPort: remote.port,
      tls: false,
    });
    this.#tracker = new SessionTracker(this.events, {
      recordBytes: env.settings.recordBytes,
      keptBytes: Math.max(4 * 1024 * 1024, 4 * env.settings.recordBytes),
    });
  }

  /** Ends the session (both connections) for `reason`; the first reason given is kept. */
  close(reason: DisconnectReason, error?: { message: string; sqlstate?: string }): void {
    this.#reason ??= reason;
    if (error !== undefined) this.#error ??= error;
    this.#client.close();
    this.#first.close();
    this.#upstream?.channel.close();
    this.#drained?.();
  }

  /** Runs the session to its end; never rejects. */
  async run(): Promise<void> {
    try {
      await this.#run();
    } catch (error) {
      this.close("error", { message: (error as Error).message });
    } finally {
      this.#env.onBackendKey(this, undefined);
      this.#client.close();
      this.#upstream?.channel.close();
    }
    if (this.#started) {
      const last = this.#tracker.take(true);
      if (last.length > 0) await this.#record(last).catch(() => {});
      const context = { reason: this.#reason ?? "error" };
      const fields: Partial<NewEvent> = { context };
      if (this.#error !== undefined) {
        fields.error = this.#error.message;
        if (this.#error.sqlstate !== undefined) fields.sqlstate = this.#error.sqlstate;
      }
      await this.#record([this.events.make("session", "DISCONNECT", fields)]).catch(() => {});
    }
  }

  async #run(): Promise<void> {
    const state: StartState = { tls: false };
    const timer = setTimeout(() => this.close("error"), STARTUP_TIMEOUT_MS);
    let start;
    try {
      start = await readStart(this.#first, this.#env.secure, state);
    } catch (error) {
      if (error instanceof SyntaxError) return await this.#protocolError(error, "startup");
      throw error;
    } finally {
      clearTimeout(timer);
    }
    this.#client = start.client;
    if (start.kind === "closed") return;
    if (start.kind === "cancel") {
      const i = this.events.info;
      this.#env.onCancel(start.client, start, `${i.clientAddr}:${i.clientPort}`);
      return;
    }
    const info = this.events.info;
    info.tls = state.tls;
    info.role = start.params.get("user")!;
    info.db = start.params.get("database") ?? info.role;
    const app = start.params.get("application_name");
    if (app !== undefined) info.applicationName = app;
    this.#started = true;
    await this.#record([this.events.make("session", "CONNECT", {
      context: { client_port: info.clientPort, tls: info.tls },
    })]);
    const settings = this.#env.settings;
    if (this.#env.secure !== null && !settings.listen.loopback && !info.tls) {
      return await this.#refuse(
        "28000",
        "This proxy accepts connections over TLS only (sslmode=require or stronger)",
      );
    }
    try {
      this.#upstream = await connectUpstream(settings, this.#env.caCerts);
    } catch (error) {
      return await this.#refuse("08006", (error as Error).message, "server");
    }
    await this.#upstream.channel.write(start.raw);
    const failed = (error: unknown): void => this.close("error", { message: String(error) });
    const loops = [this.#clientLoop().catch(failed), this.#serverLoop().catch(failed)];
    await Promise.race(loops);
    this.close("error");
    await Promise.all(loops);
  }

  /** Answers the client with a FATAL error, records it, and ends the session. */
  async #refuse(code: string, message: string, reason: DisconnectReason = "error"): Promise<void> {
    await this.#client.write(errorResponse({ severity: "FATAL", code, message })).catch(() => {});
    this.close(reason, { message, sqlstate: code });
  }

  async #protocolError(error: Error, phase: string): Promise<void> {
    const i = this.events.info;
    const ev = this.events.make("system", "PROXY_PROTOCOL_ERROR", {
      error: `${error.message} (client ${i.clientAddr}:${i.clientPort})`,
      context: { client_port: i.clientPort, phase },
    });
    await this.#record([ev]).catch(() => {});
    this.close("error", { message: error.message });
  }

  #record(events: NewEvent[]): Promise<void> {
    return this.#env.recorder.record(events);
  }

  async #clientLoop(): Promise<void> {
    const tracker = this.#tracker;
    const upstream = this.#upstream!.channel;
    const scanner = new FrameScanner({
      // During login only the start of a SASL answer is read (its GS2 header), never kept.
      capture: (t, l) =>
        t === 0x70 ? (this.#loggingIn ? Math.min(l, 64) : 0) : tracker.clientCapture(t, l),
      check: (t, l) => tracker.clientCheck(t, l),
    });
    for (;;) {
      const chunk = await this.#client.read();
      if (chunk === null) {
        if (scanner.idle || tracker.terminated) return this.close("client");
        const cut = new SyntaxError("The client's connection ended inside a message");
        return await this.#protocolError(cut, "session");
      }
      let binding = false;
      try {
        scanner.scan(chunk, (f) => {
          if (f.type === 0x70) binding ||= this.#loggingIn && wantsBinding(f.body);
          else tracker.fromClient(f);
        });
      } catch (error) {
        if (error instanceof SyntaxError) return await this.#protocolError(error, "session");
        throw error;
      }
      if (binding && this.#upstream!.transport !== "sslmode=disable") {
        return await this.#refuseBinding();
      }
      await upstream.write(chunk);
      while (tracker.pending > MAX_PENDING && this.#reason === undefined) {
        await new Promise<void>((resolve) => (this.#drained = resolve));
      }
    }
  }

  /**
   * The client speaks TLS to the proxy and supports SCRAM channel binding, which the proxy
   * withdrew from the offer; a TLS server would take that as a downgrade and refuse with a
   * puzzling message, so the proxy says what to do instead.
   */
  async #refuseBinding(): Promise<void> {
    const message = "SCRAM channel binding cannot cross the Vigil proxy (the client's TLS " +
      "ends at the proxy, the server's is another): connect with channel_binding=disable";
    await this.#record([this.events.make("auth", "AUTH_FAILED", {
      sqlstate: "28000",
      error: message,
      context: { method: "scram-sha-256" },
    })]).catch(() => {});
    return await this.#refuse("28000", message);
  }

  async #serverLoop(): Promise<void> {
    const tracker = this.#tracker;
    const upstream = this.#upstream!;
    let auth = true;
    let authOk = false;
    let authEnd = -1;
    const authFrames: Frame[] = [];
    const scanner = new FrameScanner({
      capture: (t, l) => auth ? l : tracker.serverCapture(t, l),
      check: (_t, l) => {
        if (auth && l > 65536) throw new SyntaxError(`A login message of ${l} bytes`);
      },
    });
    for (;;) {
      const chunk = await upstream.channel.read();
      if (chunk === null) return this.close("server", this.#serverError());
      tracker.beginChunk();
      authEnd = auth ? chunk.length : 0;
      try {
        scanner.scan(chunk, (f) => {
          if (!auth) return tracker.fromServer(f);
          authFrames.push(f);
          if (f.type === 0x5a) {
            auth = false;
            this.#loggingIn = false;
            authEnd = f.end;
          }
        });
      } catch (error) {
        const message = `The server sent what is not PostgreSQL's protocol: ${
          (error as Error).message
        }`;
        return this.close("error", { message });
      }
      if (authFrames.length > 0) {
        const out: Uint8Array[] = [];
        const events: NewEvent[] = [];
        for (const f of authFrames.splice(0)) {
          const bytes = this.#authFrame(f, upstream, events, authOk);
          if (bytes === null) {
            await this.#record(events).catch(() => {});
            return await this.#refuse("28000", this.#refusal ?? "login refused");
          }
          if (f.type === 0x52 && f.body.length >= 4 && readInt32(f.body) === 0) authOk = true;
          out.push(bytes);
        }
        if (events.length > 0) await this.#record(events);
        for (const bytes of out) await this.#client.write(bytes);
      }
      if (authEnd < chunk.length) await this.#release(chunk, authEnd);
      if (tracker.pending <= MAX_PENDING) this.#drained?.();
    }
  }

  /**
   * Writes `chunk` from `offset` to the client. Observe: at once, and the events whose
   * transaction state is known go to the backlog. Enforce: up to where a statement's result
   * begins, and the rest only once its event is stored; while the server still owes the
   * ReadyForQuery that tells the transaction state, what follows is held too. At most
   * {@link HOLD_BYTES} are held: past that, waiting events are stored without the state and
   * a long result's rows flow on — but a completion never reaches the client before its event
   * is stored.
   */
  async #release(chunk: Uint8Array, offset: number): Promise<void> {
    const tracker = this.#tracker;
    const part = chunk.subarray(offset);
    const enforce = this.#env.settings.mode === "enforce";
    const force = !tracker.owesReady || tracker.waiting > MAX_WAITING ||
      (enforce && this.#heldBytes + part.length > HOLD_BYTES);
    const events = tracker.take(force);
    if (!enforce) {
      await this.#client.write(part);
      if (events.length > 0) await this.#record(events);
      return;
    }
    if (this.#held.length > 0) {
      this.#hold(part);
    } else if (tracker.holdFrom >= 0) {
      const at = Math.max(offset, tracker.holdFrom);
      if (at > offset) await this.#client.write(chunk.subarray(offset, at));
      this.#hold(chunk.subarray(at));
    } else {
      await this.#client.write(part);
    }
    if (events.length > 0) {
      try {
        await this.#record(events);
      } catch (error) {
        const message = "Vigil could not store the audit record of this statement (enforce " +
          "mode), so its result is withheld and the session closed";
        this.#held = [];
        await this.#client.write(errorResponse({
          severity: "FATAL",
          code: "58000",
          message,
          detail: String((error as Error).message ?? error),
        })).catch(() => {});
        return this.close("error", { message, sqlstate: "58000" });
      }
    }
    if (tracker.waiting === 0 && (!tracker.resultOpen || force) && this.#held.length > 0) {
      const held = this.#held;
      this.#held = [];
      this.#heldBytes = 0;
      for (const bytes of held) await this.#client.write(bytes);
    }
  }

  #hold(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#held.push(bytes);
    this.#heldBytes += bytes.length;
  }

  /**
   * One server message during login: the bytes to forward, or null when the proxy refuses the
   * login (and has answered the client).
   */
  #authFrame(f: Frame, upstream: Upstream, events: NewEvent[], authOk: boolean): Uint8Array | null {
    const raw = frameMessage(f.type, f.body);
    if (f.type === 0x52 && f.body.length >= 4) {
      const code = readInt32(f.body);
      if (code === 0) {
        events.push(this.events.make("auth", "AUTH_OK"));
      } else if ((code === AUTH_CLEARTEXT || code === AUTH_MD5) && !upstream.verified) {
        const method = code === AUTH_MD5 ? "md5" : "clear text";
        const message = `The server asks for the password as ${method}, which the Vigil proxy ` +
          `relays only over TLS to a server whose certificate it verified (upstream ` +
          `${upstream.transport}): use scram-sha-256 in the server's pg_hba.conf, or ` +
          "sslmode=verify-full in the proxy's upstream";
        events.push(this.events.make("auth", "AUTH_FAILED", {
          sqlstate: "28000",
          error: message,
          context: { method: code === AUTH_MD5 ? "md5" : "password" },
        }));
        this.#refusal = message;
        return null;
      } else if (code === AUTH_SASL) {
        const names = new TextDecoder().decode(f.body.subarray(4)).split("\0").filter((m) => m);
        return authenticationSasl(names.filter((m) => !m.endsWith("-PLUS")));
      }
    } else if (f.type === 0x45) {
      const n = parseNotice(f.body);
      if (!authOk) {
        events.push(
          this.events.make("auth", "AUTH_FAILED", { sqlstate: n.code, error: n.message }),
        );
      } else {
        this.#error = { message: n.message, sqlstate: n.code };
      }
    } else if (f.type === 0x4b && f.body.length >= 8) {
      const view = new DataView(f.body.buffer, f.body.byteOffset);
      this.#env.onBackendKey(this, { pid: view.getInt32(0), secret: view.getInt32(4) });
    }
    return raw;
  }

  #serverError(): { message: string; sqlstate?: string } | undefined {
    const n = this.#tracker.lastServerError;
    return n === undefined ? this.#error : { message: n.message, sqlstate: n.code };
  }
}

/**
 * Whether a SASLInitialResponse for SCRAM-SHA-256 carries the GS2 flag `y`: "I support
 * channel binding, but you did not offer it".
 */
function wantsBinding(body: Uint8Array): boolean {
  const nul = body.indexOf(0);
  const mechanism = new TextDecoder().decode(body.subarray(0, Math.max(0, nul)));
  return mechanism === "SCRAM-SHA-256" && body[nul + 5] === 0x79; // 'y'; after the int32 length
}

function readInt32(body: Uint8Array): number {
  return new DataView(body.buffer, body.byteOffset, body.byteLength).getInt32(0);
}
