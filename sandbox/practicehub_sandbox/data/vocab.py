"""Fixed word lists of the synthetic practice: labels a real clinic would have configured."""

from __future__ import annotations

# Patients' names come from these Faker locales: accents, CJK, right-to-left scripts, Greek.
NAME_LOCALES: tuple[tuple[str, int], ...] = (
    ("en_GB", 55), ("en_US", 8), ("fr_FR", 7), ("de_DE", 5), ("es_ES", 5), ("pl_PL", 4),
    ("ja_JP", 4), ("zh_CN", 4), ("ar_AA", 3), ("he_IL", 3), ("el_GR", 2),
)

LOCATION_NAMES = (
    "Riverside Clinic", "Northgate Physiotherapy", "Harbourside Health", "City Sports Injury Centre",
    "Westfield Wellbeing Studio",
)

# Two carriers share a name with a location: a clinic's own health plan, a classic CRM collision.
INSURANCE_CARRIERS = (
    "Bupa", "AXA Health", "Vitality", "Aviva", "WPA", "Simplyhealth", "Riverside Clinic",
    "Harbourside Health", "Cigna Global",
)

REFERRAL_SOURCES = (
    "Google search", "GP referral", "Friend or family", "Facebook", "Instagram", "Walk-in",
    "Insurance provider", "Returning patient", "Local newspaper", "Other",
)

PATIENT_STATUSES = ("New", "Active treatment", "Maintenance", "Discharged")
PREFERRED_CONTACT = ("Email", "SMS", "Phone", "Post")
CONDITIONS = (
    "Lower back pain", "Neck pain", "ACL reconstruction", "Rotator cuff tear", "Plantar fasciitis",
    "Tennis elbow", "Osteoarthritis (knee)", "Whiplash", "Sciatica", "Ankle sprain", "Type 2 diabetes",
    "Hypertension", "Asthma", "Pregnancy (2nd trimester)",
)

# (name, label, field_type, options, phi)
CUSTOM_FIELDS: tuple[tuple[str, str, str, tuple[str, ...], int], ...] = (
    ("mrn", "Medical record number", "text", (), 1),
    ("insurance_carrier", "Insurance carrier", "select", INSURANCE_CARRIERS, 1),
    ("insurance_member_id", "Insurance member ID", "text", (), 1),
    ("patient_status", "Patient status", "select", PATIENT_STATUSES, 0),
    ("preferred_contact", "Preferred contact method", "select", PREFERRED_CONTACT, 0),
    ("emergency_contact", "Emergency contact", "text", (), 0),
    ("conditions", "Conditions", "text", (), 1),
    ("marketing_consent", "Marketing consent", "select", ("Yes", "No"), 0),
)

# A field a practice added that the project has never seen by name: PracticeHub marks it PHI (`phi: 1`).
UNFAMILIAR_PHI_FIELD: tuple[str, str, str, tuple[str, ...], int] = (
    "medicare_number", "🪪 Medicare number", "text", (), 1)

# (name, duration minutes, price or None)
APPOINTMENT_TYPES: tuple[tuple[str, int, str | None], ...] = (
    ("Initial Assessment", 60, "85.00"), ("Follow-up", 30, "60.00"), ("Sports Massage (30 min)", 30, "45.00"),
    ("Sports Massage (60 min)", 60, "70.00"), ("Acupuncture", 45, "55.00"), ("Telehealth Review", 20, "40.00"),
    ("Hydrotherapy", 45, "65.00"), ("Pilates 1:1", 55, "58.50"), ("Orthotics Fitting", 40, "120.00"),
    ("Discharge Review", 30, "60.00"), ("Free Discovery Call", 15, None), ("Insurance Assessment", 60, None),
    ("Shockwave Therapy", 30, "90.00"), ("Post-op Rehab", 45, "75.00"), ("Group Class", 60, "15.00"),
    ("Home Visit", 60, "110.00"), ("Running Gait Analysis", 90, "140.00"), ("Dry Needling", 30, "55.00"),
    ("Vestibular Assessment", 60, "95.00"), ("Workplace Assessment", 120, "250.00"),
)

PAYMENT_METHODS = ("Card", "Cash", "Bank transfer", "Insurance claim", "Direct debit", "Gift voucher")

CLINICAL_NOTE_TYPES = ("SOAP", "Progress", "Initial Assessment", "Discharge")
SOAP_KEYS = ("subjective", "objective", "assessment", "plan")
NOTE_PHRASES = (
    "Reports pain 4/10, worse in the morning.", "Reduced range of motion on flexion.",
    "Tenderness over the lateral epicondyle.", "Gait normal, no limp observed.",
    "Progressing well with home exercises.", "Continue current programme, review in 2 weeks.",
    "Manual therapy and soft tissue release applied.", "Advised ice 15 min twice daily.",
    "Strength 4/5 in hip abductors.", "Sleep disturbed by pain on lying on the left side.",
    "Discussed return-to-run plan.", "Referred to GP for imaging.",
)

# (file extension, mime type, description)
FILE_KINDS: tuple[tuple[str, str, str], ...] = (
    ("pdf", "application/pdf", "Referral letter"), ("pdf", "application/pdf", "Discharge summary"),
    ("jpg", "image/jpeg", "Posture photo"), ("png", "image/png", "Exercise sheet"),
    ("pdf", "application/pdf", "Imaging report"), ("txt", "text/plain", "Consent form transcript"),
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Insurance letter"),
)

