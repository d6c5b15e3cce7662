"""The HTTP API and public pages: the only package that imports FastAPI."""
