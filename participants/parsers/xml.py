"""ACCME's XML learner report (pars-spec §8.1), read as a stream; DOCTYPEs and entities
are refused before anything is parsed."""

import codecs
import re
from collections.abc import Iterator
from html.entities import name2codepoint

from lxml import etree

from pars_portal.lib.files import FileRefused
from pars_portal.lib.values import (
    clean_text,
    read_birth_date,
    read_date,
    read_decimal,
    read_padded_id,
)

from ..rows import ParticipantRow
from .columns import FILE_EMPTY, read_permission

XML_DOCTYPE_REFUSED = (
    "The XML file contains a DOCTYPE or entity declaration, which is not allowed. Remove the "
    "<!DOCTYPE …> line and upload it again."
)
XML_MALFORMED = "The XML file is not well-formed: {detail}."
XML_HTML_ENTITY = (
    "The XML file is not well-formed: line {line} has &{name}; which is an HTML name, not "
    "XML. Write the character itself ({char}) or &#{code}; instead, and upload it again."
)
XML_UNKNOWN_ENTITY = (
    "The XML file is not well-formed: line {line} has &{name}; which XML does not define. "
    "Write the character itself instead, and upload it again."
)
XML_BARE_AMPERSAND = (
    "The XML file is not well-formed: line {line}, column {column} has an “&” that starts no "
    "character reference. Write it as &amp; (for example “Smith &amp; Jones”) and upload it "
    "again."
)
XML_WRONG_ENCODING = (
    "The XML file is not well-formed: line {line} has bytes that are not in the file's "
    "encoding (UTF-8, unless its first line declares another). Save the file as UTF-8 and "
    "upload it again."
)
WEB_PAGE = (
    "This file is a web page (HTML), not a participant file; some systems' “Excel” "
    "exports are. Open it in Excel and save it as “Excel Workbook (.xlsx)” or “CSV UTF-8”, "
    "then upload it again."
)
XML_SPREADSHEET = (
    "This is an Excel 2003 XML Spreadsheet, not a learner report. Open it in Excel and save "
    "it as “Excel Workbook (.xlsx)” or “CSV UTF-8”, then upload it again."
)
XML_WRONG_ROOT = (
    "This is not an XML learner report: the root element is <{root}>, not <ACCMELearnerReports>."
)
XML_WRONG_PROVIDER = (
    "This file reports for provider {found}, but you are uploading for provider {expected}."
)
XML_NOT_COMPLETED = "Module status is {status!r}; only 'Completed' activities can be reported."
XML_NO_CERTIFICATE = "The ActivityReport has no CreditCertificate."
XML_CREDIT_UNIT = "creditUnit is {unit!r}; MOC credit is reported in 'Point'."
XML_NO_BOARD_ID = (
    "No UniqueID of this certificate is a board ID (domain {boards}); found domain {found}."
)
XML_BIRTH_REQUIRED = (
    "Birth month and day are required for ABIM MOC (Member/PersonalInfo/BirthDate)."
)
_POINT_UNITS = ("", "point", "points", "moc point", "moc points")
_PROLOG_LIMIT = 64 * 1024


class DoctypeRefused(FileRefused):
    """A DOCTYPE or entity declaration, refused before anything reads it."""

    def __init__(self):
        super().__init__(XML_DOCTYPE_REFUSED)


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


class _Report:
    """One ActivityReport's elements found by local name (any namespace or none), each
    element's children read once: a `find` per field cost most of the parse."""

    def __init__(self):
        self._kids: dict = {}

    def _by_name(self, element) -> dict:
        kids = self._kids.get(element)
        if kids is None:
            kids = self._kids[element] = {}
            for child in element:
                tag = child.tag
                if type(tag) is str:  # not a comment or processing instruction
                    kids.setdefault(tag[tag.rfind("}") + 1 :], []).append(child)
        return kids

    def child(self, element, *path):
        """The first element along `path` of local names, as `find("{*}a/{*}b")` gives it."""
        if element is None:
            return None
        found = self._by_name(element).get(path[0])
        if not found or len(path) == 1:
            return found[0] if found else None
        for name in path[1:]:
            found = [kid for parent in found for kid in self._by_name(parent).get(name, ())]
            if not found:
                return None
        return found[0]

    def children(self, element, name) -> list:
        return self._by_name(element).get(name, []) if element is not None else []

    def value(self, element, name) -> str:
        """A CreditReceived value: an attribute or a child element."""
        if element is None:
            return ""
        for key, value in element.attrib.items():
            if _local(key) == name:
                return clean_text(value)
        return _text(self.child(element, name))


def _text(element) -> str:
    return clean_text(element.text) if element is not None else ""


