"""The pure parts of permission checks: which grants cover a resource path."""

import pytest

from pulp2ng.access import ancestors


def test_ancestors_walk_up_to_the_root():
    assert list(ancestors("/v2/repositories/zoo/")) == [
        "/v2/repositories/zoo/", "/v2/repositories/", "/v2/", "/"]
    assert list(ancestors("/")) == ["/"]


@pytest.mark.parametrize("bad", ["repository:zoo", "/v2/repositories/zoo", "v2/", ""])
def test_a_name_that_is_no_resource_path_is_refused_not_looped_on(bad):
    with pytest.raises(ValueError):
        list(ancestors(bad))
