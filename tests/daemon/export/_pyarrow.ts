/**
 * pyarrow's dataset reader over an export path, as a data team would point it at the archive:
 * `pyarrow.dataset.dataset(path, format="parquet", partitioning="hive")`, run by the Python of
 * the venv that `scripts/setup.sh --tests` makes. Returns what it saw: row count, distinct and
 * extreme seqs, the partition keys it inferred, and a sample of rows in the shape the reader
 * tests compare.
 */

const ROOT = new URL("../../../", import.meta.url).pathname.replace(/\/$/, "");
/** The venv's interpreter, with pyarrow installed. */
export const PYARROW_PYTHON = `${ROOT}/.tools/pyarrow/bin/python`;

const SCRIPT = `
import json, sys
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

path, sample = sys.argv[1], set(json.loads(sys.argv[2]))
d = ds.dataset(path, format="parquet", partitioning="hive")
t = d.to_table(columns=["seq", "source", "role", "ts", "date"])
seq = t.column("seq")
picked = t.filter(pc.is_in(seq, value_set=pa.array(sorted(sample), type=seq.type)))
# Microseconds since the epoch, as the store keeps event time.
picked = picked.set_column(3, "ts", pc.cast(picked.column("ts"), pa.int64()))
rows = [{**r, "date": str(r["date"])} for r in picked.to_pylist()]
rows.sort(key=lambda r: r["seq"])
print(json.dumps({
    "rows": t.num_rows,
    "distinct": len(pc.unique(seq)),
    "lo": pc.min(seq).as_py(),
    "hi": pc.max(seq).as_py(),
    "partitioning": d.partitioning.schema.names,
    "sample": rows,
}))
`;

/** What pyarrow read under `path`. */
export interface PyarrowRead {
  rows: number;
  distinct: number;
  lo: number;
  hi: number;
  partitioning: string[];
  sample: { seq: number; source: string; role: string | null; ts: number; date: string }[];
}

/** Reads `path` with pyarrow; `sample`: the seqs whose rows to return. */
export async function readWithPyarrow(path: string, sample: number[]): Promise<PyarrowRead> {
  const out = await new Deno.Command(PYARROW_PYTHON, {
    args: ["-c", SCRIPT, path, JSON.stringify(sample)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`pyarrow could not read ${path}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