class RefuseDoctype:
    """Wraps the upload: refuses a DOCTYPE/ENTITY before lxml sees the root element. And
    whitespace before the XML declaration (a script that printed a blank line first), which
    XML does not allow, is moved to just after it, so that every line keeps its number."""

    def __init__(self, stream):
        self.stream = stream
        self.prolog = b""
        self.checked = False
        self.started = False

    def read(self, size=-1):
        data = self.stream.read(size if size and size > 0 else 65536)
        if not self.started:
            self.started = True
            data = _declaration_first(data)
        if not self.checked:
            self.prolog += data
            lowered = self.prolog.upper()
            if b"<!DOCTYPE" in lowered or b"<!ENTITY" in lowered:
                raise DoctypeRefused
            # Once past the prolog (the root element has started), a DOCTYPE is impossible.
            if (
                re.search(rb"<[A-Za-z_]", self.prolog)
                or len(self.prolog) > _PROLOG_LIMIT
                or not data
            ):
                self.checked = True
                self.prolog = b""
        return data


def _declaration_first(data: bytes) -> bytes:
    bom = codecs.BOM_UTF8 if data.startswith(codecs.BOM_UTF8) else b""
    body = data[len(bom) :]
    declaration = body.lstrip(b" \t\r\n")
    end = declaration.find(b"?>") if declaration.startswith(b"<?xml") else -1
    if len(declaration) == len(body) or end == -1:
        return data
    before = body[: len(body) - len(declaration)]
    return bom + declaration[: end + 2] + before + declaration[end + 2 :]


