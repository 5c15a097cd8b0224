/**
 * Test assertions, written by hand because `@std/assert` lives on JSR, which these machines
 * cannot reach. Every failed check throws an {@link AssertionError} whose message shows what was
 * expected and what came instead; the helpers narrow types the way `@std/assert` does, so tests
 * read the same.
 *
 * @example
 * ```ts
 * import { assertEquals, assertRejects } from "../support/assert.ts";
 *
 * assertEquals(parse("a=1"), { a: 1 });
 * await assertRejects(() => open("missing"), { instanceOf: Deno.errors.NotFound });
 * ```
 */

/** Thrown by every assertion in this module when its check fails. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** A class (possibly abstract) whose instances are errors, such as `TypeError`. */
export type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

/** What a thrown error must look like; both parts are optional. */
export interface ErrorExpectation<E extends Error> {
  /** The error must be an instance of this class. */
  instanceOf?: ErrorClass<E>;
  /** The error message must contain this text, or match this pattern. */
  message?: string | RegExp;
}

/** Options of {@link assertEventually}. */
export interface EventuallyOptions {
  /** How long to keep polling; default 10 000 ms. */
  timeoutMs?: number;
  /** Pause between two polls; default 50 ms. */
  intervalMs?: number;
  /** Says what was awaited, for the failure message. */
  message?: string;
}

/** Fails unless `condition` is truthy. */
export function assert(condition: unknown, message = "Assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/**
 * Deep structural equality: primitives by `Object.is`, plus arrays, plain objects and class
 * instances (same prototype, same own enumerable keys), `Date`, `RegExp`, `Map`, `Set`, typed
 * arrays, `ArrayBuffer` and `Error` (name and message); cycles are handled.
 */
export function equal(a: unknown, b: unknown): boolean {
  return deepEqual(a, b, []);
}

/** Fails unless `actual` deep-equals `expected` (see {@link equal}). */
export function assertEquals<T>(
  actual: unknown,
  expected: T,
  message?: string,
): asserts actual is T {
  if (equal(actual, expected)) return;
  throw new AssertionError(
    `${message ?? "Values are not equal"}\n` +
      `    actual: ${show(actual)}\n` +
      `  expected: ${show(expected)}`,
  );
}

/** Fails if `actual` deep-equals `expected` (see {@link equal}). */
export function assertNotEquals(actual: unknown, expected: unknown, message?: string): void {
  if (!equal(actual, expected)) return;
  throw new AssertionError(`${message ?? "Values are equal"}: ${show(actual)}`);
}

/** Fails unless `actual` matches `pattern`. */
export function assertMatch(actual: string, pattern: RegExp, message?: string): void {
  // A global or sticky pattern keeps lastIndex between calls; test against a fresh copy.
  if (new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, "")).test(actual)) return;
  throw new AssertionError(`${message ?? `Expected text to match ${pattern}`}: ${show(actual)}`);
}

/** Fails unless `actual` contains `expected`. */
export function assertStringIncludes(actual: string, expected: string, message?: string): void {
  if (actual.includes(expected)) return;
  throw new AssertionError(
    `${message ?? `Expected text to include ${show(expected)}`}: ${show(actual)}`,
  );
}

/**
 * Calls `fn` and fails unless it throws an error as described; returns that error.
 *
 * @example
 * ```ts
 * const err = assertThrows(() => parseConfig("x ="), { instanceOf: TypeError, message: /line 1/ });
 * ```
 */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  expected?: ErrorClass<E> | ErrorExpectation<E>,
): E {
  try {
    fn();
  } catch (error) {
    return checkError<E>(error, expected);
  }
  throw new AssertionError("Expected the function to throw, but it returned");
}

/** Awaits `fn()` and fails unless it rejects with an error as described; returns that error. */
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  expected?: ErrorClass<E> | ErrorExpectation<E>,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    return checkError<E>(error, expected);
  }
  throw new AssertionError("Expected the promise to reject, but it resolved");
}

/**
 * Polls `probe` until it returns something other than `undefined`, `null` or `false`, and
 * returns that; fails when the deadline passes first. Use it instead of a fixed sleep to wait
 * for something another process does (a log line written, a row replicated). Errors thrown by
 * the probe end the wait at once.
 */
export async function assertEventually<T>(
  probe: () => T | PromiseLike<T>,
  opts: EventuallyOptions = {},
): Promise<Exclude<T, undefined | null | false>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) {
      return value as Exclude<T, undefined | null | false>;
    }
    if (Date.now() >= deadline) {
      throw new AssertionError(
        `${opts.message ?? "Condition not met"} within ${timeoutMs} ms (last value: ${
          show(value)
        })`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 50));
  }
}

