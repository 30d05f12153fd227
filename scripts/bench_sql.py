"""SQL for the database ceiling of `just bench`: transactions of multi-row INSERTs into `grades`.

    python3 scripts/bench_sql.py FIRST_ID TRANSACTIONS ROWS > file.sql

Rows look like the routes' (same student pool, courses, terms; explicit ids, as the writer sends).
Generated before the clock starts, so the generator's speed is not part of the measurement.
"""

import random
import sys

first, transactions, rows = (int(a) for a in sys.argv[1:4])
rng = random.Random(first)
courses = ["SO1", "BD1", "LFP", "SA", "AYD1"]
out = sys.stdout
next_id = first
for _ in range(transactions):
    values = []
    for _ in range(rows):
        i = rng.randint(1, 500)
        values.append(
            f"({next_id},{201900000 + i},'Alumno {i}','{rng.choice(courses)}',{rng.randint(0, 100)},"
            f"'{rng.choice(['1S', '2S'])}',{rng.randint(2019, 2025)},'rest',UTC_TIMESTAMP(3))"
        )
        next_id += 1
    out.write(
        "START TRANSACTION;\nINSERT INTO grades (id,carnet,nombre,curso,nota,semestre,year,route,created_at) VALUES "
    )
    out.write(",".join(values))
    out.write(";\nCOMMIT;\n")
