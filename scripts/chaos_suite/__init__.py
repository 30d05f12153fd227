"""The fault suite behind scripts/chaos.py (`just chaos`, `just chaos-short`).

    processes  child processes signalled by their own pid, polling, HTTP probes
    stores     the suite's private MariaDB and Redis
    services   the grades services as scripts/lib/services.txt describes them
    ledger     load through the routes, every grade with its own Idempotency-Key, and its ledger
    verdict    the ledger, MySQL, the live total and the services checked after a phase
    phases     the faults, one phase each
    report     the table and docs/reliability.md

Python standard library only; MySQL and Redis through their command-line clients.
"""
