"""The task page's progress bar figures, from each plugin's ``progress_report`` shape."""

from __future__ import annotations

import pytest

from pulp2ng.controllers.dashboard import progress_of


@pytest.mark.parametrize("report, expected", [
    # Publish: RPM counts its packages; OSTree lists steps; ISO/Python/Docker only a state.
    ({"yum_distributor": {"state": "IN_PROGRESS", "items_total": 40, "num_processed": 10}},
     (10, 40)),
    ({"ostree_web_distributor": [{"step_type": "main", "state": "FINISHED"},
                                 {"step_type": "http", "state": "NOT_STARTED"}]}, (1, 2)),
    ({"iso_distributor": {"state": "in_progress", "error_message": None}}, (0, 1)),
    ({"python_distributor": {"state": "complete", "num_projects": 3, "num_files": 9}},
     (1, 1)),
    ({"group_distributor": {"repositories": 4}}, None),  # nothing measurable
    # Sync: ISO files, Docker blobs (bytes left out), RPM's items_left, Python's steps.
    ({"iso_importer": {"state": "isos_in_progress", "num_isos": 5, "num_isos_finished": 2,
                       "total_bytes": 500, "finished_bytes": 200}}, (2, 5)),
    ({"docker_importer": {"state": "downloading_blobs", "blobs_total": 8,
                          "blobs_finished": 3, "bytes_finished": 12345}}, (3, 8)),
    ({"yum_importer": {"metadata": {"state": "FINISHED"},
                       "content": {"state": "IN_PROGRESS", "items_total": 30,
                                   "items_left": 12}, "errata": {"state": "SKIPPED"}}},
     (18, 30)),
    ({"python_importer": [{"state": "FINISHED", "items_total": 2, "num_processed": 2},
                          {"state": "IN_PROGRESS", "items_total": 6, "num_processed": 1}]},
     (3, 8)),
    ({}, None),
    (None, None),
    ({"x": {"items_total": 0, "num_processed": 0, "state": "IN_PROGRESS"}}, (0, 1)),
    ({"x": {"items_total": "many", "num_processed": True}}, None),  # not counts
])
def test_progress_of_each_report_shape(report, expected):
    got = progress_of(report)
    assert (got and (got["done"], got["total"])) == expected


def test_a_finished_task_shows_a_full_bar_and_counts_never_overflow():
    report = {"iso_importer": {"num_isos": 5, "num_isos_finished": 3}}
    assert progress_of(report, finished=True) == {"done": 5, "total": 5}
    assert progress_of({"x": {"items_total": 3, "num_processed": 7}}) == {"done": 3,
                                                                        "total": 3}
