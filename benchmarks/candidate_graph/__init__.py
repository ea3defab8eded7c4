"""A trial of issue 42 ("segment with time"), kept out of the package until it beats today's
tracker: competing segmentations per frame (``candidates``), links between them (``graph``),
one integer program over the sequence (``program``), and its costs set by hand or learned from
a sequence's TRA markers and man_track.txt (``learn``). ``benchmarks/bench_candidates.py``
runs it against today's pipeline; docs/tracking.md has what it measured.
"""
