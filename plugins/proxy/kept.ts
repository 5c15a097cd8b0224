/**
 * A session's prepared statements and portals as far as the proxy keeps them: a map with a
 * byte budget that forgets the oldest entries first, so that a client creating statements
 * without end costs the proxy a bounded amount. An execution of a forgotten statement is
 * still recorded, with a note instead of its text.
 */

/** A prepared statement as Parse gave it. */
export interface KeptStatement {
  text: string;
  /** The text's length in bytes when only part of it was kept. */
  cutBytes?: number;
  /** Parameter type OIDs (0: unspecified), from Parse or ParameterDescription. */
  types: number[];
}

/** A portal as Bind made it. */
export interface KeptPortal {
  statementName: string;
  statement: KeptStatement | undefined;
  formats: number[];
  /** Text-format values as their text, binary ones as sent; null for NULL. */
  values: (Uint8Array | string | null)[];
  count: number;
  cut: boolean;
}

/** A map of `name → value` costing at most `budget` bytes; the newest entry always stays. */
export class KeptMap<V> {
  readonly #budget: number;
  readonly #map = new Map<string, { value: V; bytes: number }>();
  #bytes = 0;

  constructor(budget: number) {
    this.#budget = budget;
  }

  get(name: string): V | undefined {
    return this.#map.get(name)?.value;
  }

  set(name: string, value: V, bytes: number): void {
    this.delete(name);
    this.#map.set(name, { value, bytes });
    this.#bytes += bytes;
    for (const [key, entry] of this.#map) {
      if (this.#bytes <= this.#budget || key === name) break;
      this.#map.delete(key);
      this.#bytes -= entry.bytes;
    }
  }

  delete(name: string): void {
    const old = this.#map.get(name);
    if (old === undefined) return;
    this.#map.delete(name);
    this.#bytes -= old.bytes;
  }

  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
  }
}
