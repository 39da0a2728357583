"""FIRE: the Publication 1220 file of Form 1099-R (tax years up to 2025, while FIRE is open).

``pub1220``: the writer (record layouts declared once, as data; whole frame or payer group by payer
group); ``pub1220_reader``: the reader and field-rule checker every file is read back by before it
is kept. Imports only from ``transforms.irs.shared`` and ``transforms.irs.grouped``: FIRE retires
at the end of 2026 and this package can then be deleted without touching IRIS.
"""
