"""Domain operations shared by the HTTP API, the ingester and the CLI.

Every function takes keyword-only arguments with the session first, raises the
errors of :mod:`traceability.errors`, and leaves HTTP to ``api/``.
"""
