"""A psycopg 3 client for the proxy's real-client test (psycopg_clients_test.ts).

With `numeric` as argv[2], it only sends a few numeric values as binary parameters (`%b`),
one SELECT each, and prints the values the server sent back. Otherwise it connects to the DSN
in argv[1] (through the proxy) in autocommit mode and runs, in order:
a table made with a plain statement; an INSERT whose values go as binary parameters (%b) beside
a text one (%s); a pipeline of four INSERTs whose third repeats a key, so the server fails it
and skips the fourth until the pipeline's Sync; a SELECT of what is left. Prints one JSON object
with what it saw, for the test to hold against the proxy's record.
"""

import json
import sys
from decimal import Decimal

import psycopg

NUMERICS = ["12.50", "-0.001", "123456789.000100", "0", "NaN", "1e-20"]

if sys.argv[2:] == ["numeric"]:
    conn = psycopg.connect(sys.argv[1], autocommit=True, application_name="psycopg-numeric")
    back = [str(conn.execute("SELECT %b::text", (Decimal(n),)).fetchone()[0]) for n in NUMERICS]
    conn.close()
    print(json.dumps(back))
    sys.exit(0)

conn = psycopg.connect(sys.argv[1], autocommit=True, application_name="psycopg-client")
seen = {"server_version": conn.info.server_version}

conn.execute("CREATE TABLE py_items (id int PRIMARY KEY, price numeric, blob bytea,"
             " ok bool, ratio float8, note text)")

cur = conn.cursor()
cur.execute(
    "INSERT INTO py_items VALUES (%b, %s, %b, %b, %b, %s) RETURNING id",
    (7, "12.50", b"\x00\xffA", True, 1.5, "it's \"quoted\""),
)
seen["binary_insert"] = {"returned": cur.fetchone()[0], "status": cur.statusmessage}

outcomes = []
cursors = []
try:
    with conn.pipeline():
        for key in [1, 2, 1, 3]:
            c = conn.cursor()
            c.execute("INSERT INTO py_items (id, note) VALUES (%s, %s) RETURNING id",
                      (key, f"pipelined {key}"))
            cursors.append(c)
except psycopg.errors.UniqueViolation as error:
    seen["pipeline_error"] = error.sqlstate
for c in cursors:
    try:
        outcomes.append({"returned": c.fetchone()[0], "status": c.statusmessage})
    except psycopg.ProgrammingError:
        outcomes.append(None)
seen["pipeline"] = outcomes

seen["left"] = [row[0] for row in conn.execute("SELECT id FROM py_items ORDER BY id")]
conn.close()
print(json.dumps(seen))
