from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from .validators import (
    validate_activity_id,
    validate_from_2014,
    validate_moc_points,
    validate_plain_text,
    validate_provider_id,
)

MOC_FIRST_YEAR = 2014  # the first reporting year of ABIM MOC through PARS


class Channel(models.TextChoices):
    """How a write reached the portal; every event records one."""

    FORM = "form", "Web form"
    UPLOAD = "upload", "Batch upload"
    API = "api", "Web service"
    ADMIN = "admin", "Admin"
    BOARD = "board", "Board answer"
    SYSTEM = "system", "System"


class Provider(models.Model):
    class AccreditationType(models.TextChoices):
        ACCME = "accme", "ACCME-accredited"
        STATE = "state", "State-accredited"
        JOINT = "joint", "Joint Accreditation"

    accme_id = models.CharField(
        "ACCME provider ID",
        max_length=7,
        unique=True,
        validators=[validate_provider_id],
        help_text="7 digits; leading zeros count (0001234).",
    )
    name = models.CharField(max_length=200, validators=[validate_plain_text])
    accreditation_type = models.CharField(
        max_length=10, choices=AccreditationType.choices, default=AccreditationType.ACCME
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "provider"

    def __str__(self):
        return f"{self.name} ({self.accme_id})"


class ProviderMembership(models.Model):
    """A user's role on a provider's staff. Managers write and manage the staff; editors
    write; viewers only read. A deactivated membership gives no access; it is kept so the
    staff page shows who had access (changes are in the portal's history)."""

    class Role(models.TextChoices):
        MANAGER = "manager", "Manager"
        EDITOR = "editor", "Editor"
        VIEWER = "viewer", "Viewer"

    # The roles that change the provider's data (a manager does all an editor does).
    WRITE_ROLES = (Role.MANAGER, Role.EDITOR)

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INVITED = "invited", "Invited"
        DEACTIVATED = "deactivated", "Deactivated"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    deactivated_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when the membership was deactivated: it then gives no access.",
    )

    class Meta:
        verbose_name = "provider staff membership"
        constraints = [
            models.UniqueConstraint(fields=["user", "provider"], name="membership_unique_user"),
        ]

    def __str__(self):
        return f"{self.user} – {self.get_role_display()} at {self.provider.accme_id}"

    @property
    def status(self) -> str:
        """Deactivated (the membership or the whole account), invited (no password set
        yet), or active."""
        if self.deactivated_at is not None or not self.user.is_active:
            return self.Status.DEACTIVATED
        if not self.user.has_usable_password() and self.user.last_login is None:
            return self.Status.INVITED
        return self.Status.ACTIVE

    def get_status_display(self) -> str:
        return self.Status(self.status).label


class Board(models.Model):
    code = models.CharField(max_length=10, unique=True, validators=[validate_plain_text])
    name = models.CharField(max_length=200)
    board_id_pattern = models.CharField(
        "board ID pattern",
        max_length=100,
        help_text="Regular expression a learner's board ID must match, e.g. ^\\d{6}$.",
    )
    board_id_length = models.PositiveSmallIntegerField(
        "board ID length",
        null=True,
        blank=True,
        help_text="Numeric IDs shorter than this are left-padded with zeros (a spreadsheet "
        "ate them). Leave empty for boards whose IDs are not fixed-length numbers.",
    )
    board_id_description = models.CharField(
        "board ID description", max_length=100, help_text='Shown in errors, e.g. "6 digits".'
    )

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class CreditType(models.Model):
    board = models.ForeignKey(Board, on_delete=models.PROTECT, related_name="credit_types")
    code = models.CharField(max_length=10, validators=[validate_plain_text])
    label = models.CharField(max_length=100, validators=[validate_plain_text])

    class Meta:
        ordering = ["board__code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["board", "code"], name="credittype_unique_code"),
        ]

    def __str__(self):
        return f"{self.code} – {self.label}"


