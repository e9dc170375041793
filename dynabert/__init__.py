"""DynaBERT: one BERT whose width and depth are chosen at run time, and its training (Hou et al., NeurIPS 2020).

Knows nothing of devices or plots. The names below are imported on first use (PEP 562), so `import dynabert.config`
(what the reports and the fast commands read) does not pay for torch and transformers.
"""

import sys
from importlib import import_module
from types import ModuleType

from dynabert import quiet

quiet.install()  # before transformers imports torchao: drops two known, harmless import-time messages

_EXPORTS = {  # public name -> the module that defines it
    "DEFAULT_DEPTHS": "config",
    "DEFAULT_WIDTHS": "config",
    "BertSize": "config",
    "SubnetSpec": "config",
    "default_grid": "config",
    "extract": "extract",
    "SubnetCost": "flops",
    "cost": "flops",
    "DynaBert": "model",
    "DynaOutput": "model",
    "bert_size": "model",
    "PRESETS": "presets",
    "load_model": "presets",
    "load_tokenizer": "presets",
    "PrunedBertConfig": "pruned",
    "PrunedBertForSequenceClassification": "pruned",
    "LayerwiseSpec": "subnet",
    "layer_plan": "subnet",
    "parse_subnet": "subnet",
}
__all__ = list(_EXPORTS)


class _Package(ModuleType):
    def __setattr__(self, name: str, value) -> None:
        # Loading the submodule dynabert.extract binds it to the package as `extract`; the public `extract` is the
        # function (as when this file imported it eagerly), so a submodule never shadows an exported name.
        if name in _EXPORTS and isinstance(value, ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'dynabert' has no attribute {name!r}")
    return getattr(import_module(f"dynabert.{_EXPORTS[name]}"), name)
