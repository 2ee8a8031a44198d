"""The patch toolkit shared by the patch metrics and the training-free methods (GPNN, GPDM, patch diffusion).

* :mod:`~sinkit.core.patches.ops` -- patches as rows and back (unfold / fold with overlap
  averaging, gathering, folding a nearest-neighbour field without a patch matrix);
* :mod:`~sinkit.core.patches.nn` -- nearest-neighbour search (exact and chunked, or faiss),
  GPNN's completeness-normalised nearest neighbour, the closed-form patch denoiser;
* :mod:`~sinkit.core.patches.swd` -- sliced Wasserstein distance and GPDM's patch loss;
* :mod:`~sinkit.core.patches.pyramid` -- pyramid sizes of the patch methods.

Images are ``(B, C, H, W)`` float tensors in ``[-1, 1]``.
"""

from .nn import (
    DEFAULT_BLOCK_ELEMENTS,
    PatchIndex,
    exact_column_min,
    exact_completeness_nn,
    exact_kernel_regression,
    exact_knn,
    faiss_available,
    shortlist_completeness_nn,
    shortlist_kernel_regression,
)
from .ops import (
    check_patch_fits,
    extract_patches,
    fold_nearest,
    fold_patches,
    gather_patches,
    gaussian_patch_weights,
    patch_grid,
)
from .pyramid import fit_max_size, patch_pyramid
from .swd import patch_swd_loss, random_directions, resample_quantiles, sliced_wasserstein, sorted_projections

__all__ = [
    "DEFAULT_BLOCK_ELEMENTS",
    "PatchIndex",
    "check_patch_fits",
    "exact_column_min",
    "exact_completeness_nn",
    "exact_kernel_regression",
    "exact_knn",
    "extract_patches",
    "faiss_available",
    "fit_max_size",
    "fold_nearest",
    "fold_patches",
    "gather_patches",
    "gaussian_patch_weights",
    "patch_grid",
    "patch_pyramid",
    "patch_swd_loss",
    "random_directions",
    "resample_quantiles",
    "shortlist_completeness_nn",
    "shortlist_kernel_regression",
    "sliced_wasserstein",
    "sorted_projections",
]
