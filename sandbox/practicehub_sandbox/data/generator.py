"""Synthetic PracticeHub records with the mess a real clinic's data has, deterministic from a seed."""

from __future__ import annotations

import random
import threading
import unicodedata
from datetime import datetime, timedelta

from faker import Faker

from ..resources import (
    APPOINTMENT_STATUSES,
    ASSUMED_RESOURCES,
    DATE_FORMAT,
    DATETIME_FORMAT,
    PRESCRIPTION_STATUSES,
    REMINDER_STATUSES,
    RESOURCE_FIELDS,
)
from . import vocab
from .mess import add_mess
from .profiles import profile_counts

# Every generated timestamp is before this instant, so records changed later always sort after.
END = datetime(2026, 6, 30, 18, 0, 0)
START = END - timedelta(days=3 * 365)
LAST_APPOINTMENT = END + timedelta(days=60)

_TITLES = {
    "female": ("Ms", "Mrs", "Miss", "Dr", None), "male": ("Mr", "Mr", "Dr", None),
    "other": ("Mx", "Dr", None), None: ("Mr", "Ms", None),
}

_fakers: dict[str, Faker] = {}
_fakers_lock = threading.Lock()


def _faker(locale: str, seed: int) -> Faker:
    """A cached Faker per locale, re-seeded for this run (creating one takes ~40 ms)."""
    if locale not in _fakers:
        _fakers[locale] = Faker(locale)
    fake = _fakers[locale]
    fake.seed_instance(f"{seed}:{locale}")
    return fake


def _money(value: float) -> str:
    return f"{value:.2f}"


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


