"""Console logging: pulp2ng's own lines, with other libraries' chatter at debug level.

Celery and friends log start-up notices and warnings (running as root, broker retries) that
say nothing an operator must act on; below ERROR they are demoted to DEBUG, and shown only
when ``[logging] level`` is DEBUG.
"""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


class _DemoteForeign(logging.Filter):
    def __init__(self, threshold: int):
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR and not record.name.startswith("pulp2ng"):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return record.levelno >= self.threshold


def configure(level: str = "INFO") -> None:
    threshold = logging.getLevelName(level.upper())
    if not isinstance(threshold, int):
        threshold = logging.INFO
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(_DemoteForeign(threshold))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(min(threshold, logging.INFO))
    logging.captureWarnings(True)  # warnings.warn (e.g. Celery's root warning) → py.warnings


def debug_enabled() -> bool:
    handler = logging.getLogger().handlers[0] if logging.getLogger().handlers else None
    return any(isinstance(f, _DemoteForeign) and f.threshold <= logging.DEBUG
               for f in getattr(handler, "filters", []))
