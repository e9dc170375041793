"""DynaBERT: one BERT whose width and depth are chosen at run time, and its training (Hou et al., NeurIPS 2020).

Knows nothing of devices or plots.
"""

from dynabert import quiet

quiet.install()  # before transformers imports torchao: drops two known, harmless import-time messages

from dynabert.config import DEFAULT_DEPTHS, DEFAULT_WIDTHS, BertSize, SubnetSpec, default_grid
from dynabert.extract import extract
from dynabert.flops import SubnetCost, cost
from dynabert.model import DynaBert, DynaOutput, bert_size
from dynabert.presets import PRESETS, load_model, load_tokenizer
from dynabert.pruned import PrunedBertConfig, PrunedBertForSequenceClassification
from dynabert.subnet import LayerwiseSpec, layer_plan, parse_subnet

__all__ = ["DEFAULT_DEPTHS", "DEFAULT_WIDTHS", "BertSize", "SubnetSpec", "default_grid", "extract", "SubnetCost",
           "cost", "DynaBert", "DynaOutput", "bert_size", "PRESETS", "load_model", "load_tokenizer",
           "PrunedBertConfig", "PrunedBertForSequenceClassification", "LayerwiseSpec", "layer_plan",
           "parse_subnet"]