class Activity(models.Model):
    class Type(models.TextChoices):
        COURSE = "C", "Course"
        RSS = "RSS", "Regularly Scheduled Series"
        INTERNET_LIVE = "IL", "Internet Live Course"
        ENDURING = "EM", "Enduring Material"
        INTERNET_ENDURING = "IEM", "Internet Enduring Material"
        JOURNAL = "JN", "Journal-based CME"
        MANUSCRIPT = "MR", "Manuscript Review"
        TEST_ITEM = "TIW", "Test Item Writing"
        COMMITTEE = "CL", "Committee Learning"
        PERFORMANCE = "PI", "Performance Improvement"
        INTERNET_SEARCHING = "ISL", "Internet Searching and Learning"
        TEACHING = "LFT", "Learning from Teaching"

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="activities")
    pars_id = models.CharField(
        "PARS activity ID",
        max_length=9,
        unique=True,
        editable=False,
        validators=[validate_activity_id],
        help_text="9 digits, assigned by the portal.",
    )
    provider_activity_id = models.CharField(
        "provider's activity ID", max_length=100, blank=True, default="",
        validators=[validate_plain_text],
    )  # fmt: skip
    title = models.CharField(max_length=300, validators=[validate_plain_text])
    activity_type = models.CharField("activity type", max_length=5, choices=Type.choices)
    start_date = models.DateField(validators=[validate_from_2014])
    end_date = models.DateField(validators=[validate_from_2014])
    reporting_year = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(MOC_FIRST_YEAR)]
    )
    cme_credits = models.DecimalField(
        "CME credits offered",
        max_digits=6,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
        default=Decimal("0"),
    )
    legacy_module_code = models.CharField(
        "legacy ABIM module code",
        max_length=50,
        null=True,
        blank=True,
        validators=[RegexValidator(r"^[A-Za-z0-9]+$", "Letters and digits only.")],
        help_text="Only for activities ABIM approved before the partnership.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-reporting_year", "title"]
        verbose_name_plural = "activities"
        constraints = [
            models.UniqueConstraint(
                fields=["legacy_module_code"],
                condition=Q(legacy_module_code__isnull=False),
                name="activity_unique_legacy_code",
            ),
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")), name="activity_end_after_start"
            ),
        ]
        indexes = [models.Index(fields=["provider", "reporting_year"], name="activity_prov_year")]

    def __str__(self):
        return f"{self.pars_id} {self.title}"

    def clean(self):
        """The activity's own rules, and — for an activity with records — what its records
        need: its dates must still contain every reported completion date. All problems
        are reported at once."""
        errors = {}
        start, end, year = self.start_date, self.end_date, self.reporting_year
        if start and end and end < start:
            errors["end_date"] = "The end date is before the start date."
        elif start and end and year and not start.year <= year <= end.year:
            span = str(start.year) if start.year == end.year else f"{start.year}–{end.year}"
            errors["reporting_year"] = (
                f"The reporting year {year} is not a year the activity runs in ({span})."
            )
        if self.pk and start and end and "end_date" not in errors:
            errors.update(self._record_date_errors(start, end))
        if errors:
            raise ValidationError(errors)
        if self.legacy_module_code == "":
            self.legacy_module_code = None
        elif self.legacy_module_code:
            self.legacy_module_code = self.legacy_module_code.upper()  # codes match any case

    def _record_date_errors(self, start, end) -> dict:
        reported = (
            self.completions.filter(is_sandbox=False)
            .exclude(status="deleted")
            .aggregate(first=models.Min("completion_date"), last=models.Max("completion_date"))
        )
        errors = {}
        if reported["first"] and start > reported["first"]:
            errors["start_date"] = (
                f"Records are reported with completion dates from "
                f"{reported['first']:%m/%d/%Y}: the activity cannot start after that."
            )
        if reported["last"] and end < reported["last"]:
            errors["end_date"] = (
                f"Records are reported with completion dates up to "
                f"{reported['last']:%m/%d/%Y}: the activity cannot end before that."
            )
        return errors

    def active_registration(self, board_code: str = "ABIM"):
        return self.registrations.filter(
            board__code=board_code, status=MocRegistration.Status.ACTIVE
        ).first()


