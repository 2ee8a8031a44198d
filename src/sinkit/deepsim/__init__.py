"""DeepSIM (Vinker, Horwitz, Zabari, Hoshen, ICCV 2021): learn primitive -> image from one pair.

    import sinkit
    from sinkit.deepsim import train

    model = train("face.png", "face_edges.png", "fast", primitive_kind="edges", out_dir="runs/face")
    out = model.translate(sinkit.load_image("face_edges_edited.png"))   # (1, 3, h, w) in [-1, 1]

(``sinkit.DeepSIM.train({"image": ..., "primitive": ...}, "fast")`` is the same through the
generic model interface.)
"""

from .config import PRESETS, DeepSIMConfig
from .model import DeepSIM, working_size
from .primitives import PrimitiveError, make_primitive
from .trainer import prepare_pair, train

__all__ = ["DeepSIM", "DeepSIMConfig", "PRESETS", "PrimitiveError", "make_primitive", "prepare_pair", "train", "working_size"]