function checkError<E extends Error>(
  error: unknown,
  expected: ErrorClass<E> | ErrorExpectation<E> | undefined,
): E {
  const want = typeof expected === "function" ? { instanceOf: expected } : expected ?? {};
  if (!(error instanceof Error)) {
    throw new AssertionError(`Expected an Error to be thrown, got ${show(error)}`);
  }
  if (want.instanceOf && !(error instanceof want.instanceOf)) {
    throw new AssertionError(
      `Expected a ${want.instanceOf.name} to be thrown, got ${error.name}: ${error.message}`,
      { cause: error },
    );
  }
  const { message } = want;
  if (message !== undefined) {
    const ok = typeof message === "string"
      ? error.message.includes(message)
      : new RegExp(message.source, message.flags.replace(/[gy]/g, "")).test(error.message);
    if (!ok) {
      throw new AssertionError(
        `Expected the error message to ${
          typeof message === "string" ? `include ${show(message)}` : `match ${message}`
        }, got ${show(error.message)}`,
        { cause: error },
      );
    }
  }
  return error as E;
}

function show(value: unknown): string {
  return Deno.inspect(value, { depth: 10, sorted: true, iterableLimit: 200, colors: false });
}

type Pair = [object, object];

function deepEqual(a: unknown, b: unknown, stack: Pair[]): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  // A pair already being compared further up (a cycle) is assumed equal; any difference shows
  // up at the level that started it. The pair leaves the stack afterwards, so a failed trial
  // match inside a Set or Map cannot make a later comparison of the same pair succeed.
  if (stack.some(([x, y]) => x === a && y === b)) return true;
  stack.push([a, b]);
  try {
    return sameObject(a, b, stack);
  } finally {
    stack.pop();
  }
}

function sameObject(a: object, b: object, stack: Pair[]): boolean {
  if (a instanceof Date) return Object.is(a.getTime(), (b as Date).getTime());
  if (a instanceof RegExp) return String(a) === String(b);
  if (ArrayBuffer.isView(a) || a instanceof ArrayBuffer) return sameBytes(a, b as typeof a);
  if (a instanceof WeakMap || a instanceof WeakSet || a instanceof Promise) return false;
  if (a instanceof Map) return sameMap(a, b as Map<unknown, unknown>, stack);
  if (a instanceof Set) return sameSet(a, b as Set<unknown>, stack);
  if (a instanceof Error && (a.name !== (b as Error).name || a.message !== (b as Error).message)) {
    return false;
  }
  if (Array.isArray(a) && a.length !== (b as unknown[]).length) return false;

  const keysA = enumerableKeys(a);
  const keysB = enumerableKeys(b);
  if (keysA.length !== keysB.length) return false;
  const recA = a as Record<PropertyKey, unknown>;
  const recB = b as Record<PropertyKey, unknown>;
  return keysA.every((key) =>
    Object.prototype.propertyIsEnumerable.call(b, key) && deepEqual(recA[key], recB[key], stack)
  );
}

function enumerableKeys(value: object): PropertyKey[] {
  return Reflect.ownKeys(value).filter((key) =>
    Object.prototype.propertyIsEnumerable.call(value, key)
  );
}

function sameBytes(a: ArrayBufferView | ArrayBuffer, b: ArrayBufferView | ArrayBuffer): boolean {
  const bytesA = ArrayBuffer.isView(a)
    ? new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
    : new Uint8Array(a);
  const bytesB = ArrayBuffer.isView(b)
    ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
    : new Uint8Array(b);
  return bytesA.length === bytesB.length && bytesA.every((byte, i) => byte === bytesB[i]);
}

function sameMap(a: Map<unknown, unknown>, b: Map<unknown, unknown>, stack: Pair[]): boolean {
  if (a.size !== b.size) return false;
  // Fast path: identical keys. Otherwise keys may be equal objects that are not identical.
  if ([...a.keys()].every((key) => b.has(key))) {
    return [...a].every(([key, value]) => deepEqual(value, b.get(key), stack));
  }
  return sameMembers([...a], [...b], stack);
}

function sameSet(a: Set<unknown>, b: Set<unknown>, stack: Pair[]): boolean {
  if (a.size !== b.size) return false;
  return [...a].every((item) => b.has(item)) || sameMembers([...a], [...b], stack);
}

/** Pairs members one to one, so `{a:1},{a:1}` does not equal `{a:1},{a:2}`. */
function sameMembers(a: unknown[], b: unknown[], stack: Pair[]): boolean {
  const unmatched = new Set(b.keys());
  return a.every((member) => {
    for (const i of unmatched) {
      if (deepEqual(member, b[i], stack)) return unmatched.delete(i);
    }
    return false;
  });
}
