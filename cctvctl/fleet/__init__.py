"""The fleet: shared state of many recording nodes in PostgreSQL (issue 12).

Only this package imports psycopg, and only a server with ``[fleet]`` loads it: a single
node never does.
"""
