import base64
import datetime as dt
import functools
import os
import re
import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from activities import deadlines
from activities.models import Activity, Board, Channel, CreditType, Provider

from .parsers.columns import field_label
from .validation import completion_errors


class RosterEntry(models.Model):
    """A board's diplomate: what provisional verification compares a record with."""

    board = models.ForeignKey(Board, on_delete=models.PROTECT, related_name="roster")
    learner_id = models.CharField(
        "board ID", max_length=20, help_text="The learner's ID at the board (ABIM ID: 6 digits)."
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    birth_month = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    birth_day = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(31)]
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "board roster entry"
        verbose_name_plural = "board roster"
        ordering = ["board", "learner_id"]
        constraints = [
            models.UniqueConstraint(fields=["board", "learner_id"], name="roster_unique_learner"),
            models.CheckConstraint(
                condition=Q(birth_month__gte=1, birth_month__lte=12), name="roster_birth_month"
            ),
            models.CheckConstraint(
                condition=Q(birth_day__gte=1, birth_day__lte=31), name="roster_birth_day"
            ),
        ]

    def __str__(self):
        return f"{self.learner_id} {self.last_name}, {self.first_name}"


class Upload(models.Model):
    """A batch file a provider uploaded: validated (nothing written), previewed, confirmed,
    then committed through the intake pipeline. Records created from it point back here."""

    class Format(models.TextChoices):
        XML = "xml", "XML learner report"
        TSV = "tsv", "Tab-delimited"
        CSV = "csv", "CSV"
        XLSX = "xlsx", "Excel"

    class Status(models.TextChoices):
        RECEIVED = "received", "Waiting to be checked"
        VALIDATING = "validating", "Checking"
        PREVIEW = "preview", "Ready to confirm"
        COMMITTING = "committing", "Saving records"
        DONE = "done", "Done"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Interrupted"
        NOTHING = "nothing", "Nothing to save"
        DISCARDED = "discarded", "Discarded"

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="uploads")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    file = models.FileField(upload_to="uploads/%Y/%m/", max_length=300)
    file_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=5, choices=Format.choices)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, db_index=True)
    same_file_as = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="An earlier upload of byte-identical content.",
    )  # fmt: skip
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    message = models.CharField(max_length=500, blank=True, default="")
    header = models.JSONField(default=list, blank=True, help_text="The file's header row.")
    sheet = models.CharField(
        max_length=100, blank=True, default="",
        help_text="The worksheet read, when the workbook has more than one.",
    )  # fmt: skip
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    processed_rows = models.PositiveIntegerField(default=0)
    committed_rows = models.PositiveIntegerField(
        default=0, help_text="Rows whose batch is saved; a retry resumes after them."
    )
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    checked_world = models.CharField(
        max_length=32, blank=True, default="",
        help_text="What the check's decisions rest on besides the records (intake_world).",
    )  # fmt: skip
    preview_totals = models.JSONField(default=dict, blank=True)
    # Of the records to be created: accepted, rejected, submitted by the roster check, and
    # how many have a name warning (the same for result_kinds after the save).
    preview_kinds = models.JSONField(default=dict, blank=True)
    preview_rows = models.JSONField(default=list, blank=True)
    result_totals = models.JSONField(default=dict, blank=True)
    result_kinds = models.JSONField(default=dict, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        indexes = [models.Index(fields=["provider", "-uploaded_at"], name="upload_prov_date")]

    def __str__(self):
        return f"{self.file_name} ({self.uploaded_at:%Y-%m-%d %H:%M})"

    @property
    def progress_percent(self) -> int:
        if not self.total_rows:
            return 0
        return min(100, round(100 * self.processed_rows / self.total_rows))

    @property
    def can_retry(self) -> bool:
        """Interrupted, or a worker stopped answering (killed, restarted machine)."""
        if self.status == self.Status.FAILED:
            return True
        if self.status in (self.Status.VALIDATING, self.Status.COMMITTING):
            last = self.heartbeat_at or self.confirmed_at or self.uploaded_at
            stale = timezone.now() - dt.timedelta(minutes=settings.UPLOAD_STALE_MINUTES)
            return last is not None and last < stale
        return False

    @property
    def is_working(self) -> bool:
        return self.status in (
            self.Status.RECEIVED, self.Status.VALIDATING, self.Status.COMMITTING
        )  # fmt: skip


class UploadIssue(models.Model):
    """A row of an upload that was refused, with the row as the file had it."""

    class Phase(models.TextChoices):
        CHECK = "check", "Check"
        COMMIT = "commit", "Commit"

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="issues")
    phase = models.CharField(max_length=6, choices=Phase.choices)
    row_number = models.PositiveIntegerField()
    field = models.CharField(max_length=50, blank=True, default="")
    message = models.CharField(max_length=1000)
    source = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["upload", "phase", "row_number", "id"]
        indexes = [models.Index(fields=["upload", "phase", "row_number"], name="issue_upload_row")]

    def __str__(self):
        return f"Row {self.row_number}, {self.field_label}: {self.message}"

    @property
    def field_label(self) -> str:
        return field_label(self.field, self.upload.file_format)


