"""One service changes a record's status and writes its history (participants/statuses.py).

The code is read to hold it: no other module of the apps updates a record's status or
creates a history entry. And what a change sets off follows from the one table."""

import ast
from pathlib import Path

import pytest

from activities.models import Channel
from participants.models import Completion, CompletionEvent, FollowUp
from participants.rows import Result
from participants.services.records import completion_delete
from participants.statuses import AFTER_CHANGE, OPEN_FOLLOW_UP, TELL_EDITORS
from participants.transmission import ingest_answers, transmit

from .conftest import make_completion
from .test_intake import row, submit

ROOT = Path(__file__).resolve().parent.parent
THE_SERVICE = ROOT / "participants" / "statuses.py"
STATUS_FIELDS = {"status", "status_reason", "status_changed_at"}


def _sources():
    for app in ("activities", "participants", "pars_portal"):
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts and path != THE_SERVICE:
                yield path, ast.parse(path.read_text(), filename=str(path))


def _root_name(node) -> str:
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def _strings(node) -> set[str]:
    return {
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def _writes(tree):
    """(line, what) of every status write and history entry made in this module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "CompletionEvent":
            yield node.lineno, "names CompletionEvent"
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        method, root = node.func.attr, _root_name(node.func.value)
        keywords = {k.arg for k in node.keywords}
        if root == "Completion" and method == "update" and keywords & STATUS_FIELDS:
            yield node.lineno, "Completion…update(status…)"
        if root == "Completion" and method == "bulk_update" and _strings(node) & STATUS_FIELDS:
            yield node.lineno, "Completion…bulk_update([status…])"
        record = "completion" in root.lower() or root in ("record", "gone", "existing")
        if method == "save" and record and _strings(node) & STATUS_FIELDS:
            yield node.lineno, "a record's save(update_fields=[status…])"


def test_no_module_but_the_service_changes_a_status_or_writes_history():
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path, tree in _sources()
        for line, what in _writes(tree)
        # Reading history is fine: the admin's inline and list, the board answers' replay
        # check; only these modules may name the model.
        if not (what == "names CompletionEvent" and path.name in READERS_OF_HISTORY)
    ]
    assert found == []


READERS_OF_HISTORY = {"admin.py", "transmission.py", "models.py"}


def test_the_readers_of_history_only_read_it():
    """The modules allowed to name CompletionEvent never create one."""
    for path, tree in _sources():
        if path.name not in READERS_OF_HISTORY:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                called = node.func
                assert not (isinstance(called, ast.Name) and called.id == "CompletionEvent"), (
                    f"{path}:{node.lineno} creates a history entry"
                )
                if isinstance(called, ast.Attribute) and called.attr in (
                    "create", "bulk_create", "get_or_create", "update_or_create",
                ):  # fmt: skip
                    assert _root_name(called.value) != "CompletionEvent", (
                        f"{path}:{node.lineno} creates a history entry"
                    )


def test_the_table_says_who_hears_of_a_rejection():
    assert AFTER_CHANGE[(Completion.Status.REJECTED, Channel.API)] == (TELL_EDITORS,)
    assert (Completion.Status.REJECTED, Channel.FORM) not in AFTER_CHANGE  # seen on the page
    assert OPEN_FOLLOW_UP in AFTER_CHANGE[(Completion.Status.REJECTED, Channel.BOARD)]


@pytest.mark.parametrize("channel", [Channel.FORM, Channel.API, Channel.ADMIN])
def test_withdrawing_a_rejected_record_closes_its_follow_up(
    activity_a, editor_a, roster, channel, settings
):
    """The board rejected the record, so it waits in the reviewers' queue; the provider
    withdraws it: the follow-up closes (withdrawn), by whom and when, in the same step."""
    record = make_completion(activity_a, status="accepted")
    transmit()
    ingest_answers([{"recordId": record.pk, "result": "rejected", "reasonCode": "ID",
                     "reason": "Unknown ABIM ID"}])  # fmt: skip
    follow_up = FollowUp.objects.get(completion=record)
    assert follow_up.resolution == ""
    record.refresh_from_db()
    completion_delete(completion=record, actor=editor_a, reason="Wrong learner",
                      channel=channel)  # fmt: skip
    follow_up.refresh_from_db()
    assert follow_up.resolution == FollowUp.Resolution.WITHDRAWN
    assert (follow_up.resolved_by, follow_up.resolved_at is not None) == (editor_a, True)
    last = CompletionEvent.objects.filter(completion=record).last()
    assert (last.from_status, last.to_status, last.reason) == ("rejected", "deleted",
                                                              "Wrong learner")  # fmt: skip


def test_a_correction_leaves_the_follow_up_for_the_reviewer(activity_a, editor_a, roster):
    """A record the board rejected, corrected by the provider: the old record is
    superseded, not withdrawn, so its follow-up stays open for the reviewer to close as
    "Provider resubmitted"; a delete row of a file withdraws, and closes it."""
    record = make_completion(activity_a, status="accepted", first_name="Janet")
    transmit()
    ingest_answers([{"recordId": record.pk, "result": "rejected", "reasonCode": "NAME",
                     "reason": "Name does not match"}])  # fmt: skip
    result = submit(activity_a, [row(activity_a, corrects_id=record.pk)], editor_a)
    assert result.outcomes[0].result == Result.CREATED
    record.refresh_from_db()
    assert record.status == "deleted"
    assert FollowUp.objects.get(completion=record).resolution == ""
