/**
 * How the process that runs `vigil serve` is started, for its memory: glibc's allocator and V8's
 * young generation (and `vigil export`'s V8 heap growth: below). Both are fixed when the process
 * starts (glibc reads its environment once, V8 sizes its heap once), so the daemon cannot set
 * them on itself: every launcher applies them —
 * the packaged `vigil` command (`scripts/package/vigil`, and through it the systemd unit, which
 * also names the variables so that a drop-in can change them), `scripts/local.sh`'s daemon, and
 * `vigil bench scale`'s `serve` children, so that the bench measures what ships.
 * `tests/packaging/process_settings_test.ts` holds the launcher and the unit to these values.
 *
 * Why these (measured with `vigil bench scale` and `scripts/bench_scale_sources.ts`,
 * docs/benchmarks.md "Scale"):
 * - glibc gives each thread that allocates an arena of its own (up to 8 per core), and a freed
 *   block stays in its arena; the daemon's native memory (SQLite's pages, the buffers of reading
 *   and compressing segments, the Worker's) is spread over a dozen threads, so the RSS that the
 *   builds left behind stayed. Two arenas, and a fixed mmap threshold: a large block is mapped
 *   on its own and unmapped when freed, instead of glibc raising the threshold after each freed
 *   large block until tens of MiB of them sit in the heap. The trim threshold returns the top of
 *   the heap to the system as soon as 128 KiB of it are free (malloc_trim itself is not callable
 *   under the daemon's FFI permission).
 * - V8's young generation grows to 2 x 16 MiB semi-spaces under the builds' garbage; 4 MiB
 *   keeps it small, for more (and shorter) scavenges. `--optimize-for-size` makes V8 grow the old
 *   generation by less before collecting it: under a WAL and a pgAudit source the main heap had
 *   grown from 40 to over 100 MiB of mostly garbage in a minute (264 against 205 MiB RSS in the
 *   same minute, intake keeping up in both). No old-space limit: a limit is a crash under
 *   legitimate load, never a bound on memory.
 *
 * `vigil export` (`EXPORT_V8_FLAGS`) is started with `--optimize-for-size` too, by the packaged
 * command and the bench: its main thread builds a bundle's Arrow batches from the spool, and in
 * some runs V8 let that thread's heap grow from ~50 to ~100 MiB of garbage: `vigil export` of the
 * scale bench's 1M-event range at 100M peaked at 235–244 MiB, and at 266–297 in about one run in
 * six, over the export's 256 MiB bound; with the flag 206–213 MiB in every run (at 10M 188–194
 * against 218–235), for ~0–6% more time (alternating runs, docs/benchmarks.md "Export").
 *
 * Promises: the values are plain strings, the same for every launcher.
 */

/** Environment of the `serve` process: glibc's malloc tunables. */
export const SERVE_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: "2",
  MALLOC_MMAP_THRESHOLD_: "131072",
  MALLOC_TRIM_THRESHOLD_: "131072",
};

/** V8's flags for the `serve` process, as one `deno run` flag. */
export const SERVE_V8_FLAGS = "--v8-flags=--max-semi-space-size=4,--optimize-for-size";

/** V8's flags for the `export` process, as one `deno run` flag. */
export const EXPORT_V8_FLAGS = "--v8-flags=--optimize-for-size";
