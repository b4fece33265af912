"""Training-free few-shot adaptation of a CLIP model's classifier: GDA, Tip-Adapter, prototypes, a linear probe."""

from .head import HEAD_CONFIG, HEAD_WEIGHTS, AdaptedHead
from .methods import GDA, LINEAR, METHODS, PROTO, TIP, Adapter, fit, fit_gda, gda_weight
from .select import fit_head

__all__ = [
    "GDA", "HEAD_CONFIG", "HEAD_WEIGHTS", "LINEAR", "METHODS", "PROTO", "TIP", "AdaptedHead", "Adapter", "fit",
    "fit_gda", "fit_head", "gda_weight",
]  # fmt: skip
