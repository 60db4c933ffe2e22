"""A process of its own for the fault tests: one identity resolution of a warehouse, its steps
logged on stdout, so that a test can kill it at a known point.

    python -m tests.warehouse.resolve_child '{"platform": "SQLite", "settings": {...}, "full": false}'
"""
import json
import logging
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "krenalis.settings")
    import django

    django.setup()
    steps = logging.getLogger("warehouse.resolution")
    steps.setLevel(logging.DEBUG)
    steps.addHandler(logging.StreamHandler(sys.stdout))
    from tests.warehouse.test_resolution import resolve
    from warehouse.backends import backend_for

    job = json.loads(sys.argv[1])
    print("resolving", flush=True)
    result = resolve(backend_for(job["platform"], job["settings"]), full=job.get("full", False))
    print(f"resolved {result.kind}", flush=True)


if __name__ == "__main__":
    main()
