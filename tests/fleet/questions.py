#!/usr/bin/env python3
"""Answers three fleet questions of issue #17 from `membudget export` tables, in DuckDB SQL.

    python3 tests/fleet/questions.py TABLES_DIR SCHEMA_JSON PROCESS_NAME

Loads every table with the column types of the versioned schema (docs/export.schema.json,
`x-sql`), so a column whose values do not fit its documented type fails here, then prints the
answers as one JSON object. tests/export.rs compares them with `membudget report --format json`
of the same snapshots; docs/fleet.md shows the same SQL.
"""
import json
import sys

import duckdb

TABLES = ["snapshots", "items", "processes", "findings", "errors"]


def load(con, directory, schema):
    for table in TABLES:
        columns = {name: spec["x-sql"] for name, spec in schema["$defs"][table]["properties"].items()}
        con.execute(
            f"CREATE TABLE {table} AS SELECT * FROM read_json(?, format = 'newline_delimited', columns = {columns!r})",
            [f"{directory}/{table}.ndjson"],
        )


# Which firmware grew this process's heap: its heap per firmware (sum and count, exact), and
# each firmware whose mean heap is above the previous firmware's.
HEAP_BY_FIRMWARE = """
SELECT s.meta['firmware'] AS firmware, sum(p.virtual)::UBIGINT AS heap_sum, count(*) AS n
FROM processes p JOIN snapshots s USING (snapshot_id)
WHERE p.name = ? AND p.class = 'heap'
GROUP BY firmware ORDER BY firmware
"""

# The 95th percentile of headroom per board model (linear interpolation between ranks).
P95_HEADROOM = """
SELECT meta['board'] AS board, quantile_cont(headroom, 0.95) AS p95
FROM snapshots GROUP BY board ORDER BY board
"""

# Devices within 5 % of their budget: at their latest snapshot, demand is at least 95 % of
# what the profile allows (RAM less the minimum headroom) and not above it.
NEAR_BUDGET = """
SELECT host FROM (
  SELECT host, demand, ram - min_headroom AS allowed,
         row_number() OVER (PARTITION BY host ORDER BY time DESC) AS newest
  FROM snapshots
) WHERE newest = 1 AND demand >= 0.95 * allowed AND demand <= allowed
ORDER BY host
"""


def main():
    directory, schema_path, process = sys.argv[1:4]
    with open(schema_path) as f:
        schema = json.load(f)
    con = duckdb.connect()
    load(con, directory, schema)
    heap = con.execute(HEAP_BY_FIRMWARE, [process]).fetchall()
    grew = [fw for (prev, cur) in zip(heap, heap[1:]) for fw in [cur[0]] if cur[1] / cur[2] > prev[1] / prev[2]]
    answers = {
        "heap_by_firmware": {fw: [int(total), int(n)] for fw, total, n in heap},
        "firmware_that_grew_heap": grew,
        "p95_headroom_by_board": {board: float(p95) for board, p95 in con.execute(P95_HEADROOM).fetchall()},
        "near_budget_hosts": [host for (host,) in con.execute(NEAR_BUDGET).fetchall()],
        "errors": con.execute("SELECT count(*) FROM errors").fetchone()[0],
    }
    print(json.dumps(answers, sort_keys=True))


if __name__ == "__main__":
    main()
