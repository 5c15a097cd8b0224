/**
 * A loopback port for a test's server: free when asked, bound by the server a moment later.
 * Another process may take it in between; tests that start a server this way retry or wait for
 * it to listen rather than assume the port held.
 */

/** A port on 127.0.0.1 that nothing listened on a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}
