"""Where a model runs and how it is timed there: one RunRequest -> RunResult interface (request.py), one target
class per kind of device (targets.py), and the self-contained on-device runner (runner.py).

Knows nothing of DynaBERT training or plots; must not import dynabert (the runner's torch path loads
an extracted model through transformers, with the code saved beside its weights).
"""
