"""ACCME's learner report as JSON (pars-spec §9): its shape is checked with the draft's
member names, then it is read as the XML element it stands for."""

from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from pars_portal.lib.files import FileRefused
from pars_portal.lib.values import unsafe_character

from .xml import _report_rows

#
# The JSON document of ACCME's drafts is the XML tree of §8.1 (attributes become properties,
# the text of ModuleName and UniqueID becomes `value`). Its shape is checked first, with the
# draft's member names in every message; each report is then turned into the XML element it
# stands for and read by `_report_rows`, so both forms of the learner report are read by the
# same code.

JSON_NOT_A_REPORT = (
    "This is not an ACCME learner report: the body must be a JSON object with the member "
    "ACCMELearnerReports."
)
SHAPE_REQUIRED = "is required"
SHAPE_UNKNOWN = "is not a member of ACCME's learner report"
SHAPE_EMPTY = "must hold at least one item"
SHAPE_TYPE = "must be {expected}, not {found}"
SHAPE_TOO_MANY_PROBLEMS = 100
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
               list: "a list", dict: "an object", type(None): "null"}  # fmt: skip


class ReportShapeError(FileRefused):
    """A JSON learner report whose shape is wrong. `problems` holds (report index or None,
    member path, message) for each problem found, in document order."""

    def __init__(self, problems):
        self.problems = problems
        report, path, message = problems[0]
        super().__init__(f"{path}: {message}")


@dataclass(frozen=True)
class _Object:
    members: dict  # name → (spec, required)
    closed: bool = False  # unknown members refused, where the drafts forbid them


@dataclass(frozen=True)
class _Many:
    item: object  # a list of these, or one of them alone (the drafts disagree on UniqueID)


_TEXT, _ID, _NUMBER, _FLAG, _IGNORED = "text", "id", "number", "flag", "ignored"
_EXPECTED = {_TEXT: "a string", _ID: "a string or an integer", _NUMBER: "a number",
             _FLAG: "a string or a boolean", _IGNORED: "an object"}  # fmt: skip
_UNIQUE_ID = _Object({"value": (_ID, True), "domain": (_TEXT, True)})
_CERTIFICATE = _Object({
    "UniqueID": (_Many(_UNIQUE_ID), True),
    "CreditReceived": (_Object({
        "activityCertification": (_TEXT, True), "creditUnit": (_TEXT, True),
        "numberOfCredits": (_NUMBER, True),
    }), True),
    "CreditID": (_TEXT, False),  # the drafts require it; §9 reads reports without one
})  # fmt: skip
_REPORT = _Object({
    "ReportingOrganization": (_TEXT, True),
    "Member": (_Object({
        "Name": (_Object({"GivenName": (_TEXT, True), "FamilyName": (_TEXT, True)}), True),
        "PersonalInfo": (_Object({"BirthDate": (_TEXT, False)}, closed=True), False),
        "UniqueID": (_Many(_UNIQUE_ID), False),  # §8.1: may sit under Member
    }), True),
    "Participants": (_IGNORED, False),  # REMS only (v0.5); ABIM MOC does not use it
    "Activity": (_Object({
        "ProviderOrganization": (_ID, True),
        "RegulatoryInformation": (_IGNORED, False),  # REMS only
        "Module": (_Object({
            "ModuleName": (_Object({"value": (_TEXT, True), "moduleID": (_ID, True)}), True),
            "Status": (_TEXT, True),
            "CompletedDateTime": (_TEXT, True),
            "CreditCertificate": (_Many(_CERTIFICATE), True),
        }), True),
    }), True),
    "XtensibleInfo": (_Object({
        "LearnerRecordAction": (_TEXT, True),
        "LearnerPermission": (_FLAG, False),
        "CMECredits": (_NUMBER, False),
        "ProviderID": (_ID, False),
    }), True),
}, closed=True)  # fmt: skip
_DOCUMENT = _Object({
    "ACCMELearnerReports": (_Object({
        "ActivityReports": (_Object({
            "DateTimeCreated": (_TEXT, True),
            "ActivityReport": (_Many(_REPORT), True),
        }, closed=True), True),
    }, closed=True), True),
}, closed=True)  # fmt: skip


