"""The filing season over the year-to-date store: ``filings`` (prepare, approve, discard; corrections
and replacements), ``acks`` (the IRS's IRIS responses), ``review`` (the review report of a prepared
filing), ``status`` (the year at a glance)."""
