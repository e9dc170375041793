"""Where a model runs and how it is timed there: local CPU runtimes, and the self-contained on-device runner.

Knows nothing of DynaBERT training or plots; must not import dynabert (the runner's torch path loads
an extracted model through transformers, with the code saved beside its weights).
"""