class UploadPreviewRow(models.Model):
    """What the check decided for a row that is not an error (errors are UploadIssues), so
    each count of the preview opens exactly its rows."""

    class Kind(models.TextChoices):
        ACCEPTED = "accepted", "Will be created and accepted"
        REJECTED = "rejected", "Will be created and rejected by the roster check"
        SUBMITTED = "submitted", "Will be created, to be verified later"
        WARNING = "warning", "Name differs from the roster (a warning)"
        ALREADY_REPORTED = "already_reported", "Already reported"
        DELETED = "deleted", "Will be deleted"

    upload = models.ForeignKey(
        Upload, on_delete=models.CASCADE, related_name="preview_rows_of",
        db_index=False,  # served by the index preview_row_kind, which starts with it
    )  # fmt: skip
    kind = models.CharField(max_length=16, choices=Kind.choices)
    row_number = models.PositiveIntegerField()
    learner_id = models.CharField(max_length=20, blank=True)
    name = models.CharField(max_length=201, blank=True)
    activity = models.CharField(max_length=20, blank=True)
    credit_type = models.CharField(max_length=50, blank=True)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["upload", "kind", "row_number", "id"]
        indexes = [models.Index(fields=["upload", "kind", "row_number"], name="preview_row_kind")]

    def __str__(self):
        return f"Row {self.row_number}: {self.get_kind_display()}"


