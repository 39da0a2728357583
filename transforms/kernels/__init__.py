"""Kernels: generic polars machinery with no tax meaning, shared by the layers above.

``lookup``: which row of a table each row of a frame refers to, by key; ``runs``: sums over runs
of consecutive rows (a pool, an event, a contract's legs) read from running sums; ``precision``:
when Int64 products are exact and Int128 is not needed; ``tabulate``: a function of a few
small-domain columns evaluated once per combination of their values and read back by position;
``dollars``: money as text; ``subset``: a row-wise function computed on the rows that need it
only, scattered into a default column.
"""
