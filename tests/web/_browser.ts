/**
 * Real Chromium for the web tests: Debian's build driven by playwright-core, with a fresh
 * profile in a temp dir, against the app served on a free loopback port. `close()` shuts the
 * browser, the server and removes the profile, whatever state the test left.
 */

import { type BrowserContext, chromium } from "playwright-core";

const CANDIDATES = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"];

function executable(): string {
  for (const p of CANDIDATES) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* try the next */ }
  }
  throw new Error(`Cannot start Chromium: none of ${CANDIDATES.join(", ")} exists`);
}

/** A served app and a browser pointed at it. */
export interface BrowserRun {
  base: string;
  context: BrowserContext;
  close(): Promise<void>;
}

/** Serves `fetch` on 127.0.0.1 and starts Chromium. */
export async function startBrowser(
  fetch: (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>,
): Promise<BrowserRun> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, fetch);
  const profile = await Deno.makeTempDir({ prefix: "vigil-chromium-" });
  let context: BrowserContext | null = null;
  const close = async (): Promise<void> => {
    try {
      await context?.close();
    } finally {
      await server.shutdown();
      await Deno.remove(profile, { recursive: true });
    }
  };
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: executable(),
      headless: true,
      acceptDownloads: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  } catch (e) {
    await close();
    throw e;
  }
  return { base: `http://127.0.0.1:${server.addr.port}`, context, close };
}