def _scalar(value, kind):
    """The value as text for the XML reader, or None when its JSON type is wrong."""
    if kind == _TEXT:
        return value if isinstance(value, str) else None
    if isinstance(value, bool):
        return str(value).lower() if kind == _FLAG else None
    if kind == _FLAG:
        return value if isinstance(value, str) else None
    if kind == _ID and isinstance(value, int | str):
        return str(value)
    if kind == _NUMBER and isinstance(value, int | float | str):
        return str(value)
    return None


class _ShapeCheck:
    def __init__(self):
        self.problems = []
        self.report = None  # index of the report being checked

    def problem(self, path, message):
        if len(self.problems) < SHAPE_TOO_MANY_PROBLEMS:
            self.problems.append((self.report, _path_text(path), message))

    def walk(self, value, spec, path):
        """A clean copy of `value` (known members only, scalars as text), or None."""
        if isinstance(spec, _Many):
            items = value if isinstance(value, list) else [value]
            if isinstance(value, list) and not value:
                self.problem(path, SHAPE_EMPTY)
            clean = []
            for index, item in enumerate(items):
                item_path = [*path, index] if isinstance(value, list) else path
                if spec.item is _REPORT:
                    self.report = index
                clean.append(self.walk(item, spec.item, item_path))
            if spec.item is _REPORT:
                self.report = None
            return clean
        if isinstance(spec, _Object) or spec == _IGNORED:
            if not isinstance(value, dict):
                self.problem(path, SHAPE_TYPE.format(expected="an object", found=_type(value)))
                return None
            if spec == _IGNORED:
                return None
            clean = {}
            for name, (member_spec, required) in spec.members.items():
                if name in value:
                    checked = self.walk(value[name], member_spec, [*path, name])
                    if checked is not None and member_spec != _IGNORED:
                        clean[name] = checked
                elif required:
                    self.problem([*path, name], SHAPE_REQUIRED)
            if spec.closed:
                for name in value.keys() - spec.members.keys():
                    self.problem([*path, str(name)], SHAPE_UNKNOWN)
            return clean
        text = _scalar(value, spec)
        if text is None:
            self.problem(path, SHAPE_TYPE.format(expected=_EXPECTED[spec], found=_type(value)))
        elif problem := unsafe_character(text):
            self.problem(path, problem)
            return None
        return text


def _type(value) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _path_text(path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else ("/" if text else "") + part
    return text


def parse_accme_json(data, *, provider_id: str, id_lengths) -> list:
    """ACCME's learner report document (pars-spec §9; drafts v0.4 and v0.5) as rows, one per
    CreditCertificate, numbered 1, 2, … in the order of the request. Raises ReportShapeError
    naming every member the document got wrong, and FileRefused for another provider's."""
    if not isinstance(data, dict) or "ACCMELearnerReports" not in data:
        raise FileRefused(JSON_NOT_A_REPORT)
    check = _ShapeCheck()
    clean = check.walk(data, _DOCUMENT, [])
    if check.problems:
        raise ReportShapeError(check.problems)
    reports = clean["ACCMELearnerReports"]["ActivityReports"]["ActivityReport"]
    rows = []
    for report in reports:
        element = element_from_json(report)
        rows.extend(_report_rows(element, provider_id, id_lengths, first_number=len(rows) + 1))
    return rows


# Where the XML of §8.1 has an attribute; a member named "value" is the element's text.
XML_ATTRIBUTES = {
    "ModuleName": {"moduleID"},
    "UniqueID": {"domain"},
    "CreditReceived": {"activityCertification", "creditUnit", "numberOfCredits"},
}


def _xml_text(value) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def element_from_json(data: dict, name: str = "ActivityReport"):
    """The XML element a JSON learner report stands for (pars-spec §9's mapping, reversed).
    The writers use it too: a report is built once, as JSON, and written in either form."""
    element = etree.Element(name)
    attributes = XML_ATTRIBUTES.get(name, ())
    for key, value in data.items():
        if key == "value":
            element.text = _xml_text(value)
        elif key in attributes:
            element.set(key, _xml_text(value))
        elif isinstance(value, dict):
            element.append(element_from_json(value, key))
        elif isinstance(value, list):
            element.extend(element_from_json(item, key) for item in value)
        elif value is not None:
            etree.SubElement(element, key).text = _xml_text(value)
    return element
