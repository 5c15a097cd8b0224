/**
 * One client session through the proxy: the start (TLS, StartupMessage), the login relayed
 * between client and server and its outcome recorded, then both directions forwarded as they
 * are read while the tracker turns what passes into events, and the end recorded with who
 * ended it. Authentication is the client's own, end to end: the proxy holds no password.
 * It does refuse to relay a clear-text or md5 password over an upstream link whose
 * certificate it did not verify, and it removes the channel-binding SCRAM variant from the
 * server's offer, since the client's TLS ends at the proxy and binding to it would fail.
 *
 * Enforce mode: a statement's result reaches the client only once its event is durable
 * (`gate.ts`; the source's spool under `serve`); if it cannot be made so, the client gets a FATAL
 * error instead and the session is closed — never a result without its event. Bad bytes from the client end this session only, recorded as a
 * `PROXY_PROTOCOL_ERROR`.
 */

import type tls from "node:tls";
import type { JsonObject, NewEvent } from "../../daemon/event/model.ts";
import { errorResponse } from "../../daemon/pgwire/backend_encode.ts";
import { type Frame, FrameScanner } from "../../daemon/pgwire/frames.ts";
import type { ProxySettings } from "./config.ts";
import { type ClientChannel, ConnChannel } from "./channel.ts";
import { SessionEvents } from "./events.ts";
import type { Recorder } from "./recorder.ts";
import { readStart, type StartState } from "./startup.ts";
import { ResultGate } from "./gate.ts";
import { BINDING_REFUSAL, loginStep, wantsBinding } from "./login.ts";
import { clientCapture, clientCheck, serverCapture } from "./capture.ts";
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

/** Startup parameters a CONNECT event has fields for. */
const NAMED_PARAMS = new Set(["user", "database", "application_name"]);

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
  /** Until the first ReadyForQuery. */
  #loggingIn = true;

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
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.#client.close();
      this.#first.close();
    }, STARTUP_TIMEOUT_MS);
    let start;
    try {
      start = await readStart(this.#first, this.#env.secure, state);
    } catch (error) {
      if (error instanceof SyntaxError) return await this.#protocolError(error, "startup");
      if (!timedOut) throw error;
    } finally {
      clearTimeout(timer);
    }
    if (timedOut || start === undefined) {
      const seconds = STARTUP_TIMEOUT_MS / 1000;
      return await this.#protocolError(
        new SyntaxError(`No startup packet within ${seconds} s of connecting`),
        "startup",
      );
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
    try {
      // Other startup parameters matter too: `options=-c pgaudit.log=none` turns auditing off.
      const others = [...start.params].filter(([k]) => !NAMED_PARAMS.has(k));
      const context: JsonObject = { client_port: info.clientPort, tls: info.tls };
      if (others.length > 0) context.startup = Object.fromEntries(others);
      await this.#record([this.events.make("session", "CONNECT", { context })]);
    } catch (error) {
      return await this.#refuse("58000", unrecorded("the start of this session", error));
    }
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
    // Each chunk is scanned, then written upstream before the next is read, and the tracker
    // copies what it keeps: the chunk may be lent and the bodies views of it.
    const scanner = new FrameScanner({
      // During login only the start of a SASL answer is read (its GS2 header), never kept.
      capture: (t, l) =>
        t === 0x70
          ? (this.#loggingIn ? Math.min(l, 64) : 0)
          : clientCapture(t, l, this.#env.settings.recordBytes),
      check: clientCheck,
      views: true,
    });
    for (;;) {
      const chunk = await this.#client.lend();
      if (chunk === null) {
        if (scanner.idle || tracker.terminated) return this.close("client");
        const cut = new SyntaxError("The client's connection ended inside a message");
        return await this.#protocolError(cut, "session");
      }
      let binding = false;
      tracker.beginClientChunk();
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
    await this.#record([this.events.make("auth", "AUTH_FAILED", {
      sqlstate: "28000",
      error: BINDING_REFUSAL,
      context: { method: "scram-sha-256" },
    })]).catch(() => {});
    return await this.#refuse("28000", BINDING_REFUSAL);
  }

  async #serverLoop(): Promise<void> {
    const tracker = this.#tracker;
    const upstream = this.#upstream!;
    let auth = true;
    let authOk = false;
    let authEnd = -1;
    const authFrames: Frame[] = [];
    const enforce = this.#env.settings.mode === "enforce";
    const gate = new ResultGate({
      write: (bytes) => this.#client.write(bytes),
      record: (events) => this.#record(events),
      enforce,
    });
    // Observe mode is done with each chunk before it reads the next: the chunk may be lent,
    // and the bodies views of it. Enforce mode may hold a chunk's bytes across reads.
    const scanner = new FrameScanner({
      capture: (t, l) => auth ? l : serverCapture(t, l),
      check: (_t, l) => {
        if (auth && l > 65536) throw new SyntaxError(`A login message of ${l} bytes`);
      },
      views: true,
    });
    for (;;) {
      const chunk = await (enforce ? upstream.channel.read() : upstream.channel.lend());
      if (chunk === null) {
        // After the client's Terminate the server closes first, often before the client's
        // own close is read: the client ended the session.
        if (tracker.terminated) return this.close("client");
        return this.close("server", this.#serverError());
      }
      // Observe mode: the bytes go to the client before the proxy looks at them; what they
      // complete is recorded after, off the client's way.
      const sent = auth || enforce ? undefined : this.#client.write(chunk);
      sent?.catch(() => {}); // awaited below; a scan that fails first must not leave it unheard
      tracker.beginChunk();
      authEnd = auth ? chunk.length : 0;
      try {
        scanner.scan(chunk, (f) => {
          if (!auth) return tracker.fromServer(f);
          authFrames.push({ ...f, body: f.body.slice() });
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
          const step = loginStep(f, { events: this.events, upstream, authOk });
          events.push(...step.events);
          if (step.forward === null) {
            await this.#record(events).catch(() => {});
            return await this.#refuse("28000", step.refusal ?? "login refused");
          }
          if (step.ok) authOk = true;
          if (step.key) this.#env.onBackendKey(this, step.key);
          if (step.error) this.#error = step.error;
          out.push(step.forward);
        }
        if (events.length > 0) {
          try {
            await this.#record(events);
          } catch (error) {
            return await this.#refuse("58000", unrecorded("this login", error));
          }
        }
        for (const bytes of out) await this.#client.write(bytes);
      }
      if (sent !== undefined) {
        gate.record(tracker);
        await sent;
      } else if (authEnd < chunk.length) {
        try {
          await gate.pass(chunk, authEnd, tracker);
        } catch (error) {
          const message = "Vigil could not store the audit record of this statement (enforce " +
            "mode), so its result is withheld and the session closed";
          await this.#client.write(errorResponse({
            severity: "FATAL",
            code: "58000",
            message,
            detail: String((error as Error)?.message ?? error),
          })).catch(() => {});
          return this.close("error", { message, sqlstate: "58000" });
        }
      }
      if (tracker.pending <= MAX_PENDING) this.#drained?.();
    }
  }

  #serverError(): { message: string; sqlstate?: string } | undefined {
    const n = this.#tracker.lastServerError;
    return n === undefined ? this.#error : { message: n.message, sqlstate: n.code };
  }
}

/** The message a client gets when enforce mode cannot store what it must before going on. */
function unrecorded(what: string, error: unknown): string {
  return `Vigil could not store the audit record of ${what} (enforce mode): ` +
    String((error as Error)?.message ?? error);
}
