"""Child process: one identity resolution of a workspace with the product's own service, as the
Celery task executes it; prints {"seconds", "peak_rss", "kind", "identities", "profiles", "steps"} as JSON on its
last line ("identities": those it regrouped, "profiles": those it wrote).

    python bench/child_resolve.py WORKSPACE_ID [--full]

DATABASE_URL must name the bench's metadata database (run.py sets it)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "krenalis.settings")
os.environ.setdefault("KRENALIS_LOG_LEVEL", "WARNING")


def main() -> None:
    import django

    from bench.common import peak_rss

    django.setup()
    from pipelines.services.identity_resolution import identity_resolution_execute, start_resolution_now

    workspace_id = int(sys.argv[1])
    full = "--full" in sys.argv[2:]
    started = time.perf_counter()
    operation = start_resolution_now(workspace_id)
    if operation is None:
        print(json.dumps({"seconds": 0, "peak_rss": peak_rss(), "error": "a resolution is already executing"}))
        return
    result = identity_resolution_execute(workspace_id=workspace_id, operation_id=operation, full=full)
    seconds = time.perf_counter() - started
    if result is None:
        from pipelines.models import Workspace

        error = Workspace.objects.get(id=workspace_id).ir_error or "the resolution did not execute"
        print(json.dumps({"seconds": seconds, "peak_rss": peak_rss(), "error": error}))
        return
    print(json.dumps({"seconds": seconds, "peak_rss": peak_rss(), "kind": result.kind, "identities": result.identities,
                      "profiles": result.profiles, "steps": result.seconds}))


if __name__ == "__main__":
    main()
