"""The REST API: a FastAPI composition root over the Python clients (see api/app.py)."""
