"""ASGI entry point for uvicorn workers: `uvicorn xinlian.asgi:app`."""

from xinlian.app import create_app

app = create_app()
