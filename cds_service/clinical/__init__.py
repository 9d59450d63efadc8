"""The pure clinical core: domain types, FHIR JSON readers, the lexicon, order detection, medication facts, dose."""
