"""A heartbeat: a thread that marks long work as alive in the metadata database, even while the
work itself blocks (a source query, one long warehouse statement). The same thread, with another
function, watches for what must interrupt a blocked source query (a cancelled run, a passed timeout)."""
import threading
from typing import Callable

from django.db import connection as db_connection


class Heartbeat:
    """Calls `beat()` every `seconds()` (read at each beat) until the `with` block ends."""

    def __init__(self, beat: Callable[[], object], seconds: Callable[[], float], name: str):
        self.beat, self.seconds, self.done = beat, seconds, threading.Event()
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def _loop(self):
        try:
            while not self.done.wait(self.seconds()):
                self.beat()
        finally:
            db_connection.close()  # this thread's own connection

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
