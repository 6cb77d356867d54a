"""The stack runtime: every server and host process of shopstream, declared as specs.

A service is a small spec (`spec.Service`): how to provision it, how to start it, how to
tell it is healthy, where it logs. `services/` holds one module per service; `up.py` walks
the specs in dependency order. Nothing here branches on the runtime: a runtime is just a
way to run a spec's programs (supervisord natively, Compose under docker).
"""
