"""One declarative class per PracticeHub resource, listed in the order the downstream mapper needs them."""

from __future__ import annotations

import typing as t
from pathlib import Path

from tap_practicehub.attachments import download_attachment
from tap_practicehub.client import PracticeHubStream
from tap_practicehub.settings import ASSUMED_RESOURCES

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class LocationsStream(PracticeHubStream):
    name = "locations"


class PatientCustomFieldsStream(PracticeHubStream):
    name = "patient_custom_fields"


class UsersStream(PracticeHubStream):
    name = "users"


class PractitionersStream(PracticeHubStream):
    name = "practitioners"


class AppointmentTypesStream(PracticeHubStream):
    name = "appointment_types"


class PatientsStream(PracticeHubStream):
    name = "patients"


class AppointmentsStream(PracticeHubStream):
    name = "appointments"


class ClinicalNotesStream(PracticeHubStream):
    name = "clinical_notes"


class FilesStream(PracticeHubStream):
    """File metadata; with ``download_files`` the bytes too, saved under ``files_dir``."""

    name = "files"
    subfolder = ""  # attachments keep the folder they always had

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        row = super().post_process(row, context)
        if row is None or not self.config.get("download_files"):
            return row
        files_dir = Path(self.config.get("files_dir") or "output/files") / self.subfolder
        files_dir.mkdir(parents=True, exist_ok=True)
        return download_attachment(
            row, files_dir, timeout=float(self.config.get("request_timeout", 60)), attempts=4, logger=self.logger,
            label=self.name,
        )


class RemindersStream(PracticeHubStream):
    name = "reminders"


class WorkflowsStream(PracticeHubStream):
    name = "workflows"


class InvoicesStream(PracticeHubStream):
    name = "invoices"


class PaymentsStream(PracticeHubStream):
    name = "payments"


class PaymentMethodsStream(PracticeHubStream):
    name = "payment_methods"


class PatientPackagesStream(PracticeHubStream):
    name = "patient_packages"


class CarePlansStream(PracticeHubStream):
    name = "care_plans"


class PatientLogsStream(PracticeHubStream):
    name = "patient_logs"


class CustomFormResponsesStream(PracticeHubStream):
    name = "custom_form_responses"


# Assumed resources (RESOURCES.md "(A)"): read only when listed in the `assumed_resources` setting.


class PatientLibraryStream(FilesStream):
    """Patient Library assets: their bytes are downloaded and checked like attachments, into their own folder
    (asset ids may repeat attachment ids)."""

    name = "patient_library"
    subfolder = "patient_library"


class PrescriptionsStream(PracticeHubStream):
    name = "prescriptions"


# Sync order = this order: referenced entities before the records that point at them.
STREAM_TYPES: tuple[type[PracticeHubStream], ...] = (
    LocationsStream,
    PatientCustomFieldsStream,
    UsersStream,
    PractitionersStream,
    AppointmentTypesStream,
    PatientsStream,
    AppointmentsStream,
    ClinicalNotesStream,
    FilesStream,
    RemindersStream,
    WorkflowsStream,
    InvoicesStream,
    PaymentsStream,
    PaymentMethodsStream,
    PatientPackagesStream,
    CarePlansStream,
    PatientLogsStream,
    CustomFormResponsesStream,
    PatientLibraryStream,
    PrescriptionsStream,
)
ASSUMED_STREAMS = frozenset(ASSUMED_RESOURCES)
assert ASSUMED_STREAMS <= {stream.name for stream in STREAM_TYPES}
