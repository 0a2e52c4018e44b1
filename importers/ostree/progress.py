"""The step-style progress report of Pulp 2's OSTree importer (§0.3 of the reference)."""
from __future__ import annotations

import contextlib
import uuid

STEPS = {
    "import_summary": "Update Summary",
    "import_pull": "Pull Remote Branches",
    "import_add_unit": "Add Content Units",
}


class Progress:
    """A list of step reports published live under the importer type id."""

    def __init__(self, conduit, steps: dict[str, str] = STEPS):
        self.conduit = conduit
        self.details: dict = {}
        self.steps = {
            key: {"step_id": str(uuid.uuid4()), "step_type": key, "description": text,
                  "state": "NOT_STARTED", "items_total": 1, "num_processed": 0,
                  "num_success": 0, "num_failures": 0, "error_details": [], "details": ""}
            for key, text in steps.items()}
        self.current = None

    def publish(self) -> None:
        self.conduit.set_progress(list(self.steps.values()), force=True)

    @contextlib.contextmanager
    def step(self, key: str):
        self.current = self.steps[key]
        self.current["state"] = "IN_PROGRESS"
        self.publish()
        yield
        if self.current["num_processed"] == 0:
            self.current.update(num_processed=1, num_success=1)
        self.current["state"] = "FINISHED"
        self.publish()

    def count(self, key: str, fetched: int, present: int) -> None:
        step = self.steps[key]
        total = fetched + present
        step.update(items_total=total, num_processed=total, num_success=total,
                    details=f"fetched {fetched} objects, {present} already stored")

    def fail(self, message: str) -> None:
        if self.current is not None:
            self.current.update(state="FAILED", num_failures=1,
                                error_details=[{"error": message}])
        self.publish()

    def cancel(self) -> None:
        if self.current is not None:
            self.current["state"] = "CANCELLED"
        self.publish()

    def summary(self) -> dict:
        return {key: step["state"] for key, step in self.steps.items()}