class _Builder:
    def __init__(self, profile: str, seed: int) -> None:
        self.counts = profile_counts(profile)
        self.seed = seed
        self.rng = random.Random(f"practicehub:{profile}:{seed}")
        self.uk = _faker("en_GB", seed)
        self.name_fakers = {locale: _faker(locale, seed) for locale, _ in vocab.NAME_LOCALES}
        self.data: dict[str, list[dict]] = {}

    # -- helpers -------------------------------------------------------------------------------------

    def ids(self, resource: str) -> list[int]:
        """Increasing ids with occasional gaps (deleted records), distinct per resource."""
        base = (list(RESOURCE_FIELDS).index(resource) + 1) * 1_000_000
        current, out = base, []
        for _ in range(self.counts[resource]):
            current += 1 if self.rng.random() > 0.05 else self.rng.randint(2, 40)
            out.append(current)
        return out

    def stamp(self, low: datetime = START, high: datetime = END) -> datetime:
        seconds = int((high - low).total_seconds())
        return low + timedelta(seconds=self.rng.randint(0, max(0, seconds)))

    def timestamps(self, resource: str, low: datetime = START) -> list[tuple[str, str]]:
        """(created, updated) per record, created increasing with id, updated never before created."""
        created = sorted(self.stamp(low) for _ in range(self.counts[resource]))
        out = []
        for c in created:
            u = c if self.rng.random() < 0.4 else min(END, c + timedelta(minutes=self.rng.randint(1, 400 * 1440)))
            out.append((c.strftime(DATETIME_FORMAT), u.strftime(DATETIME_FORMAT)))
        return out

    def records(self, resource: str, build) -> list[dict]:
        """Build each record with build(index, id) and stamp it; fields in the API's order."""
        fields = RESOURCE_FIELDS[resource]
        out = []
        for index, (record_id, (created, updated)) in enumerate(
            zip(self.ids(resource), self.timestamps(resource), strict=True)
        ):
            values = build(index, record_id)
            values.update(id=record_id, created=values.get("created", created), updated=updated)
            if values["updated"] < values["created"]:
                values["updated"] = values["created"]
            out.append({name: values.get(name) for name in fields})
        self.data[resource] = out
        return out

    def pick(self, resource: str) -> dict:
        return self.rng.choice(self.data[resource])

    def phone(self) -> str:
        return f"07{self.rng.randint(100, 999)} {self.rng.randint(100000, 999999)}"

    # -- configuration-like resources ------------------------------------------------------------------

    def locations(self) -> None:
        def build(i: int, _id: int) -> dict:
            name = vocab.LOCATION_NAMES[i % len(vocab.LOCATION_NAMES)]
            slug = _ascii_slug(name)[:20]
            return {
                "name": name, "address_line_1": self.uk.street_address().replace("\n", ", "),
                "address_line_2": None if i % 2 else f"Unit {i + 1}", "city": self.uk.city(),
                "postcode": self.uk.postcode(), "country": "United Kingdom", "phone": self.uk.phone_number(),
                "email": f"hello@{slug}.example", "website": None if i == 2 else f"https://{slug}.example",
            }

        self.records("locations", build)

    def patient_custom_fields(self) -> None:
        def build(i: int, _id: int) -> dict:
            name, label, field_type, options, phi = vocab.CUSTOM_FIELDS[i % len(vocab.CUSTOM_FIELDS)]
            return {"name": name, "label": label, "field_type": field_type, "options": list(options), "phi": phi}

        self.records("patient_custom_fields", build)

    def practitioners(self) -> None:
        """Some practitioners have no email, some an email no user has (checked by users())."""

        def build(i: int, _id: int) -> dict:
            first, last = self.uk.first_name(), self.uk.last_name()
            email_kind = i % 5  # 0: null email, 1: not a user, others: also a user
            email = None if email_kind == 0 else f"{_ascii_slug(first)}.{_ascii_slug(last)}@riversideclinic.example"
            return {
                "title": self.rng.choice(("Dr", "Dr", None)), "first_name": first, "last_name": last,
                "email": email, "active": 0 if i % 7 == 6 else 1,
            }

        self.records("practitioners", build)

    def users(self) -> None:
        """Practitioners meant to be users first, then front-desk, billing and admin staff."""
        linked = [p for i, p in enumerate(self.data["practitioners"]) if i % 5 >= 2]

        def build(i: int, _id: int) -> dict:
            if i < len(linked):
                p = linked[i]
                return {"first_name": p["first_name"], "last_name": p["last_name"], "email": p["email"],
                        "role": "practitioner", "active": p["active"]}
            first, last = self.uk.first_name(), self.uk.last_name()
            return {
                "first_name": first, "last_name": last,
                "email": f"{_ascii_slug(first)}.{_ascii_slug(last)}{i}@riversideclinic.example",
                "role": vocab.USER_ROLES[i % len(vocab.USER_ROLES)], "active": 0 if i % 9 == 8 else 1,
            }

        self.records("users", build)

    def appointment_types(self) -> None:
        def build(i: int, _id: int) -> dict:
            name, duration, price = vocab.APPOINTMENT_TYPES[i % len(vocab.APPOINTMENT_TYPES)]
            return {"name": name, "duration": duration, "price": price}

        self.records("appointment_types", build)

    def payment_methods(self) -> None:
        def build(i: int, _id: int) -> dict:
            return {"name": vocab.PAYMENT_METHODS[i % len(vocab.PAYMENT_METHODS)], "active": 0 if i == 5 else 1}

        self.records("payment_methods", build)

    def workflows(self) -> None:
        def build(i: int, _id: int) -> dict:
            name, description, event, conditions, actions = vocab.WORKFLOWS[i % len(vocab.WORKFLOWS)]
            if i >= len(vocab.WORKFLOWS):
                location = vocab.LOCATION_NAMES[i % len(vocab.LOCATION_NAMES)]
                name = f"{name} ({location})"
                conditions = [*conditions, {"field": "location", "operator": "eq", "value": location}]
            return {
                "name": name, "description": description,
                "trigger": {"event": event, "conditions": [dict(c) for c in conditions]},
                "actions": [dict(a) for a in actions], "active": 0 if i % 4 == 3 else 1,
            }

        self.records("workflows", build)

    # -- patients --------------------------------------------------------------------------------------

    def _name_locale(self, i: int) -> str:
        locales = [locale for locale, _ in vocab.NAME_LOCALES]
        if i < len(locales):  # even the tiny profile has every script
            return locales[i]
        return self.rng.choices(locales, weights=[w for _, w in vocab.NAME_LOCALES])[0]

    def _custom_fields(self, i: int, patient_number: str) -> list[dict]:
        rng = self.rng
        insured = rng.random() < 0.6
        carrier = vocab.INSURANCE_CARRIERS[i % len(vocab.INSURANCE_CARRIERS)] if insured else None
        values = {
            "mrn": f"MRN-{patient_number}" if rng.random() < 0.95 else None,
            "insurance_carrier": carrier,
            "insurance_member_id": f"{rng.choice('ABCDEFGH')}{rng.randint(10_000_000, 99_999_999)}" if insured else None,
            "patient_status": rng.choice(vocab.PATIENT_STATUSES),
            "preferred_contact": rng.choice(vocab.PREFERRED_CONTACT) if rng.random() < 0.8 else None,
            "emergency_contact": f"{self.uk.first_name()} {self.phone()}" if rng.random() < 0.5 else None,
            "conditions": "; ".join(rng.sample(vocab.CONDITIONS, rng.randint(1, 3))) if rng.random() < 0.7 else None,
            "marketing_consent": rng.choice(("Yes", "No")) if rng.random() < 0.85 else None,
        }
        return [{"name": name, "label": label, "value": values[name]} for name, label, *_ in vocab.CUSTOM_FIELDS]

    def patients(self) -> None:
        rng = self.rng
        location_ids = [loc["id"] for loc in self.data["locations"]]
        emails: list[str] = []

        def build(i: int, _id: int) -> dict:
            fake = self.name_fakers[self._name_locale(i)]
            sex = rng.choice(("female", "male", "female", "male", "other", None))
            first = fake.first_name_female() if sex == "female" else fake.first_name_male() if sex == "male" else fake.first_name()
            last = fake.last_name()
            patient_number = str(1000 + i)
            if emails and (i % 12 == 5 or rng.random() < 0.03):
                # The same person booked twice: same address, different case and stray spaces.
                original = rng.choice(emails)
                email = rng.choice((original.upper(), f" {original} ", original.title(), f"{original} "))
            elif rng.random() < 0.06:
                email = None
            else:
                local = f"{_ascii_slug(first)}.{_ascii_slug(last)}".strip(".") or f"patient{patient_number}"
                email = f"{local}{rng.randint(1, 99) if rng.random() < 0.3 else ''}@{rng.choice(vocab.EMAIL_DOMAINS)}"
                emails.append(email)
            dob = None if (i % 10 == 3 or rng.random() < 0.04) else self.stamp(
                datetime(1938, 1, 1), datetime(2019, 12, 31)).strftime(DATE_FORMAT)
            status = rng.choices(("active", "inactive", "archived"), weights=(80, 15, 5))[0]
            return {
                "patient_number": patient_number, "title": rng.choice(_TITLES[sex]),
                "first_name": first, "last_name": last, "email": email, "dob": dob, "sex": sex,
                "mobile": self.phone() if rng.random() < 0.9 else None,
                "phone": self.uk.phone_number() if rng.random() < 0.3 else None,
                "address_line_1": self.uk.street_address().replace("\n", ", ") if rng.random() < 0.9 else None,
                "address_line_2": f"Flat {rng.randint(1, 40)}" if rng.random() < 0.15 else None,
                "city": self.uk.city(), "postcode": self.uk.postcode(), "country": "United Kingdom",
                "status": status, "deleted": 1 if rng.random() < 0.03 else 0,
                "referral_source": rng.choice(vocab.REFERRAL_SOURCES) if rng.random() < 0.75 else None,
                "location_id": location_ids[i % len(location_ids)],
                "custom_fields": self._custom_fields(i, patient_number),
            }

        self.records("patients", build)

    # -- clinical activity -----------------------------------------------------------------------------

    def appointments(self) -> None:
        rng = self.rng
        types = self.data["appointment_types"]

        def build(i: int, _id: int) -> dict:
            patient, practitioner, kind = self.pick("patients"), self.pick("practitioners"), rng.choice(types)
            start = self.stamp(START + timedelta(days=30), LAST_APPOINTMENT).replace(second=0)
            start = start.replace(minute=start.minute - start.minute % 15)
            if i < len(APPOINTMENT_STATUSES):
                status = APPOINTMENT_STATUSES[i]
            elif start > END:
                status = "pending"
            else:
                status = rng.choices(APPOINTMENT_STATUSES, weights=(4, 3, 75, 7, 11))[0]
            created = start - timedelta(days=rng.randint(1, 45), minutes=rng.randint(0, 600))
            cancel = (start - timedelta(hours=rng.randint(1, 96))).strftime(DATETIME_FORMAT) if status == "cancelled" else None
            fee = None if (i % 9 == 4 or rng.random() < 0.08) else kind["price"]
            return {
                "patient_id": patient["id"], "practitioner_id": practitioner["id"], "appointment_type_id": kind["id"],
                "location_id": patient["location_id"], "start": start.strftime(DATETIME_FORMAT),
                "end": (start + timedelta(minutes=kind["duration"])).strftime(DATETIME_FORMAT),
                "status": status, "cancelDate": cancel, "fee": fee,
                "note": rng.choice(vocab.NOTE_PHRASES) if rng.random() < 0.2 else None,
                "created": min(created, END).strftime(DATETIME_FORMAT),
            }

        self.records("appointments", build)

    def clinical_notes(self) -> None:
        rng = self.rng
        visits = [a for a in self.data["appointments"] if a["status"] in ("processed", "arrived")] or self.data[
            "appointments"]

        def build(i: int, _id: int) -> dict:
            appointment = rng.choice(visits)
            soap = [
                {"key": key, "val": "<p>" + " ".join(rng.sample(vocab.NOTE_PHRASES, 2)) + "</p>"}
                for key in vocab.SOAP_KEYS
            ]
            return {
                "patient_id": appointment["patient_id"],
                "appointment_id": None if i % 6 == 5 else appointment["id"],
                "practitioner_id": appointment["practitioner_id"],
                "type": vocab.CLINICAL_NOTE_TYPES[i % len(vocab.CLINICAL_NOTE_TYPES)],
                "state": "draft" if rng.random() < 0.15 else "final", "data": {"soap_data": soap},
            }

        self.records("clinical_notes", build)

    def files(self) -> None:
        rng = self.rng

        def build(i: int, record_id: int) -> dict:
            entity_type = ("clinical_note", "patient", "clinical_note", "appointment")[i % 4]
            if entity_type == "clinical_note":
                note = self.pick("clinical_notes")
                patient_id, entity_id = note["patient_id"], note["id"]
            elif entity_type == "appointment":
                appointment = self.pick("appointments")
                patient_id, entity_id = appointment["patient_id"], appointment["id"]
            else:
                patient_id = entity_id = self.pick("patients")["id"]
            extension, mime_type, description = rng.choice(vocab.FILE_KINDS)
            stem = description.lower().replace(" ", "-")
            return {
                "patient_id": patient_id, "entity_type": entity_type, "entity_id": entity_id,
                "file_name": f"{stem}-{record_id}.{extension}", "file_type": extension, "mime_type": mime_type,
                "size": rng.randint(2_000, 250_000), "description": description, "url": None,
            }

        self.records("files", build)

    # -- money -----------------------------------------------------------------------------------------

    def invoices(self) -> None:
        rng = self.rng
        billable = [a for a in self.data["appointments"] if a["status"] in ("processed", "missed")] or self.data[
            "appointments"]
        price = {t["id"]: t["price"] for t in self.data["appointment_types"]}

        def build(i: int, record_id: int) -> dict:
            appointment = rng.choice(billable)
            total = appointment["fee"] or price[appointment["appointment_type_id"]] or "0.00"
            return {
                "patient_id": appointment["patient_id"], "appointment_id": appointment["id"],
                "number": f"INV-{record_id % 1_000_000:06d}",
                "status": rng.choices(("draft", "issued", "paid", "void"), weights=(5, 20, 70, 5))[0],
                "total": total,
            }

        self.records("invoices", build)

    def payments(self) -> None:
        rng = self.rng
        paid = [inv for inv in self.data["invoices"] if inv["status"] == "paid"] or self.data["invoices"]
        appointments = {a["id"]: a for a in self.data["appointments"]}
        type_names = {t["id"]: t["name"] for t in self.data["appointment_types"]}
        methods = [m["id"] for m in self.data["payment_methods"]]

        def build(i: int, _id: int) -> dict:
            invoice = rng.choice(paid)
            appointment = appointments.get(invoice["appointment_id"])
            return {
                "patient_id": str(invoice["patient_id"]),  # the real API sends this one as a string
                "invoice_id": invoice["id"], "amount": invoice["total"], "payment_type_id": rng.choice(methods),
                "service": type_names.get(appointment["appointment_type_id"]) if appointment else None,
                "note": rng.choice(("Paid in full", "Part payment", "Paid by insurer", None, None)),
            }

        self.records("payments", build)

    def patient_packages(self) -> None:
        rng = self.rng

        def build(i: int, _id: int) -> dict:
            total = rng.choice((3, 5, 6, 10))
            expires = None if rng.random() < 0.3 else self.stamp(END, END + timedelta(days=365)).strftime(DATE_FORMAT)
            return {
                "patient_id": self.pick("patients")["id"], "name": rng.choice(vocab.PACKAGE_NAMES),
                "sessions_total": total, "sessions_used": rng.randint(0, total),
                "price": _money(total * rng.choice((40, 45, 52.5, 60))), "expires": expires,
            }

        self.records("patient_packages", build)

    def care_plans(self) -> None:
        rng = self.rng

        def build(i: int, _id: int) -> dict:
            start = self.stamp()
            status = vocab.CARE_PLAN_STATUSES[i % 3] if i < 3 else rng.choice(vocab.CARE_PLAN_STATUSES)
            end = None if status == "active" else (start + timedelta(days=rng.randint(14, 180))).strftime(DATE_FORMAT)
            return {
                "patient_id": self.pick("patients")["id"], "practitioner_id": self.pick("practitioners")["id"],
                "name": rng.choice(vocab.CARE_PLAN_NAMES), "goals": " ".join(rng.sample(vocab.NOTE_PHRASES, 2)),
                "status": status, "start_date": start.strftime(DATE_FORMAT), "end_date": end,
            }

        self.records("care_plans", build)

    def patient_logs(self) -> None:
        def build(i: int, _id: int) -> dict:
            action, description = self.rng.choice(vocab.PATIENT_LOG_ACTIONS)
            return {"patient_id": self.pick("patients")["id"], "user_id": self.pick("users")["id"],
                    "action": action, "description": description}

        self.records("patient_logs", build)

    def custom_form_responses(self) -> None:
        rng = self.rng

        def build(i: int, _id: int) -> dict:
            questions = rng.sample(vocab.FORM_QUESTIONS, rng.randint(2, len(vocab.FORM_QUESTIONS)))
            return {
                "patient_id": self.pick("patients")["id"], "form_name": rng.choice(vocab.FORM_NAMES),
                "answers": [{"question": q, "answer": rng.choice(a)} for q, a in questions],
                "completed": 0 if rng.random() < 0.2 else 1,
            }

        self.records("custom_form_responses", build)

    def reminders(self) -> None:
        rng = self.rng

        def build(i: int, _id: int) -> dict:
            appointment = self.pick("appointments")
            start = datetime.strptime(appointment["start"], DATETIME_FORMAT)
            status = REMINDER_STATUSES[i] if i < len(REMINDER_STATUSES) else rng.choices(
                REMINDER_STATUSES, weights=(15, 60, 15, 5, 5))[0]
            return {
                "appointment_id": appointment["id"], "patient_id": appointment["patient_id"],
                "type": vocab.REMINDER_TYPES[i % len(vocab.REMINDER_TYPES)],
                "send_at": (start - timedelta(hours=rng.choice((2, 24, 48)))).strftime(DATETIME_FORMAT),
                "status": status, "channel": rng.choice(vocab.REMINDER_CHANNELS),
            }

        self.records("reminders", build)

    # -- assumed resources (RESOURCES.md "(A)") -----------------------------------------------------------

    def patient_library(self) -> None:
        """Assets shared with several patients, with some shared with none (practice-wide documents)."""
        rng = self.rng
        patients = [p["id"] for p in self.data["patients"]]

        def build(i: int, record_id: int) -> dict:
            title, kind, extension, mime_type = vocab.LIBRARY_ASSETS[i % len(vocab.LIBRARY_ASSETS)]
            shared_with = 0 if i % 7 == 6 else rng.choice((1, 2, 3, 4))
            stem = title.lower().replace(" ", "-")
            return {
                "title": title, "kind": kind, "file_name": f"{stem}-{record_id}.{extension}", "mime_type": mime_type,
                "size": rng.randint(1_500, 180_000), "description": None if i % 3 else f"{title} (patient copy)",
                "url": None, "patient_ids": sorted(rng.sample(patients, min(shared_with, len(patients)))),
            }

        self.records("patient_library", build)

    def prescriptions(self) -> None:
        """Some from an appointment, most sent to an outside pharmacy with its order reference and status."""
        rng = self.rng
        visits = [a for a in self.data["appointments"] if a["status"] in ("processed", "arrived")] or self.data[
            "appointments"]

        def build(i: int, record_id: int) -> dict:
            appointment = rng.choice(visits)
            medication, directions = vocab.MEDICATIONS[i % len(vocab.MEDICATIONS)]
            status = PRESCRIPTION_STATUSES[i] if i < len(PRESCRIPTION_STATUSES) else rng.choices(
                PRESCRIPTION_STATUSES, weights=(5, 25, 60, 5, 5))[0]
            pharmacy, code = vocab.PHARMACIES[i % len(vocab.PHARMACIES)]
            sent = status != "draft"
            prescribed = datetime.strptime(appointment["start"], DATETIME_FORMAT)
            return {
                "patient_id": appointment["patient_id"], "practitioner_id": appointment["practitioner_id"],
                "appointment_id": None if i % 4 == 3 else appointment["id"], "medication": medication,
                "quantity": rng.choice((1, 14, 28, 56)), "directions": directions, "status": status,
                "pharmacy_name": pharmacy if sent else None,
                "pharmacy_order_reference": f"{code}-{rng.randint(100_000, 999_999)}-{record_id % 1000:03d}" if sent
                else None,
                "pharmacy_status": (rng.choice(vocab.PHARMACY_STATUSES) if status != "dispensed" else "collected")
                if sent else None,
                "prescribed_on": prescribed.strftime(DATE_FORMAT),
                "dispensed_at": (prescribed + timedelta(hours=rng.randint(2, 72))).strftime(DATETIME_FORMAT)
                if status == "dispensed" else None,
                "created": min(prescribed, END).strftime(DATETIME_FORMAT),
            }

        self.records("prescriptions", build)

    def build(self) -> dict[str, list[dict]]:
        for resource in self.counts:
            if resource == ASSUMED_RESOURCES[0]:
                # Their own random stream: adding them changed no record of the resources before them.
                self.rng = random.Random(f"practicehub-assumed:{self.rng.random()}:{self.seed}")
            getattr(self, resource)()
        return {resource: self.data[resource] for resource in RESOURCE_FIELDS}


