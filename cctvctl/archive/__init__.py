"""The archive tier: footage and evidence on an S3-compatible object store.

Only this package imports boto3. ``s3`` makes the client from ``[archive]`` and its keys;
the rest of the backend reaches the store through what this package offers. Loaded only
when the inventory has an ``[archive]`` table, so a node without one never imports boto3.
"""
