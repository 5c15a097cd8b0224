/**
 * Loopback ports for the proxy bench's servers: a free one to listen on, and whether one is
 * taken yet (how a started server is known to be ready without connecting to it, which would
 * open a session it then has to record).
 */

/** A TCP port on loopback that nothing listened on a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Whether something listens on 127.0.0.1:`port`, told without connecting to it. */
export function portBound(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return false;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return true;
    throw error;
  }
}
