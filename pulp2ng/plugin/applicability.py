"""Applicability calculators contributed by plugins (Pulp 2's profilers, reduced to the part
that decides what applies).

A plugin registers a :class:`ApplicabilityCalculator` subclass under the entry-point group
``pulp2ng.applicability``; the platform then reads consumer profiles of its ``content_type``
and asks it, once per (distinct profile, repository content revision), which units of the
bound repository apply. The platform does the rest: finding bound repositories, sharing one
result between consumers with identical profiles, storing results per revision, regenerating
and grouping consumers in the response (``pulp2ng.controllers.applicability``).
"""

from __future__ import annotations


class ApplicabilityCalculator:
    """Decides which units of one repository apply to one consumer profile.

    Class attributes:
        content_type: the profile content type it reads (``rpm``, ``modulemd``…).
        unit_fields: ``{unit type id: (fields it reads)}``: the platform loads those units of
            the repository, projected to those fields plus ``_id``. Types no loaded plugin
            provides are left out; a calculator none of whose types exist is not used.
    """

    content_type: str = ""
    unit_fields: dict = {}

    def validate_profile(self, profile) -> str | None:
        """Why ``profile`` is not a valid profile of :attr:`content_type`, or None. Called
        when a profile is saved (a message becomes a 400); keep it cheap."""
        return None

    def applicable(self, profile, units: dict[str, list[dict]]) -> dict[str, list[str]]:
        """``{type id: [applicable unit ids]}`` for ``profile`` (as stored) given the
        repository's ``units`` (``{type id: [unit documents]}``, one entry per type of
        :attr:`unit_fields`). Must be deterministic: identical inputs, identical output
        (results are cached per profile hash and repository revision)."""
        raise NotImplementedError
