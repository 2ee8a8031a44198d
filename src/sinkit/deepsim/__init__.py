"""DeepSIM (Vinker, Horwitz, Zabari, Hoshen, ICCV 2021): learn primitive -> image from one pair.

    from sinkit.deepsim import train, DeepSIM
    model = train("face.png", "face_edges.png", "fast", out_dir="runs/face")
    out = model.translate(sinkit.load_image("face_edges_edited.png"))
"""

from .config import PRESETS, DeepSIMConfig
from .model import DeepSIM, working_size
from .primitives import PrimitiveError, make_primitive
from .trainer import prepare_pair, train

__all__ = ["DeepSIM", "DeepSIMConfig", "PRESETS", "PrimitiveError", "make_primitive", "prepare_pair", "train", "working_size"]
