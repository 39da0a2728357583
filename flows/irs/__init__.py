"""The IRS files of a run or a filing: the Publication 1220 file or the IRIS transmissions written
(``transforms.irs``'s writers), checked and kept atomically (``files``)."""