def parse_xml(stream, *, provider_id: str, id_lengths) -> Iterator:
    """Stream the XML learner report with lxml: one row per CreditCertificate. Tolerant of
    namespaces, attribute-or-element values and UniqueID placement; refuses DTDs and
    entities outright. Row numbers are the certificate's line in the file."""
    context = etree.iterparse(
        RefuseDoctype(stream),
        events=("end",),
        tag="{*}ActivityReport",  # only reports reach Python: the rest stays in C
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    produced = 0
    try:
        for _event, element in context:
            if not produced:
                _check_document(element.getroottree())
            for row in _report_rows(element, provider_id, id_lengths):
                produced += 1
                yield row
            # Keep memory flat: drop this report and what came before it.
            element.clear()
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:
                del parent[0]
        if not produced and context.root is not None:
            _check_document(context.root.getroottree())
    except etree.XMLSyntaxError as error:
        raise FileRefused(_syntax_error(error, context.error_log.last_error)) from None
    if not produced:
        raise FileRefused(FILE_EMPTY)


def _syntax_error(error, cause) -> str:
    """What is wrong, for the person who made the file: `cause` is the parser's own
    account of it (the exception's message can be only "no element found"). A reference to an
    entity XML does not define (&eacute;, &nbsp;: HTML names) and a bare "&" are the usual
    slips; DOCTYPEs and entity declarations are refused before lxml reads them (RefuseDoctype)
    and again here, should one get past."""
    kind = cause.type_name if cause is not None else ""
    if kind == "ERR_UNDECLARED_ENTITY":
        name = re.search(r"'(.*)'", cause.message)
        name = name.group(1) if name else "…"
        code = name2codepoint.get(name)
        if code is not None:
            return XML_HTML_ENTITY.format(line=cause.line, name=name, char=chr(code), code=code)
        return XML_UNKNOWN_ENTITY.format(line=cause.line, name=name)
    if kind in ("ERR_NAME_REQUIRED", "ERR_ENTITYREF_SEMICOL_MISSING") and "EntityRef" in (
        cause.message
    ):
        return XML_BARE_AMPERSAND.format(line=cause.line, column=cause.column)
    if kind == "ERR_INVALID_ENCODING":
        return XML_WRONG_ENCODING.format(line=cause.line)
    message = str(error.msg if hasattr(error, "msg") else error)
    if cause is not None and message.startswith("no element found"):
        message = f"{cause.message}, line {cause.line}, column {cause.column}"
    message = " ".join(message.split()).replace(" ,", ",")  # libxml2's ends with a newline
    if "entity" in message.lower() or "doctype" in message.lower():
        return XML_DOCTYPE_REFUSED
    return XML_MALFORMED.format(detail=message)


def _check_document(tree):
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise DoctypeRefused
    root = _local(tree.getroot().tag)
    if root.lower() == "html":
        raise FileRefused(WEB_PAGE)
    if root == "Workbook" and "office:spreadsheet" in tree.getroot().tag:
        raise FileRefused(XML_SPREADSHEET)
    if root != "ACCMELearnerReports":
        raise FileRefused(XML_WRONG_ROOT.format(root=root))


def _board_unique_id(candidates, boards):
    """The UniqueID whose domain is a board (a certificate may also carry the NPI or a state
    licence); one without a domain is taken as ABIM's. Returns (element, error)."""
    found = []
    for unique in candidates:
        domain = clean_text(unique.get("domain")).upper()
        if not domain or domain in boards:
            return unique, ""
        found.append(domain)
    if not found:
        return None, ""
    return None, XML_NO_BOARD_ID.format(boards=" or ".join(sorted(boards)), found=", ".join(found))


def _report_rows(report, provider_id, id_lengths, first_number=None):
    source = etree.tostring(report)
    at = _Report()
    member = at.child(report, "Member")
    activity = at.child(report, "Activity")
    module = at.child(activity, "Module")
    provider = _text(at.child(activity, "ProviderOrganization"))
    if provider and provider.isdigit() and provider.zfill(7) != provider_id:
        raise FileRefused(XML_WRONG_PROVIDER.format(found=provider.zfill(7), expected=provider_id))
    module_name = at.child(module, "ModuleName")
    activity_ref = clean_text(module_name.get("moduleID")) if module_name is not None else ""
    if activity_ref.isdigit():
        activity_ref = activity_ref.zfill(9)
    given = _text(at.child(member, "Name", "GivenName"))
    family = _text(at.child(member, "Name", "FamilyName"))
    birth = _text(at.child(member, "PersonalInfo", "BirthDate"))
    status = _text(at.child(module, "Status"))
    completed = _text(at.child(module, "CompletedDateTime"))
    info = at.child(report, "XtensibleInfo")
    action = (_text(at.child(info, "LearnerRecordAction")) or "add").lower()
    permission_text = _text(at.child(info, "LearnerPermission"))
    cme_text = _text(at.child(info, "CMECredits"))  # the portal's extension (pars-spec §9)
    member_ids = at.children(member, "UniqueID")
    certificates = at.children(module, "CreditCertificate")
    if not certificates:
        row = ParticipantRow(row_number=first_number or report.sourceline or 0, source=source)
        row.errors["credit_type"] = XML_NO_CERTIFICATE
        yield row
        return
    for offset, certificate in enumerate(certificates):
        # JSON reports (parse_accme_json) are numbered by their place in the request.
        number = first_number + offset if first_number else certificate.sourceline or 0
        row = ParticipantRow(row_number=number, source=source)
        errors = row.errors
        row.action = action
        row.activity_ref = activity_ref
        if not activity_ref:
            errors["activity"] = "ModuleName has no moduleID (the PARS activity ID)."
        row.first_name, row.last_name = given, family
        unique, problem = _board_unique_id(
            at.children(certificate, "UniqueID") or member_ids, id_lengths.keys()
        )
        if problem:
            errors["board"] = problem
        if unique is not None:
            row.board_code = clean_text(unique.get("domain")).upper() or "ABIM"
        if not problem:
            try:
                row.learner_id = read_padded_id(_text(unique), id_lengths.get(row.board_code))
            except ValueError as error:
                errors["learner_id"] = str(error)
        if action == "add" and not birth:
            errors["birth_month"] = XML_BIRTH_REQUIRED
        elif birth:
            try:
                row.birth_month, row.birth_day = read_birth_date(birth)
            except ValueError as error:
                errors["birth_month"] = str(error)
        if status and status.lower() != "completed" and action == "add":
            errors["status"] = XML_NOT_COMPLETED.format(status=status)
        try:
            row.completion_date = read_date(completed)
        except ValueError as error:
            errors["completion_date"] = str(error)
        for received in at.children(certificate, "CreditReceived"):
            unit = at.value(received, "creditUnit")
            if unit.lower() not in _POINT_UNITS:
                errors.setdefault("credit_unit", XML_CREDIT_UNIT.format(unit=unit))
            if not row.credit_type:
                row.credit_type = at.value(received, "activityCertification")
            number_text = at.value(received, "numberOfCredits")
            if row.moc_points is None and number_text:
                try:
                    row.moc_points = read_decimal(number_text)
                except ValueError as error:
                    errors["moc_points"] = str(error)
        if cme_text:
            try:
                row.cme_credits = read_decimal(cme_text)
            except ValueError as error:
                errors["cme_credits"] = str(error)
        row.credit_id = _text(at.child(certificate, "CreditID")) or None
        # The ACCME learner report has no permission field: submitting the record attests
        # it, unless the file says otherwise in XtensibleInfo/LearnerPermission.
        try:
            row.learner_permission = read_permission(permission_text) if permission_text else True
        except ValueError as error:
            errors["learner_permission"] = str(error)
        yield row
