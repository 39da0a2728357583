"""The engine: the law's rules evaluated over whole frames, fast.

``legs``: every disbursement matched once with its participant, plan, payee and contract row,
split (§72(e)(8), Notice 2014-54) and coded (box 7), on threads; ``forms``: the legs grouped into
Forms 1099-R; ``explain``: the rule trace of each disbursement. The flows use :func:`compute`.
"""

from transforms.engine.legs import CodedLegs, EngineResult, compute, split_and_code, with_forms

__all__ = ["CodedLegs", "EngineResult", "compute", "split_and_code", "with_forms"]
