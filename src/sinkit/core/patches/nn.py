"""Nearest-neighbour search among the patches of an image: exact (chunked) or approximate (faiss).

Everything works on squared Euclidean distances between patch rows
(``d2 = sum over the C * p * p entries``), and never holds an ``M x N`` matrix of
all query-key pairs: exact searches go through blocks of at most ``block_elements``
distances (``M_block x N_block``), so memory stays bounded for a 1024 px image.

* :func:`exact_knn` -- k nearest keys per query, chunked ``|q|^2 - 2 q.k + |k|^2``.
* :func:`exact_completeness_nn` -- GPNN's normalised nearest neighbour (Granot et al.,
  CVPR 2022, eq. 2): ``argmin_j d2(q_i, k_j) / (alpha + min_l d2(q_l, k_j))``.
* :func:`shortlist_completeness_nn` -- the same score restricted to a k-candidate
  shortlist per query, with the column minimum estimated from the shortlists
  (the approximate path for large images).
* :func:`exact_kernel_regression` -- the closed-form optimal denoiser of a patch set
  (Qiu, Kutulakos & Lindell, CVPR 2026, eq. 3): a softmax-weighted mean of all keys,
  computed with an online softmax over key blocks.
* :class:`PatchIndex` -- the patches of one image behind one ``search`` call; the
  approximate backends (optional extra ``faiss``: ``pip install sinkit[faiss]``)
  search the first principal components of the patches with an IVF index, whose
  coarse quantizer becomes an HNSW graph for very large images.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F

from .ops import check_patch_fits, extract_patches, patch_grid

__all__ = [
    "DEFAULT_BLOCK_ELEMENTS",
    "faiss_available",
    "exact_knn",
    "exact_column_min",
    "exact_completeness_nn",
    "shortlist_completeness_nn",
    "exact_kernel_regression",
    "shortlist_kernel_regression",
    "PatchIndex",
]

#: Largest distance block computed at once (64 Mi floats = 256 MiB in float32).
DEFAULT_BLOCK_ELEMENTS = 1 << 26

#: ``method="auto"``: exact search up to this many key patches.
EXACT_MAX_KEYS = 2048
#: ``method="auto"``: an HNSW coarse quantizer from this many key patches on.
HNSW_MIN_KEYS = 500_000


def faiss_available() -> bool:
    """True when the optional ``faiss`` extra (faiss-cpu) can be imported."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def _check_rows(queries: torch.Tensor, keys: torch.Tensor) -> None:
    if queries.dim() != 2 or keys.dim() != 2 or queries.shape[1] != keys.shape[1]:
        raise ValueError(f"expected (M, D) queries and (N, D) keys, got {tuple(queries.shape)} and {tuple(keys.shape)}")
    if keys.shape[0] == 0:
        raise ValueError("no keys to search")


