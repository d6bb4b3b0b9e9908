"""Omnico's floor: what every app may import, and which imports no app.

``env`` (typed settings helpers), ``crypto`` (secrets encrypted at rest), ``realtime`` (websocket
group names, after-commit publishing, per-process rendering) and ``db`` (shared database helpers).
The rest of ``omnico/`` is the roof: settings, URLs, ASGI, Celery, the embedded scheduler and
demo data, which wire the apps together. Import contracts in ``pyproject.toml`` keep it so.
"""
