"""The fleet: shared state of many recording nodes in PostgreSQL (in progress, issue 12).

Only this package imports psycopg; nothing of the single node uses it yet.
"""