class UploadPlan(models.Model):
    """What the check decided for one batch of an upload's rows (`intake.BatchPlan`,
    compressed): the save writes it as it is while it still holds. Deleted once the upload
    is saved, discarded or refused."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="plans")
    offset = models.PositiveIntegerField(help_text="Rows of the file before this batch.")
    rows = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        ordering = ["upload", "offset"]
        constraints = [
            models.UniqueConstraint(fields=["upload", "offset"], name="upload_plan_unique")
        ]

    def __str__(self):
        return f"Upload {self.upload_id}, rows {self.offset + 1}–{self.offset + self.rows}"


class TransmissionBatch(models.Model):
    """Records sent to a board together: a learner-report file, and an HTTP push when a
    board endpoint is configured. Sandbox records are never part of one."""

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        FILE_ONLY = "file", "File written (no board endpoint configured)"
        FAILED = "failed", "Push failed (records will be sent again)"

    board = models.ForeignKey(Board, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    file = models.FileField(upload_to="transmissions/%Y/%m/", max_length=300)
    additions = models.PositiveIntegerField(default=0)
    deletions = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices)
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "transmission batch"
        verbose_name_plural = "transmission batches"

    def __str__(self):
        return (
            f"Batch {self.pk} to {self.board.code}: {self.additions} + {self.deletions} deletions"
        )


MINTED_CREDIT_ID_PREFIX = "ccid:pars:"


def mint_credit_id() -> str:
    """The credit ID of a record that came without one (pars-spec §9): of the drafts' form,
    unique, and stable because it is stored with the record. Its random part is what
    `secrets.token_urlsafe(12)` gives (12 bytes from os.urandom, 16 URL-safe characters),
    drawn 256 at a time: a 100,000-row file mints 100,000."""
    while True:
        try:
            return MINTED_CREDIT_ID_PREFIX + _random_parts.pop()
        except IndexError:  # empty (or emptied by another thread meanwhile)
            block = base64.urlsafe_b64encode(os.urandom(12 * 256)).decode()
            _random_parts.extend(block[i : i + 16] for i in range(0, len(block), 16))


_random_parts: list[str] = []
os.register_at_fork(after_in_child=_random_parts.clear)  # a forked child draws its own


# Letters that do not decompose into a base letter and an accent.
_UNSPLIT_LETTERS = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
                                  "æ": "ae", "œ": "oe", "ı": "i"})  # fmt: skip


_NOT_ASCII_ALNUM = re.compile(r"[^A-Za-z0-9]")


@functools.lru_cache(maxsize=65_536)  # a file repeats the same first and last names
def name_key(value: str) -> str:
    """A name as the search compares it: accents, case, spaces and punctuation removed
    ("Müller-Lüdenscheidt" → "MULLERLUDENSCHEIDT", "O'Neil" → "ONEIL"). Stored beside the
    name so that a prefix search is an index range, on SQLite and PostgreSQL alike."""
    if value.isascii():  # the same result, without Unicode folding
        return value.upper() if value.isalnum() else _NOT_ASCII_ALNUM.sub("", value).upper()
    folded = unicodedata.normalize("NFKD", (value or "").casefold().translate(_UNSPLIT_LETTERS))
    return "".join(c for c in folded if c.isalnum()).upper()


class Completion(models.Model):
    """A participant completion record (pars-spec §3, §5). Never edited in place."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        DELETED = "deleted", "Deleted"

    provider = models.ForeignKey(
        Provider,
        on_delete=models.PROTECT,
        related_name="completions",
        help_text="The activity's provider, kept here for the per-provider screens.",
        db_index=False,  # served by the index completion_prov_status, which starts with it
    )
    activity = models.ForeignKey(
        Activity, on_delete=models.PROTECT, related_name="completions",
        db_index=False,  # served by the index completion_act_status, which starts with it
    )  # fmt: skip
    board = models.ForeignKey(
        Board, on_delete=models.PROTECT, related_name="+",
        db_index=False,  # served by the index completion_learner, which starts with it
    )  # fmt: skip
    learner_id = models.CharField(
        "board ID", max_length=20, help_text="The learner's ID at the board (ABIM ID: 6 digits)."
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    # name_key() of the names, written with them: what the participant search matches.
    first_name_key = models.CharField(max_length=200, editable=False, default="")
    last_name_key = models.CharField(max_length=200, editable=False, default="")
    birth_month = models.PositiveSmallIntegerField()
    birth_day = models.PositiveSmallIntegerField()
    completion_date = models.DateField()
    credit_type = models.ForeignKey(CreditType, on_delete=models.PROTECT, related_name="+")
    moc_points = models.DecimalField("MOC points", max_digits=6, decimal_places=2)
    cme_credits = models.DecimalField(
        "CME credits", max_digits=6, decimal_places=2, null=True, blank=True
    )
    learner_permission = models.BooleanField(
        "learner permission", help_text="The learner agreed to share this with the board."
    )
    credit_id = models.CharField(
        "credit ID",
        max_length=300,
        blank=True,  # forms may leave it empty: the intake pipeline mints one
        default=mint_credit_id,
        help_text="The provider's ID for the record (ccid:<system>:<id>), or one the portal "
        "minted (ccid:pars:…) when none was sent; re-sending it is idempotent.",
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUBMITTED)
    status_reason = models.CharField(max_length=300, blank=True, default="")
    status_changed_at = models.DateTimeField(auto_now_add=True)
    warning = models.CharField(max_length=300, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    upload = models.ForeignKey(
        Upload, on_delete=models.PROTECT, null=True, blank=True, related_name="completions"
    )
    transmitted_in = models.ForeignKey(
        TransmissionBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="The batch that carried the record to the board.",
        db_index=False,  # served by the index completion_batch_answers, which starts with it
    )  # fmt: skip
    transmitted_at = models.DateTimeField(null=True, blank=True)
    deletion_transmitted_in = models.ForeignKey(
        TransmissionBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="The batch that told the board the record was deleted.",
    )  # fmt: skip
    board_confirmed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the board confirmed the record."
    )
    is_sandbox = models.BooleanField(
        "sandbox",
        default=False,
        help_text="Sent with a sandbox API key: validated and stored, never sent to the board.",
    )
    corrects = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
        help_text="The earlier record this one corrects or supersedes.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "participant completion"
        constraints = [
            # pars-spec §5 duplicate rule, among records that are not deleted (sandbox
            # records are a world apart: they never block a real record).
            models.UniqueConstraint(
                fields=[
                    "activity",
                    "board",
                    "learner_id",
                    "credit_type",
                    "completion_date",
                    "is_sandbox",
                ],
                condition=~Q(status="deleted"),
                name="completion_unique_active",
                violation_error_message="Already reported: this learner has a record for this "
                "activity, credit type and completion date.",
            ),
            models.UniqueConstraint(
                fields=["provider", "credit_id", "is_sandbox"],
                condition=Q(credit_id__isnull=False) & ~Q(status="deleted"),
                name="completion_unique_credit_id",
            ),
            models.CheckConstraint(
                condition=Q(birth_month__gte=1, birth_month__lte=12),
                name="completion_birth_month",
            ),
            models.CheckConstraint(
                condition=Q(birth_day__gte=1, birth_day__lte=31), name="completion_birth_day"
            ),
            models.CheckConstraint(condition=Q(moc_points__gt=0), name="completion_points_pos"),
            models.CheckConstraint(
                condition=Q(learner_permission=True), name="completion_permission_given"
            ),
        ]
        indexes = [
            models.Index(fields=["provider", "status"], name="completion_prov_status"),
            # Per-activity figures (count, points) come from this index alone.
            models.Index(
                fields=["activity", "status", "is_sandbox", "moc_points"],
                name="completion_act_status",
            ),
            models.Index(fields=["board", "learner_id"], name="completion_learner"),
            models.Index(fields=["completion_date"], name="completion_date"),
            # The dashboards and lists (real records only: sandbox records live in the API).
            # Each serves its queries from the index alone, without reading the records.
            # The year's figures (day × status × channel) and the lists' counts by year,
            # status and channel: few distinct entries, which PostgreSQL stores once each
            # with the list of their records (deduplication): an eighth of the size it had
            # with the provider and created_at in it, a year read in a third less time.
            models.Index(
                fields=["completion_date", "status", "channel"],
                condition=Q(is_sandbox=False),
                name="completion_year_figures",
            ),
            models.Index(
                fields=["provider", "completion_date", "status", "channel", "created_at"],
                condition=Q(is_sandbox=False),
                name="completion_prov_figures",
            ),
            # The provider's list, newest first, and its counts. The trailing columns are
            # what the search filters on most (deleted hidden by default, an ABIM ID or a
            # first name begun): checked in the index, without reading the records.
            models.Index(
                fields=[
                    "provider",
                    "created_at",
                    "status",
                    "learner_id",
                    "first_name_key",
                    "activity",
                ],
                condition=Q(is_sandbox=False),
                name="completion_prov_newest",
            ),
            # Newest first (the reviewers' list); and the records sent after a date (the
            # late ones of the current year: an empty range while its deadline is ahead).
            models.Index(
                fields=["created_at", "completion_date", "status", "provider"],
                condition=Q(is_sandbox=False),
                name="completion_newest",
            ),
            # The late records of a past year (the reviewers' dashboard ranks providers by
            # them): named day by day (completion_date IN the year's days), each day's late
            # ones are a range of created_at here, so the database reads those alone and
            # not the year's million records, nor (in completion_newest) everything sent
            # since the deadline.
            models.Index(
                fields=["completion_date", "created_at", "status", "provider"],
                condition=Q(is_sandbox=False),
                name="completion_late",
            ),
            # The reviewers' lists "waiting for the board" and "confirmed by the board",
            # newest first: each its own part of the table, in the list's order.
            models.Index(
                fields=["created_at", "status"],
                condition=Q(
                    is_sandbox=False, transmitted_at__isnull=False, board_confirmed_at__isnull=True
                ),
                name="completion_waiting_newest",
            ),
            models.Index(
                fields=["created_at", "status"],
                condition=Q(is_sandbox=False, board_confirmed_at__isnull=False),
                name="completion_confirmed_newest",
            ),
            # A provider's rejected records, latest rejection first (the dashboard's
            # "needing action"): the first ten of the index, the year checked in it. Status
            # first, so that SQLite never takes it for a provider's list (it would, with
            # the provider first, and then sort the whole list).
            models.Index(
                fields=["status", "provider", "status_changed_at", "completion_date"],
                condition=Q(is_sandbox=False),
                name="completion_prov_changed",
            ),
            # Name search: a prefix of the last name (and of the first name) is a range.
            models.Index(
                fields=["provider", "last_name_key", "first_name_key"],
                condition=Q(is_sandbox=False),
                name="completion_name_search",
            ),
            # Sent and not answered yet (see selectors.awaiting_board()): a small part of the table.
            models.Index(
                fields=["status", "transmitted_at"],
                condition=Q(
                    is_sandbox=False, transmitted_at__isnull=False, board_confirmed_at__isnull=True
                ),
                name="completion_unanswered",
            ),
            models.Index(
                fields=["status", "completion_date", "provider", "status_reason"],
                condition=Q(is_sandbox=False),
                name="completion_status_year",
            ),
            models.Index(
                fields=["learner_id", "provider"],
                condition=Q(is_sandbox=False),
                name="completion_learner_search",
            ),
            # The admin's list (all records, sandbox included) by status, newest first.
            models.Index(fields=["status", "created_at"], name="completion_status_newest"),
            models.Index(
                fields=["board_confirmed_at", "status"],  # status: deleted ones hidden
                condition=Q(is_sandbox=False, board_confirmed_at__isnull=False),
                name="completion_confirmed",
            ),
            # What each batch carried and what the board answered, from the index alone.
            models.Index(
                fields=["transmitted_in", "status", "board_confirmed_at", "transmitted_at"],
                name="completion_batch_answers",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.learner_id} {self.last_name} – {self.activity.pars_id}"

    def save(self, *args, **kwargs):
        # The intake pipeline writes the keys itself (its rows are not model instances).
        self.first_name_key = name_key(self.first_name)
        self.last_name_key = name_key(self.last_name)
        super().save(*args, **kwargs)

    def clean(self):
        """Model-layer check of one record (used by the admin); the pipeline runs the same
        rules set-based."""
        if not (self.activity_id and self.board_id and self.credit_type_id):
            return
        registration = self.activity.active_registration(self.board.code)
        offered = (
            set(registration.credit_types.values_list("code", flat=True)) if registration else set()
        )
        errors = completion_errors(
            activity=self.activity,
            registration=registration,
            offered_codes=offered,
            board=self.board,
            learner_id=self.learner_id,
            first_name=self.first_name,
            last_name=self.last_name,
            birth_month=self.birth_month,
            birth_day=self.birth_day,
            completion_date=self.completion_date,
            credit_type_code=self.credit_type.code,
            moc_points=self.moc_points,
            learner_permission=self.learner_permission,
            today=timezone.localdate(),
            cme_credits=self.cme_credits,
            credit_id=self.credit_id,
        )
        if errors:
            raise ValidationError(errors)

    def lateness(self, table=None):
        """Late flags against the deadlines table (pass one table for many records)."""
        table = deadlines.deadline_table() if table is None else table
        return deadlines.lateness(self.completion_date, timezone.localdate(self.created_at), table)

    @property
    def birth_month_day(self) -> str:
        return f"{self.birth_month:02d}/{self.birth_day:02d}"


class CompletionEvent(models.Model):
    """Append-only history of a completion record: who, when, channel, status change."""

    completion = models.ForeignKey(Completion, on_delete=models.PROTECT, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    from_status = models.CharField(
        max_length=10, choices=Completion.Status.choices, blank=True, default=""
    )
    to_status = models.CharField(max_length=10, choices=Completion.Status.choices)
    reason = models.CharField(max_length=300, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = "completion history entry"
        verbose_name_plural = "completion history"

    def __str__(self):
        return f"#{self.completion_id}: {self.from_status or 'new'} → {self.to_status}"

    def save(self, *args, **kwargs):
        if self.pk:
            raise ValueError("History entries are append-only.")
        super().save(*args, **kwargs)


class ApiKey(models.Model):
    """A provider's credential for the web services. Only a hash of the key is stored; the
    key itself is shown once, when it is created."""

    class Mode(models.TextChoices):
        PRODUCTION = "production", "Production"
        SANDBOX = "sandbox", "Sandbox (validated and stored, never sent to the board)"

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="What uses this key, e.g. 'Moodle LMS'.")
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.SANDBOX)
    prefix = models.CharField(
        max_length=16, help_text="The key's first characters, to tell keys apart."
    )
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.prefix}… {self.name} ({self.get_mode_display().split(' ')[0]})"

    @property
    def is_sandbox(self) -> bool:
        return self.mode == self.Mode.SANDBOX

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class FollowUp(models.Model):
    """A board-rejected record in the reviewers' queue: who follows it up, and how it ended."""

    class Resolution(models.TextChoices):
        RESUBMITTED = "resubmitted", "Provider resubmitted"
        WITHDRAWN = "withdrawn", "Provider withdrew the record"
        UNREACHABLE = "unreachable", "Provider unreachable"

    completion = models.OneToOneField(
        Completion, on_delete=models.PROTECT, related_name="follow_up"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    reason = models.CharField(
        max_length=300, blank=True, default="", help_text="The board's reason for rejecting."
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution = models.CharField(max_length=12, choices=Resolution.choices, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "rejection follow-up"
        # The open ones by age (the reviewers' dashboard counts them from the index alone).
        indexes = [
            models.Index(fields=["created_at"], condition=Q(resolution=""), name="followup_open")
        ]

    def __str__(self):
        return f"Follow-up of record {self.completion_id}"


class ContactLog(models.Model):
    """A reviewer's contact with the provider about a rejected record."""

    class Method(models.TextChoices):
        EMAIL = "email", "Email"
        PHONE = "phone", "Phone"
        LETTER = "letter", "Letter"
        OTHER = "other", "Other"

    follow_up = models.ForeignKey(FollowUp, on_delete=models.CASCADE, related_name="contacts")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    contacted_on = models.DateField()
    method = models.CharField(max_length=10, choices=Method.choices)
    note = models.TextField()
    logged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-contacted_on", "-id"]

    def __str__(self):
        return f"{self.get_method_display()} on {self.contacted_on:%m/%d/%Y}"


class RosterProbeFailure(models.Model):
    """A failed roster check (ID not found, birth date mismatch) of one provider: one row per
    distinct (board, board ID, birth month and day) the provider sent, stamped with the last
    time. Counted over a window to limit what anyone can learn of the roster
    (verification.RosterGuard); the board ID and birthday are kept only as a hash."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    probe = models.CharField(max_length=64, help_text="SHA-256 of board, ID and birthday")
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "probe"], name="roster_probe_unique")
        ]
        indexes = [models.Index(fields=["provider", "at"], name="roster_probe_recent")]

    def __str__(self):
        return f"{self.provider_id}: {self.probe[:8]} at {self.at:%Y-%m-%d %H:%M}"
