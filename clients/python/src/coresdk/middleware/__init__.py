"""HTTP middleware: :mod:`.fastapi` (ASGI), :mod:`.flask`, :mod:`.django`."""
