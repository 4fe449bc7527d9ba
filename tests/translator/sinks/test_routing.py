"""One routing policy: a statement goes to the destinations of its kind whose filters take it."""

from __future__ import annotations

from translator.engine import TRANSLATED, Outcome
from translator.sinks.destinations import Destination
from translator.sinks.routing import Router


def _outcome(org: str | None, course: str | None) -> Outcome:
    context = {k: v for k, v in (("org_id", org), ("course_id", course)) if v is not None}
    return Outcome(TRANSLATED, [{}], context=context)


def test_router_routes_by_org_or_course_filter() -> None:
    everything = Destination(name="all", url="https://lrs.example.org/xAPI")
    mitx = Destination(name="mitx", url="https://mitx.example.org/xAPI", orgs=frozenset({"MITx"}))
    one = Destination(
        name="one",
        url="https://one.example.org/xAPI",
        courses=frozenset({"course-v1:UQx+DS+2024"}),
    )
    router = Router([everything, mitx, one])
    names = lambda outcome: [d.name for d in router.route(outcome, "xapi")]  # noqa: E731
    assert names(_outcome("MITx", "course-v1:MITx+6.002x+2024")) == ["all", "mitx"]
    assert names(_outcome(None, "course-v1:MITx+6.002x+2024")) == ["all", "mitx"]  # org from id
    assert names(_outcome("UQx", "course-v1:UQx+DS+2024")) == ["all", "one"]
    assert names(_outcome(None, None)) == ["all"]


def test_router_sends_a_targets_statements_only_to_destinations_of_that_kind() -> None:
    router = Router([Destination(name="lrs", url="https://lrs.example.org/xAPI")])
    assert [d.name for d in router.route(_outcome("Org", None), "xapi")] == ["lrs"]
    assert router.route(_outcome("Org", None), "caliper") == []


def test_router_names_filter_values_that_matched_no_event() -> None:
    lower = Destination(name="mitx", url="https://mitx.example.org/xAPI", orgs=frozenset({"mitx"}))
    both = Destination(
        name="uq",
        url="https://uq.example.org/xAPI",
        orgs=frozenset({"UQx"}),
        courses=frozenset({"course-v1:UQx+DS+2024", "course-v1:UQx+ML+2024"}),
    )
    router = Router([lower, both])
    router.route(_outcome(None, "course-v1:MITx+6.002x+2024"), "xapi")  # org MITx, not mitx
    router.route(_outcome(None, "course-v1:UQx+DS+2024"), "xapi")
    assert router.unmatched() == [
        "destination 'mitx': filter orgs 'mitx' matched no event in this run"
        " (filters match exactly, case included)",
        "destination 'uq': filter courses 'course-v1:UQx+ML+2024' matched no event in this run"
        " (filters match exactly, case included)",
    ]
