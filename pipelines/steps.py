"""The seven steps of a run, in order: a run counts its records, and records its errors, by step.
One list for the engine, the models, the API document and the admin (pure: no Django)."""

RECEIVE, INPUT, FILTER, CONSENT, TRANSFORMATION, OUTPUT, FINALIZE = range(7)
STEP_NAMES = ("Receive", "InputValidation", "Filter", "Consent", "Transformation", "OutputValidation", "Finalize")
