"""Landing: list an inbox (local or fsspec URL), extract drops safely, copy logs
content-addressed into `<data>/landed/` and keep a registry of what came in and why.

Pure library: no Dagster here.
"""
