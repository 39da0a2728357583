"""The law: the rules of Form 1099-R reporting, each a small function citing its authority.

``basis`` (§72(e)(8): the basis a draw recovers), ``allocation`` (Notice 2014-54: pre-tax money
first to direct rollovers), ``roth`` (§402A: qualified distributions), ``exceptions`` (§72(t):
the facts of the participant that decide the numeric code), ``codes`` (box 7), ``boxes`` (boxes
2a, 5, 10 and the foreign-source part), ``box7`` (the one cited table of codes and valid pairs),
``money`` (the rounding conventions), ``deadlines`` (the dates of the filing season).
"""