PACKAGE_NAMES = ("6 x Sports Massage", "10 x Pilates 1:1", "Post-op Rehab Bundle", "3 x Acupuncture")
CARE_PLAN_NAMES = ("Return to running", "Lower back rehab", "Post-op knee", "Shoulder mobility", "Falls prevention")
CARE_PLAN_STATUSES = ("active", "completed", "cancelled")
PATIENT_LOG_ACTIONS = (
    ("patient_created", "Patient record created"), ("details_updated", "Contact details updated"),
    ("appointment_booked", "Appointment booked online"), ("email_sent", "Appointment confirmation sent"),
    ("file_uploaded", "Attachment uploaded"), ("note_signed", "Clinical note finalised"),
)
FORM_NAMES = ("New Patient Intake", "Health Questionnaire", "Consent to Treatment", "PAR-Q")
FORM_QUESTIONS = (
    ("What brings you in today?", ("Back pain", "Knee injury", "Sports injury", "Check-up")),
    ("How did you hear about us?", ("Google", "Friend", "GP", "Instagram")),
    ("Any current medication?", ("None", "Ibuprofen", "Paracetamol", "Statins")),
    ("Do you consent to treatment?", ("Yes", "No")),
)
REMINDER_TYPES = ("appointment_confirmation", "follow_up_call", "recall", "payment_reminder", "review_request")
REMINDER_CHANNELS = ("sms", "email", "call")
USER_ROLES = ("admin", "receptionist", "billing")
EMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.co.uk", "icloud.com", "hotmail.co.uk", "btinternet.com")

# (name, description, trigger event, conditions, actions)
WORKFLOWS: tuple[tuple[str, str, str, list[dict], list[dict]], ...] = (
    (
        "New patient welcome", "Welcome email and intake form after the first booking", "patient.created",
        [{"field": "referral_source", "operator": "not_empty", "value": None}],
        [
            {"type": "send_email", "delay_minutes": 0, "template": "welcome", "target": "patient", "value": None},
            {"type": "wait", "delay_minutes": 1440, "template": None, "target": None, "value": None},
            {"type": "send_sms", "delay_minutes": 0, "template": "intake_form_link", "target": "patient", "value": None},
        ],
    ),
    (
        "Missed appointment follow-up", "Call patients who did not attend", "appointment.missed", [],
        [
            {"type": "create_task", "delay_minutes": 60, "template": "call_no_show", "target": "receptionist",
             "value": None},
            {"type": "update_field", "delay_minutes": 0, "template": None, "target": "patient_status",
             "value": "Active treatment"},
        ],
    ),
    (
        "Post-visit review request", "Ask for a review after a completed visit", "appointment.processed",
        [{"field": "appointment_type", "operator": "in", "value": ["Initial Assessment", "Discharge Review"]}],
        [{"type": "send_email", "delay_minutes": 2880, "template": "review_request", "target": "patient",
          "value": None}],
    ),
    (
        "Overdue invoice chase", "Remind, then alert billing", "invoice.overdue",
        [{"field": "total", "operator": "gt", "value": "0.00"}],
        [
            {"type": "send_email", "delay_minutes": 0, "template": "payment_reminder", "target": "patient",
             "value": None},
            {"type": "wait", "delay_minutes": 10080, "template": None, "target": None, "value": None},
            {"type": "notify_user", "delay_minutes": 0, "template": "invoice_still_overdue", "target": "billing",
             "value": None},
        ],
    ),
    (
        "Recall after discharge", "Six-month check-in", "care_plan.completed", [],
        [{"type": "send_sms", "delay_minutes": 259200, "template": "recall", "target": "patient", "value": None}],
    ),
    (
        "Cancellation backfill", "Offer the slot to the waitlist", "appointment.cancelled",
        [{"field": "start", "operator": "within_hours", "value": "48"}],
        [{"type": "notify_user", "delay_minutes": 0, "template": "slot_free", "target": "receptionist",
          "value": None}],
    ),
)

# Patient Library (assumed resource): documents and images a practice shares with patients.
LIBRARY_ASSETS: tuple[tuple[str, str, str, str], ...] = (
    ("Lower back exercise programme", "handout", "pdf", "application/pdf"),
    ("Knee rehab stretches", "exercise_sheet", "png", "image/png"),
    ("Posture at the desk", "image", "jpg", "image/jpeg"),
    ("Preparing for your first visit", "document", "pdf", "application/pdf"),
    ("Shoulder mobility routine", "exercise_sheet", "pdf", "application/pdf"),
    ("Ice and heat guidance", "document", "txt", "text/plain"),
    ("Return to running plan", "handout", "docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
)

# Prescriptions (assumed resource), sent to outside pharmacy integrations.
MEDICATIONS: tuple[tuple[str, str], ...] = (
    ("Ibuprofen 400 mg tablets", "Take one tablet three times a day with food for up to 7 days."),
    ("Naproxen 250 mg tablets", "Take one tablet twice a day with food."),
    ("Diclofenac 1% gel", "Apply a thin layer to the painful area up to four times a day."),
    ("Paracetamol 500 mg tablets", "Take two tablets up to four times a day; no more than 8 in 24 hours."),
    ("Knee support brace (medium)", "Wear during activity; remove at night."),
    ("Lumbar support cushion", "Use when seated for long periods."),
)
PHARMACIES: tuple[tuple[str, str], ...] = (
    ("Boots Online Pharmacy", "BOOTS"), ("Well Pharmacy", "WELL"), ("Pharmacy2U", "P2U"),
    ("LloydsPharmacy Online Doctor", "LLOYDS"),
)
PHARMACY_STATUSES = ("received", "in_progress", "ready_for_collection", "dispatched", "collected", "rejected")
