"""Kernels: generic polars machinery with no tax meaning, shared by the layers above.

``runs``: sums over runs of consecutive rows (a pool, an event, a contract's legs) read from
running sums; ``precision``: when Int64 products are exact and Int128 is not needed; ``tabulate``:
a function of a few small-domain columns evaluated once per combination of their values and read
back by position; ``keys``: several small integers packed into one sortable key, dense numbers of
distinct values. Row lookups by key are ``transforms.kernels.lookup`` (to join this package).
"""
