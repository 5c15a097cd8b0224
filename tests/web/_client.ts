/**
 * A cookie-keeping client over `app.request()`, for handler tests that sign in, follow a form's
 * CSRF token and post forms as a browser would (same-origin).
 */

import type { Hono } from "hono";
import { PASSWORD } from "./_harness.ts";

const ORIGIN = "http://vigil.test";

/** Signs in and requests as one user. */
export class Client {
  #app: Hono<never>;
  #cookies = new Map<string, string>();
  /** The client address the app sees. */
  addr: string;

  constructor(app: unknown, addr = "192.0.2.10") {
    this.#app = app as Hono<never>;
    this.addr = addr;
  }

  /** Sends a request with the jar's cookies; stores the cookies it sets. */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#cookies.size > 0) {
      headers.set("Cookie", [...this.#cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    }
    const res = await this.#app.request(`${ORIGIN}${path}`, { ...init, headers }, {
      remoteAddr: { hostname: this.addr },
    } as never);
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq), value = pair!.slice(eq + 1);
      if (value === "" || /max-age=0/i.test(line)) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
    return res;
  }

  /** GETs a page and returns its text (any status). */
  async page(path: string): Promise<{ status: number; html: string; res: Response }> {
    const res = await this.request(path);
    return { status: res.status, html: await res.text(), res };
  }

  /** Posts a form from this origin. */
  post(path: string, fields: Record<string, string | string[]>): Promise<Response> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) {
      for (const x of Array.isArray(v) ? v : [v]) body.append(k, x);
    }
    return this.request(path, { method: "POST", body, headers: { Origin: ORIGIN } });
  }

  /** The CSRF token in a page's forms. */
  static csrfOf(html: string): string {
    const m = /name="_csrf" value="([^"]+)"/.exec(html);
    if (!m) throw new Error("no CSRF token in the page");
    return m[1]!;
  }

  /** Signs in; returns the login response. */
  async login(name: string, password = PASSWORD): Promise<Response> {
    const form = await this.page("/login");
    return this.post("/login", { _csrf: Client.csrfOf(form.html), name, password, next: "" });
  }

  /** A page's CSRF token for the signed-in session. */
  async csrf(path = "/"): Promise<string> {
    const res = await this.request(path);
    const loc = res.headers.get("Location");
    const html = loc ? (await this.page(loc)).html : await res.text();
    return Client.csrfOf(html);
  }

  /** The value of a cookie in the jar. */
  cookie(name: string): string | undefined {
    return this.#cookies.get(name);
  }

  /** Puts a cookie into the jar, as a thief with a copy would. */
  setCookie(name: string, value: string): void {
    this.#cookies.set(name, value);
  }

  /** Whether the jar holds a cookie of `name`. */
  has(name: string): boolean {
    return this.#cookies.has(name);
  }
}
