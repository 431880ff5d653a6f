"""The PracticeHub resources and their fields, in the order the API sends them (RESOURCES.md)."""

from __future__ import annotations

RESOURCE_FIELDS: dict[str, tuple[str, ...]] = {
    "patients": (
        "id", "patient_number", "title", "first_name", "last_name", "email", "dob", "sex", "mobile",
        "phone", "address_line_1", "address_line_2", "city", "postcode", "country", "status", "deleted",
        "referral_source", "location_id", "custom_fields", "created", "updated",
    ),
    "patient_custom_fields": (
        "id", "name", "label", "field_type", "options", "phi", "created", "updated",
    ),
    "practitioners": ("id", "title", "first_name", "last_name", "email", "active", "created", "updated"),
    "users": ("id", "first_name", "last_name", "email", "role", "active", "created", "updated"),
    "locations": (
        "id", "name", "address_line_1", "address_line_2", "city", "postcode", "country", "phone", "email",
        "website", "created", "updated",
    ),
    "appointment_types": ("id", "name", "duration", "price", "created", "updated"),
    "appointments": (
        "id", "patient_id", "practitioner_id", "appointment_type_id", "location_id", "start", "end",
        "status", "cancelDate", "fee", "note", "created", "updated",
    ),
    "clinical_notes": (
        "id", "patient_id", "appointment_id", "practitioner_id", "type", "state", "data", "created",
        "updated",
    ),
    "files": (
        "id", "patient_id", "entity_type", "entity_id", "file_name", "file_type", "mime_type", "size",
        "description", "url", "created", "updated",
    ),
    "invoices": ("id", "patient_id", "appointment_id", "number", "status", "total", "created", "updated"),
    "payments": (
        "id", "patient_id", "invoice_id", "amount", "payment_type_id", "service", "note", "created",
        "updated",
    ),
    "payment_methods": ("id", "name", "active", "created", "updated"),
    "patient_packages": (
        "id", "patient_id", "name", "sessions_total", "sessions_used", "price", "expires", "created",
        "updated",
    ),
    "care_plans": (
        "id", "patient_id", "practitioner_id", "name", "goals", "status", "start_date", "end_date",
        "created", "updated",
    ),
    "patient_logs": ("id", "patient_id", "user_id", "action", "description", "created", "updated"),
    "custom_form_responses": (
        "id", "patient_id", "form_name", "answers", "completed", "created", "updated",
    ),
    "reminders": (
        "id", "appointment_id", "patient_id", "type", "send_at", "status", "channel", "created", "updated",
    ),
    "workflows": ("id", "name", "description", "trigger", "actions", "active", "created", "updated"),
    # Assumed (no public endpoint description): generated last, so the resources above stay as they were.
    "patient_library": (
        "id", "title", "kind", "file_name", "mime_type", "size", "description", "url", "patient_ids",
        "created", "updated",
    ),
    "prescriptions": (
        "id", "patient_id", "practitioner_id", "appointment_id", "medication", "quantity", "directions",
        "status", "pharmacy_name", "pharmacy_order_reference", "pharmacy_status", "prescribed_on",
        "dispensed_at", "created", "updated",
    ),
}
# Resources whose shape is the project's assumption (RESOURCES.md "(A)"), served like the others.
ASSUMED_RESOURCES: tuple[str, ...] = ("patient_library", "prescriptions")

RESOURCES: tuple[str, ...] = tuple(RESOURCE_FIELDS)

APPOINTMENT_STATUSES = ("pending", "arrived", "processed", "missed", "cancelled")
REMINDER_STATUSES = ("pending", "sent", "actioned", "failed", "cancelled")
PRESCRIPTION_STATUSES = ("draft", "sent_to_pharmacy", "dispensed", "cancelled", "rejected")

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_FORMAT = "%Y-%m-%d"