def add_unfamiliar_phi_field(dataset: dict[str, list[dict]], seed: int = 0) -> dict[str, list[dict]]:
    """The dataset plus one patient custom field nobody has seen by name, defined last with `phi: 1` and filled
    for most patients with a government health-insurance number (changes `dataset` in place, returns it)."""
    name, label, field_type, options, phi = vocab.UNFAMILIAR_PHI_FIELD
    definitions = dataset["patient_custom_fields"]
    last = definitions[-1] if definitions else {"id": 0, "created": START.strftime(DATETIME_FORMAT)}
    values = {"id": last["id"] + 1, "name": name, "label": label, "field_type": field_type, "options": list(options),
              "phi": phi, "created": last["created"], "updated": last["created"]}
    definitions.append({key: values.get(key) for key in RESOURCE_FIELDS["patient_custom_fields"]})
    rng = random.Random(f"practicehub:unfamiliar:{seed}")
    for patient in dataset["patients"]:
        number = f"{rng.randint(2000, 6999)} {rng.randint(10000, 99999)} {rng.randint(1, 9)}"
        patient["custom_fields"].append({"name": name, "label": label, "value": number if rng.random() < 0.9 else None})
    return dataset


def build_dataset(profile: str, seed: int) -> dict[str, list[dict]]:
    with _fakers_lock:  # the cached Faker instances are re-seeded per run
        data = _Builder(profile, seed).build()
    # The demo practice holds what real ones do: values that cannot land exactly as they are.
    return add_mess(data) if profile == "demo" else data
