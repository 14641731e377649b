"""Android's own runtime on this host: ART 10 built from Debian's registry (build.py; the command line and
environment that run it are the product's, monitor/hostart.py), Java sources as dex for it (dex.py), the
catalogue's stub program laid out as on a phone (stubs.py), the real agent inside it (agent.py) and the
pytest fixtures (fixtures.py)."""