class MocRegistration(models.Model):
    """An activity registered for a board's MOC program (pars-spec §4)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Registered"
        WITHDRAWN = "withdrawn", "Withdrawn"

    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, related_name="registrations")
    board = models.ForeignKey(Board, on_delete=models.PROTECT, related_name="registrations")
    moc_points = models.DecimalField(
        "MOC points offered", max_digits=6, decimal_places=2, validators=[validate_moc_points]
    )
    credit_types = models.ManyToManyField(CreditType, verbose_name="credit types offered")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    registered_at = models.DateTimeField(auto_now_add=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "MOC registration"
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "board"],
                condition=Q(status="active"),
                name="registration_one_active_per_board",
            ),
            models.CheckConstraint(
                condition=Q(moc_points__gt=0), name="registration_points_positive"
            ),
        ]

    def __str__(self):
        return f"{self.activity.pars_id} for {self.board.code} MOC ({self.moc_points} points)"


class Attestation(models.Model):
    """One of the five statements a provider attests to when registering (pars-spec §4)."""

    class Statement(models.TextChoices):
        REQUIREMENTS = (
            "requirements",
            (
                "The activity complies with ABIM's MOC (Medical Knowledge Assessment Recognition "
                "Program) requirements."
            ),
        )
        COLLECT_DATA = (
            "collect_data",
            (
                "The provider will collect individual participant completion data and submit it "
                "through PARS."
            ),
        )
        DATA_USE = (
            "data_use",
            ("The provider will abide by ABIM/ACCME requirements for the use of that data."),
        )
        PUBLISH = "publish", "ACCME may publish data about the activity on its website."
        AUDIT = (
            "audit",
            (
                "The provider will comply with requests for information if ACCME selects the "
                "activity for an MOC audit."
            ),
        )

    registration = models.ForeignKey(
        MocRegistration, on_delete=models.CASCADE, related_name="attestations"
    )
    statement = models.CharField(max_length=20, choices=Statement.choices)
    attested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    attested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["registration", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "statement"], name="attestation_unique_statement"
            ),
        ]

    def __str__(self):
        return f"{self.get_statement_display()} ({self.attested_by}, {self.attested_at:%Y-%m-%d})"


class Deadline(models.Model):
    """Reporting deadlines are data that reviewers edit (pars-spec §6)."""

    year = models.PositiveSmallIntegerField("completion year", unique=True)
    due_date = models.DateField()
    grace_until = models.DateField(
        null=True, blank=True, help_text="Records up to this date are not flagged late."
    )
    note = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-year"]
        constraints = [
            models.CheckConstraint(
                condition=Q(grace_until__isnull=True) | Q(grace_until__gte=F("due_date")),
                name="deadline_grace_after_due",
            ),
        ]

    def __str__(self):
        return f"{self.year}: due {self.due_date:%m/%d/%Y}"


class ActivityEvent(models.Model):
    """Append-only change history of activities and their registrations."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        REGISTERED = "registered", "Registered for MOC"
        WITHDRAWN = "withdrawn", "Registration withdrawn"

    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, related_name="events")
    registration = models.ForeignKey(
        MocRegistration, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    action = models.CharField(max_length=12, choices=Action.choices)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "activity history entry"
        verbose_name_plural = "activity history"

    def __str__(self):
        return f"{self.activity.pars_id} {self.get_action_display()} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk:
            raise ValueError("History entries are append-only.")
        super().save(*args, **kwargs)


class PortalEvent(models.Model):
    """Append-only history of what changes outside a record's or an activity's own history:
    reference data and staff changed by reviewers (boards, credit types, deadlines,
    providers, memberships, the roster), roster loads, uploads resumed, transmissions asked
    for and sent. Written by `activities.services.portal_event_record` only."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    action = models.CharField(max_length=40, help_text="e.g. roster.load, upload.resume")
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    text = models.CharField(max_length=300)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "portal history entry"
        verbose_name_plural = "portal history"

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}: {self.text}"

    def save(self, *args, **kwargs):
        if self.pk:
            raise ValueError("History entries are append-only.")
        super().save(*args, **kwargs)
