"""I/O: what prorata reads and writes on disk, and nothing else.

``extract``: an extract read and validated whole or partition by partition; ``outputs``: atomic
output folders (staged, checked, swapped into place); ``store``: the year-to-date Delta store and
its tables; ``history``: the store's append-only history; ``iris_package``: the IRS's IRIS schema
package, found and loaded once.
"""