def _rows_per_block(n_keys: int, block_elements: int) -> int:
    return max(1, block_elements // max(1, n_keys))


def _sq_dist_block(q: torch.Tensor, keys: torch.Tensor, keys_sq: torch.Tensor) -> torch.Tensor:
    """``(m, N)`` squared distances, clamped at 0 (round-off)."""
    return ((q * q).sum(1, keepdim=True) - 2 * q @ keys.T + keys_sq).clamp_min_(0)


def exact_knn(
    queries: torch.Tensor, keys: torch.Tensor, k: int = 1, *, block_elements: int = DEFAULT_BLOCK_ELEMENTS
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest keys of every query, exactly (chunked over queries).

    Args:
        queries: ``(M, D)``; keys: ``(N, D)``.
        k: neighbours per query (``<= N``).
        block_elements: at most this many distances are held at once.

    Returns:
        ``(d2, index)``, both ``(M, k)``, nearest first; ``d2`` squared Euclidean.

    Raises:
        ValueError: shapes disagree, or ``k`` is not in ``1..N``.
    """
    _check_rows(queries, keys)
    if not 1 <= k <= keys.shape[0]:
        raise ValueError(f"k must be in 1..{keys.shape[0]}, got {k}")
    keys_sq = (keys * keys).sum(1)
    out_d, out_i = [], []
    for q in queries.split(_rows_per_block(keys.shape[0], block_elements)):
        d2 = _sq_dist_block(q, keys, keys_sq)
        if k == 1:
            d, i = d2.min(dim=1, keepdim=True)
        else:
            d, i = d2.topk(k, dim=1, largest=False)
        out_d.append(d)
        out_i.append(i)
    return torch.cat(out_d), torch.cat(out_i)


def exact_column_min(queries: torch.Tensor, keys: torch.Tensor, *, block_elements: int = DEFAULT_BLOCK_ELEMENTS) -> torch.Tensor:
    """``min_i d2(q_i, k_j)`` for every key ``j``: ``(N,)`` (GPNN's normaliser)."""
    _check_rows(queries, keys)
    keys_sq = (keys * keys).sum(1)
    col = torch.full((keys.shape[0],), float("inf"), dtype=keys.dtype, device=keys.device)
    for q in queries.split(_rows_per_block(keys.shape[0], block_elements)):
        col = torch.minimum(col, _sq_dist_block(q, keys, keys_sq).min(dim=0).values)
    return col


def exact_completeness_nn(
    queries: torch.Tensor, keys: torch.Tensor, alpha: float, *, block_elements: int = DEFAULT_BLOCK_ELEMENTS
) -> torch.Tensor:
    """GPNN's normalised nearest neighbour of every query, exactly.

    ``NN(i) = argmin_j d2(q_i, k_j) / (alpha + min_l d2(q_l, k_j))`` (Granot et al.,
    eq. 2): a key that is already close to some query is penalised, which pushes the
    output to use all of the image's patches ("completeness").  ``alpha -> inf``
    gives the plain nearest neighbour.

    Args:
        queries: ``(M, D)``; keys: ``(N, D)``.
        alpha: in the units of ``d2`` (squared distance summed over the patch entries); > 0.
        block_elements: at most this many distances are held at once (two passes).

    Returns:
        ``(M,)`` key indices.
    """
    _check_rows(queries, keys)
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    if math.isinf(alpha):
        return exact_knn(queries, keys, 1, block_elements=block_elements)[1][:, 0]
    keys_sq = (keys * keys).sum(1)
    inv = 1.0 / (alpha + exact_column_min(queries, keys, block_elements=block_elements))
    out = []
    for q in queries.split(_rows_per_block(keys.shape[0], block_elements)):
        out.append((_sq_dist_block(q, keys, keys_sq) * inv).argmin(dim=1))
    return torch.cat(out)


def shortlist_completeness_nn(d2: torch.Tensor, index: torch.Tensor, alpha: float, num_keys: int) -> torch.Tensor:
    """GPNN's normalised score evaluated on a shortlist of candidates per query.

    The column minimum ``min_l d2(q_l, k_j)`` is estimated as the minimum over the
    queries whose shortlist contains key ``j`` (exact whenever the query nearest to
    ``k_j`` has ``k_j`` among its candidates; keys in no shortlist are never chosen,
    so their minimum is not needed).  With one candidate it is the plain nearest
    neighbour.

    Args:
        d2: ``(M, k)`` squared distances of the candidates; index: ``(M, k)`` their key indices.
        alpha: as for :func:`exact_completeness_nn`.
        num_keys: N.

    Returns:
        ``(M,)`` chosen key indices.
    """
    if index.shape[1] == 1 or math.isinf(alpha):
        return index.gather(1, d2.argmin(dim=1, keepdim=True))[:, 0]
    col = torch.full((num_keys,), float("inf"), dtype=d2.dtype, device=d2.device)
    col = col.scatter_reduce(0, index.reshape(-1), d2.reshape(-1), reduce="amin")
    score = d2 / (alpha + col[index])
    return index.gather(1, score.argmin(dim=1, keepdim=True))[:, 0]


def exact_kernel_regression(
    queries: torch.Tensor,
    keys: torch.Tensor,
    scale: float,
    sigma: float,
    *,
    values: torch.Tensor | None = None,
    block_elements: int = DEFAULT_BLOCK_ELEMENTS,
) -> torch.Tensor:
    """Posterior mean of clean patches given noisy ones, over ALL keys (the closed-form denoiser).

    ``x_hat(q) = sum_j w_j k_j``, ``w = softmax_j(-||q - scale * k_j||^2 / (2 sigma^2))``
    (Qiu et al., eq. 3; for ``x_t = scale * x + sigma * eps``).  The softmax runs
    online over key blocks (running maximum and sum), so no ``M x N`` matrix exists.

    Args:
        queries: ``(M, D)`` noisy patches; keys: ``(N, D)`` clean patches.
        scale: signal coefficient ``alpha_t`` (0 gives the mean of the keys).
        sigma: noise std ``sigma_t`` (> 0).
        values: ``(N, D')`` averaged instead of the keys (default: the keys).

    Returns:
        ``(M, D')`` estimates.
    """
    _check_rows(queries, keys)
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    values = keys if values is None else values
    if scale == 0:
        return values.mean(0, keepdim=True).expand(queries.shape[0], -1).clone()
    scaled = keys * scale
    sq = (scaled * scaled).sum(1)
    inv = 1.0 / (2.0 * sigma * sigma)
    n = keys.shape[0]
    key_block = min(n, max(1024, block_elements // 1024))
    rows = max(1, block_elements // key_block)
    out = []
    for q in queries.split(rows):
        m = torch.full((q.shape[0], 1), -float("inf"), dtype=q.dtype, device=q.device)
        s = torch.zeros_like(m)
        acc = torch.zeros(q.shape[0], values.shape[1], dtype=q.dtype, device=q.device)
        for start in range(0, n, key_block):
            stop = min(n, start + key_block)
            # ||q||^2 is constant per row and cancels in the softmax (Qiu et al. supp. eq. S31)
            logits = (2 * q @ scaled[start:stop].T - sq[start:stop]) * inv
            m_new = torch.maximum(m, logits.max(dim=1, keepdim=True).values)
            p = torch.exp(logits - m_new)
            corr = torch.exp(m - m_new)
            s = s * corr + p.sum(1, keepdim=True)
            acc = acc * corr + p @ values[start:stop]
            m = m_new
        out.append(acc / s)
    return torch.cat(out)


def shortlist_kernel_regression(
    queries: torch.Tensor, candidates: torch.Tensor, scale: float, sigma: float
) -> torch.Tensor:
    """The closed-form denoiser restricted to ``k`` candidate keys per query (the ANN variant).

    Distances to the candidates are exact (full patch dimension), as in the official
    ANN backend: ``||q - scale c||^2 = |q|^2 - 2 scale q.c + scale^2 |c|^2``.

    Args:
        queries: ``(M, D)``; candidates: ``(M, k, D)`` clean patches (e.g. the k nearest to ``q / scale``).

    Returns:
        ``(M, D)``.
    """
    cross = torch.bmm(candidates, queries[:, :, None])[:, :, 0]  # (M, k)
    d2 = (queries * queries).sum(1, keepdim=True) - 2 * scale * cross + scale * scale * (candidates * candidates).sum(-1)
    w = torch.softmax(-d2.clamp_min(0) / (2.0 * sigma * sigma), dim=1)
    return torch.bmm(w[:, None, :], candidates)[:, 0, :]


class PatchIndex:
    """Nearest-neighbour search among all ``p x p`` patches (stride 1) of one image.

    ``method``:

    * ``"exact"`` -- :func:`exact_knn` over the full patch rows (chunked);
    * ``"ivf"`` -- faiss ``IndexIVFFlat`` (``nlist = 2 sqrt(N)`` lists, ``nprobe`` probed)
      over the first ``dims`` principal components of the patches;
    * ``"hnsw"`` -- the same with an HNSW graph as coarse quantizer (``nlist = 4 sqrt(N)``),
      for very large images;
    * ``"auto"`` -- exact up to 2048 keys, ``ivf`` below 500k keys, ``hnsw`` above;
      exact when faiss is not installed.

    The projection onto the principal components is a convolution with ``dims``
    ``(C, p, p)`` filters, so neither the keys nor the queries are ever held as
    ``(N, C p^2)`` rows on the approximate path.  The components come from a
    seeded random sample of at most 20000 patches.  Distances returned by the
    approximate backends are measured in that subspace (98 % of the patch energy
    for 7x7 patches of Places50 photos with 32 components).

    Args:
        image: ``(1, C, H, W)`` source of the key patches.
        patch_size: patch side, px.
        method: see above.
        dims: principal components kept by the approximate backends.
        nprobe: inverted lists visited per query.
        seed: seed of the PCA sample and of faiss' k-means.
        block_elements: distance-block bound of the exact backend.

    Raises:
        ValueError: bad image, patch size or method; ImportError: faiss requested but missing.
    """

    METHODS = ("auto", "exact", "ivf", "hnsw")

    def __init__(
        self,
        image: torch.Tensor,
        patch_size: int,
        *,
        method: str = "auto",
        dims: int = 32,
        nprobe: int = 4,
        seed: int = 0,
        valid: torch.Tensor | None = None,
        block_elements: int = DEFAULT_BLOCK_ELEMENTS,
    ):
        if image.dim() != 4 or image.shape[0] != 1:
            raise ValueError(f"expected a (1, C, H, W) image, got shape {tuple(image.shape)}")
        if method not in self.METHODS:
            raise ValueError(f"unknown search method {method!r}; choose one of {', '.join(self.METHODS)}")
        check_patch_fits(image.shape, patch_size)
        self.image = image.float()
        self.patch_size = patch_size
        self.grid = patch_grid(image.shape, patch_size)
        self.num_keys = self.grid[0] * self.grid[1]
        self.dim = image.shape[1] * patch_size * patch_size
        self.block_elements = block_elements
        self.ids: torch.Tensor | None = None  # positions of the usable keys when ``valid`` excludes some
        if valid is not None:
            valid = valid.reshape(-1).bool()
            if valid.numel() != self.num_keys:
                raise ValueError(f"valid must have one entry per patch position ({self.num_keys}), got {valid.numel()}")
            if not valid.any():
                raise ValueError("no usable key patch: the mask covers every patch of the image")
            if not valid.all():
                self.ids = valid.nonzero()[:, 0]
        if method == "auto":
            if self.num_keys <= EXACT_MAX_KEYS or not faiss_available():
                method = "exact"
            else:
                method = "ivf" if self.num_keys < HNSW_MIN_KEYS else "hnsw"
        elif method != "exact" and not faiss_available():
            raise ImportError(f"search method {method!r} needs faiss: pip install 'sinkit[faiss]' (faiss-cpu)")
        self.method = method
        if method == "exact":
            keys = extract_patches(self.image, patch_size)[0]
            self.keys = (keys if self.ids is None else keys[self.ids]).contiguous()
            return
        self._build_faiss(min(dims, self.dim), nprobe, seed)

    # ----------------------------------------------------------------- approximate
    def _build_faiss(self, dims: int, nprobe: int, seed: int) -> None:
        import faiss

        gen = torch.Generator().manual_seed(seed)
        sample = torch.randperm(self.num_keys, generator=gen)[:20000]
        from .ops import gather_patches

        rows = gather_patches(self.image[0], sample, self.patch_size).double()
        mean = rows.mean(0)
        _, _, vh = torch.linalg.svd(rows - mean, full_matrices=False)
        comps = vh[:dims].float()  # (dims, D)
        c = self.image.shape[1]
        self.filters = comps.reshape(dims, c, self.patch_size, self.patch_size).contiguous()
        self.offset = (comps @ mean.float()).reshape(1, dims, 1, 1)
        keys = self.project(self.image)[0].numpy()
        n = self.num_keys
        # faiss' k-means wants >= 39 training points per list
        nlist = max(1, min(int((2 if self.method == "ivf" else 4) * math.sqrt(n)), n // 40))
        factory = f"IVF{nlist},Flat" if self.method == "ivf" else f"IVF{nlist}_HNSW32,Flat"
        faiss.omp_set_num_threads(max(1, torch.get_num_threads()))
        index = faiss.index_factory(dims, factory)
        train = keys
        if n > 64 * nlist:  # k-means needs ~40 points per list; more only costs time
            train = keys[torch.randperm(n, generator=gen)[: 64 * nlist].numpy()]
        ivf = faiss.extract_index_ivf(index)
        ivf.cp.seed = seed  # k-means initialisation: reproducible indexes
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            index.train(train)
        if self.ids is None:
            index.add(keys)
        else:
            index.add_with_ids(keys[self.ids.numpy()], self.ids.numpy().astype("int64"))
        ivf.nprobe = nprobe
        self.index = index
        self.nlist = nlist

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Principal-component coordinates of every patch of ``x``: ``(B, L, dims)`` float32."""
        proj = F.conv2d(x.float(), self.filters) - self.offset
        return proj.flatten(2).transpose(1, 2).contiguous()

    # ----------------------------------------------------------------- search
    def search(self, x: torch.Tensor, k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` nearest key patches of every patch (stride 1) of every image in ``x``.

        Args:
            x: ``(B, C, h, w)`` query images (any size holding one patch).
            k: neighbours per query.

        Returns:
            ``(d2, index)``, both ``(B, L, k)``: squared distances (in the PCA
            subspace on the approximate backends) and key positions (row-major over
            the key image's patch grid, as :func:`~sinkit.core.patches.ops.gather_patches`
            and :func:`~sinkit.core.patches.ops.fold_nearest` take them).
        """
        if x.dim() != 4 or x.shape[1] != self.image.shape[1]:
            raise ValueError(f"expected (B, {self.image.shape[1]}, H, W) queries, got shape {tuple(x.shape)}")
        check_patch_fits(x.shape, self.patch_size, "query image")
        k = min(k, self.num_keys)
        if self.method == "exact":
            ds, ids = [], []
            for b in range(x.shape[0]):
                q = extract_patches(x[b : b + 1].float(), self.patch_size)[0]
                d, i = exact_knn(q, self.keys, min(k, self.keys.shape[0]), block_elements=self.block_elements)
                ds.append(d)
                ids.append(i if self.ids is None else self.ids[i])
            return torch.stack(ds), torch.stack(ids)
        import faiss

        faiss.omp_set_num_threads(max(1, torch.get_num_threads()))
        q = self.project(x)
        b, length, dims = q.shape
        d, i = self.index.search(q.reshape(-1, dims).numpy(), k)
        d, i = torch.from_numpy(d), torch.from_numpy(i)
        missing = i < 0  # an IVF probe can return fewer than k hits
        if missing.any():
            i = torch.where(missing, i[:, :1].clamp_min(0), i)
            d = torch.where(missing, torch.full_like(d, float("inf")), d)
        return d.reshape(b, length, k), i.reshape(b, length, k)

    def completeness_nn(self, x: torch.Tensor, alpha: float, shortlist: int = 8) -> torch.Tensor:
        """GPNN's normalised nearest neighbour of every patch of every image in ``x``: ``(B, L)`` key positions.

        Exact backend: :func:`exact_completeness_nn` over all keys, with the column
        minimum taken over each image's own queries.  Approximate backends: the
        ``shortlist`` nearest candidates re-ranked by :func:`shortlist_completeness_nn`.

        Args:
            x: ``(B, C, h, w)`` query images.
            alpha: in the units of the squared distance summed over the patch entries; ``inf``
                for the plain nearest neighbour.
            shortlist: candidates per query on the approximate backends.
        """
        out = []
        if self.method == "exact":
            for b in range(x.shape[0]):
                q = extract_patches(x[b : b + 1].float(), self.patch_size)[0]
                i = exact_completeness_nn(q, self.keys, alpha, block_elements=self.block_elements)
                out.append(i if self.ids is None else self.ids[i])
            return torch.stack(out)
        d2, cand = self.search(x, shortlist)
        for b in range(x.shape[0]):
            out.append(shortlist_completeness_nn(d2[b], cand[b], alpha, self.num_keys))
        return torch.stack(out)
