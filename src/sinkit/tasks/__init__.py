"""Image manipulation with a trained model (SinGAN sec. 4; SinIR sec. 3.3).

Every task injects an image into the pyramid at some scale and runs the finer
generators (:func:`inject`); each module adds only its pre- and
post-processing.  All functions take any
:class:`~sinkit.core.capabilities.Injectable` model (SinGAN, SinIR...); a model
without the capability a task needs gets a clear :class:`~sinkit.core.errors.CapabilityError`.

Example::

    import sinkit
    from sinkit.tasks import harmonize
    model = sinkit.load("runs/scream")
    out = harmonize(model, sinkit.load_image("scream_naive.jpg"), 3,
                    mask=sinkit.load_mask("scream_naive_mask.jpg"), generator=0)
    sinkit.save_image(out.blended, "harmonized.png")
"""

from .animation import VideoWriterUnavailable, animate, check_animation_output, random_walk, save_animation
from .edit import BlendResult, edit, harmonize
from .inject import fit_to_model, inject, injection_sweep
from .masks import InputAdjustedWarning, blend, prepare_mask
from .paint import paint_to_image, quantize_paint
from .sr import sr_steps, upscale

__all__ = [
    "BlendResult",
    "InputAdjustedWarning",
    "VideoWriterUnavailable",
    "animate",
    "blend",
    "edit",
    "fit_to_model",
    "harmonize",
    "inject",
    "injection_sweep",
    "paint_to_image",
    "prepare_mask",
    "quantize_paint",
    "random_walk",
    "save_animation",
    "check_animation_output",
    "sr_steps",
    "upscale",
]
