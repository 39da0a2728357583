"""IRIS: the A2A XML transmission of Form 1099-R (tax year 2026 on, and any transmission after FIRE
closes).

``iris_xml``: the writer (whole frame or payer group by payer group) and the record numbering
the IRS's acknowledgements refer to. Imports only from ``transforms.irs.shared`` and
``transforms.irs.grouped``, never from FIRE.
"""
