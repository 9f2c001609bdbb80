"""The parts of the estimators' docstrings that the classifier and the regressor share."""

__all__ = ["ATTRIBUTES_DOC", "FIT_DOC", "PARAMS_DOC"]

# What both estimators' fit and predict do, for their class docstrings.
FIT_DOC = """    ``fit`` is one skorch training run: it trains the dense network (stopped as
    scikit-learn's MLP stops, on a held-out validation score by default), then
    prunes it to ``sparsity`` with elimination-compensation (ECP's ranking, the
    kept weights and biases refit to the dense layer's output) in a few events
    interleaved with fine-tuning, the pruned weights held at zero. The history
    says each epoch's ``phase`` and the ``sparsity`` each pruning event reached.
    ``predict`` runs the pruned network sparse where that is faster. Takes 1-D or
    2-D ``y`` and predicts the same shape.
"""

PARAMS_DOC = """
    module : torch.nn.Module class or instance, default=None
        The network. ``None`` builds an :class:`MLPModule` from
        ``hidden_layer_sizes`` and ``activation``, sized from the data at fit.
        A user module must consist of ``nn.Linear`` layers (and activations);
        its Linear layers are pruned.
    hidden_layer_sizes : tuple of int, default=(100,)
        Width of each hidden layer of the default module.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Activation of the default module's hidden layers.
    sparsity : float in [0, 1), default=0.8
        Fraction of the weights of the Linear layers at zero after ``fit``
        (exactly ``round(sparsity * n_weights)`` with ``pruning_unit="weight"``).
        Biases are not pruned and do not count. ``0`` trains a dense network and
        leaves it untouched.
    pruning : str, PruningMethod instance or class, default="ecp-cg"
        The pruning criterion: a key of :data:`~sklearn_ecprune.PRUNING_METHODS`,
        or a :class:`~sklearn_ecprune.PruningMethod` (an instance or class travels to
        worker processes by pickle, without registration).
        The default ``"ecp-cg"`` ranks weights by ECP, then refits each row's
        kept weights and bias to the dense layer's output by a few
        conjugate-gradient steps; ``"ecp-ls"`` solves the same refit exactly, at
        many times the cost. ``"ecp"`` is the paper's method (bias shift only);
        ``"ecp-obs"`` ranks by the error left after the refit; ``"magnitude"``,
        ``"gradient"``, ``"obd"``, ``"wanda"``, ``"random"`` and ``"nonlinear"``
        are the baselines.
    scope : {"global", "layer"}, default="global"
        One threshold across layers, or the same ratio in every layer.
    n_steps : int, default=10
        Steps of the geometric schedule of a one-shot prune (the statistics are
        recomputed on the partly pruned network at each step), used with
        ``pruning_schedule="before"`` or ``fine_tune_epochs=0``. The interleaved
        schedule prunes in one step per event instead.
    compensate : bool or None, default=None
        Shift the biases to compensate removed weights; ``None`` uses the
        method's default (on for the ECP methods). The refitting methods
        (``"ecp-cg"``, ``"ecp-ls"``, ``"ecp-obs"``) always compensate through their
        refit, and reject ``False``.
    pruning_params : dict or None, default=None
        Options of :func:`~sklearn_ecprune.prune_mlp` that have no parameter of
        their own here: ``min_density``, ``sequential``, ``ridge``,
        ``cg_iterations``, ``batch_size`` and ``output_fn``. For example
        ``pruning_params={"min_density": 0.02}``. With ``pruning_unit="neuron"``
        only ``batch_size`` and ``output_fn`` apply (others are an error).
    pruning_unit : {"weight", "neuron"}, default="weight"
        ``"weight"`` prunes single weights. ``"neuron"`` removes whole hidden
        neurons (ECP's neuron score: the error left after shifting the next
        layer's biases) until ``sparsity`` of the dense weights are gone, giving a
        smaller dense network (``hidden_layer_sizes_``); ``pruning`` must then be
        an ``"ecp"`` method and ``scope`` ``"global"``.
    pruning_schedule : {"interleaved", "before"}, default="interleaved"
        When the pruning happens relative to fine-tuning. ``"interleaved"``: three
        pruning events at the starts of epochs spread over the first third of the
        fine-tuning, to cubic targets ``sparsity * (1 - (1 - j/3)**3)`` (Zhu &
        Gupta's schedule), each one step of ``pruning`` on at most 512
        calibration rows and followed by masked training. ``"before"``: one prune
        of ``n_steps`` steps, then the fine-tuning. With ``fine_tune_epochs=0``
        both prune once, after the dense training.
    fine_tune_epochs : int or "auto", default="auto"
        Epochs of training after (and during) pruning, with the pruned weights
        held at zero, on all the training rows and with a fresh optimizer.
        ``"auto"``: a fifth of the epochs the dense training ran up to a sparsity
        of 0.9, growing with the share of weights removed above it (two fifths at
        0.95, as many as the dense training at 0.98), at least 2.
        ``0``: prune only (one shot, ``n_steps`` steps).
    calibration_size : int or None, default=2048
        Most training samples used for the pruning statistics (a seeded
        subsample); ``None`` uses all. Interleaved events use at most 512.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the shuffling, the validation split and the
        calibration subsample, each with its own ``torch.Generator``: two fits with
        the same integer give identical predictions, also in parallel threads,
        processes and dask workers, and torch's global random state is neither
        used nor changed (a user's ``module`` class is built under torch's global
        seed, restored afterwards).
    memory : str, path, joblib.Memory or None, default=None
        Cache the dense phase of ``fit`` on disk, as ``Pipeline(memory=...)``
        does for transformers: ``None`` caches nothing; a directory or a
        :class:`joblib.Memory` stores, per content hash of the training
        parameters, data and seed, the trained dense network (weights, optimizer
        state, history, random generators). A later fit that differs only in
        ``sparsity``, ``pruning``, ``scope``, ``n_steps``, ``compensate``,
        ``pruning_params``, ``pruning_unit``, ``pruning_schedule``,
        ``fine_tune_epochs``, ``calibration_size``, ``inference``, ``memory`` or
        ``verbose`` restores it instead of training again, with a result
        identical to training again. Needs a ``random_state`` (a fit without one
        is never the same twice). Workers that share the directory (``n_jobs``,
        dask on one machine) share the cache. Callbacks do not run in the dense
        phase of a fit served from the cache.
    inference : {"auto", "dense", "sparse"}, default="auto"
        The network that ``predict`` runs after ``fit``: ``"auto"`` removes the
        hidden neurons that pruning left constant and stores each layer sparse
        enough to gain (at most 12 % of its weights kept with one torch thread,
        8 % with two; half that for small layers) as CSR, multiplied by scipy;
        ``"dense"`` runs the masked dense network; ``"sparse"`` stores every layer
        as CSR. All three predict the same within float32 round-off.
    alpha : float >= 0, default=1e-4
        L2 penalty on the weights (not the biases) during training, scaled as
        in scikit-learn's MLP: ``alpha / 2 * ||W||^2`` divided by the batch's
        (weighted) sample count.
    early_stopping : bool or "auto", default="auto"
        Hold out ``validation_fraction`` of the training rows (stratified for
        classifiers, as scikit-learn does) for the whole fit, stop the dense
        training when the validation score (accuracy, or R^2) has not improved by
        ``tol`` for ``n_iter_no_change`` epochs, as scikit-learn's MLP does, and
        restore the best epoch's weights (of epochs with the same score, the one
        with the lowest validation loss); after the last pruning event,
        fine-tuning stops by the same rule and ends on its best epoch.
        ``True`` is scikit-learn's: a split it cannot make (fewer than two
        validation rows, a class with a single row) and ``partial_fit`` raise a
        ``ValueError``. ``"auto"`` holds out where ``True`` would succeed with a
        validation set of at least 30 rows (on fewer the validation score
        moves in steps too coarse to stop on), and otherwise trains on all rows
        as ``False`` does, stopping on the training loss; ``partial_fit`` never
        holds rows out. With ``solver="lbfgs"`` or a ``train_split`` there is no
        hold-out.
    validation_fraction : float in (0, 1), default=0.1
        Share of the training rows held out by ``early_stopping``.
    tol : float, default=1e-4
        Training stops when the validation score (with ``early_stopping``) or
        the training loss has not improved by ``tol`` for ``n_iter_no_change``
        epochs, as in scikit-learn's MLP. Reaching ``max_epochs`` first raises a
        :class:`~sklearn.exceptions.ConvergenceWarning`.
    n_iter_no_change : int, default=10
        Patience of the stopping rule, in epochs.
    criterion : torch loss class or None, default=None
        The training loss; ``None`` means ``{criterion}``.
    optimizer : torch optimizer class, default=torch.optim.Adam
        The optimizer; its options are routed with ``optimizer__*``.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=200
        Most epochs of dense training (fine-tuning comes on top).
    batch_size : int or "auto", default=200
        Mini-batch size; ``-1`` trains on all rows in one batch; ``"auto"`` is
        scikit-learn's ``min(200, n_samples)``.
    train_split : callable or None, default=None
        skorch's validation split (e.g. ``skorch.dataset.ValidSplit(5)``), used
        for the whole fit instead of ``early_stopping``'s hold-out; ``None``
        leaves the split to ``early_stopping``.
    callbacks : list or None, default=None
        Extra skorch callbacks. A fit is one training run: they are initialised
        once, see one ``on_train_begin`` and one ``on_train_end``, and every
        epoch of both phases (``net.history[-1, "phase"]`` says which). A
        callback that monitors a ``valid_*`` key in a fit without a validation
        set is an error at the start of ``fit``; one that ends the run (skorch's
        ``EarlyStopping``) ends the fit, which then prunes in one shot if the
        pruning had not finished.
    verbose : int, default=0
        Print skorch's epoch table and the pruning report.
    warm_start : bool, default=False
        Let ``fit`` continue from the fitted (pruned) network, keeping its masks.
    device : str, default="cpu"
        Torch device to train and predict on.
    iterator_train, iterator_valid, dataset, predict_nonlinearity, compile, \
use_caching, torch_load_kwargs
        As in skorch. In-memory data with the default ``dataset`` and a plain
        ``DataLoader`` are turned into tensors once per fit and gathered a batch
        at a time (``iterator_train__batch_size``, ``__shuffle`` and
        ``__drop_last`` apply as in skorch).
    max_iter, learning_rate_init, solver, learning_rate, power_t, momentum, \
nesterovs_momentum, beta_1, beta_2, epsilon, shuffle, max_fun
        scikit-learn's MLP parameters, with their meaning there. ``max_iter`` and
        ``learning_rate_init`` (default ``None``), when given, take precedence over
        ``max_epochs`` and ``lr``; ``solver`` (default ``None``: ``optimizer``
        decides) picks Adam (with ``beta_1``, ``beta_2``, ``epsilon``) or SGD (with
        ``momentum``, ``nesterovs_momentum``, and ``learning_rate``'s
        ``"invscaling"`` (``power_t``) or ``"adaptive"`` schedule); ``"lbfgs"`` is an
        error. ``shuffle`` shuffles the training batches. ``max_fun`` is accepted and
        unused (lbfgs only).
    n_threads : int or "auto", default="auto"
        torch's intra-op threads during ``fit`` and ``predict``, the caller's
        setting restored afterwards. ``"auto"`` uses one thread when a batch's
        products are small (under 4 million multiply-adds: rows times weights,
        where threads were measured to gain nothing and to cost many times over
        on busy cores) and torch's own setting otherwise; an integer is used as
        it is.
    **kwargs
        skorch's routed parameters: ``module__*``, ``optimizer__*``,
        ``iterator_train__*``, ``callbacks__*`` and so on.
"""

ATTRIBUTES_DOC = """
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features, when X was a DataFrame with string column names.
    masks_ : dict of str to torch.Tensor
        Per pruned layer name, the boolean keep-mask of its weight.
    sparsity_ : float
        Achieved sparsity, counted on the final weights.
    pruning_report_ : PruningReport
        Per-layer table of the pruning (prints as a table, ``.to_frame()``); after
        interleaved events, the final layers and the bias shifts summed over the
        events.
    module_ : torch.nn.Module
        The trained and pruned network.
    history_ : skorch.History
        skorch's training history of the fit's one run: each epoch's ``phase``
        (``"dense"``, ``"fine_tune"`` or ``"partial_fit"``) and, at the epochs
        that start with a pruning event, the ``sparsity`` it reached.
    loss_curve_ : list of float
        Training loss of every dense epoch (and ``partial_fit`` epoch), as in
        scikit-learn's MLP; the fine-tuning's are in ``history_``.
    validation_scores_ : list of float or None
        Validation score (accuracy, or R^2) of those epochs with a validation
        set; None without one.
    best_validation_score_ : float or None
        Best of ``validation_scores_``.
    best_loss_ : float or None
        Lowest of ``loss_curve_``; None when early stopping watches a validation
        set.
    n_iter_ : int
        Training epochs of the last fit, as scikit-learn counts them: the dense
        epochs of the last ``fit`` (of a warm start too), 1 after ``partial_fit``.
    n_fine_tune_iter_ : int
        Fine-tuning epochs of the last fit (0 after ``partial_fit``).
    t_ : int
        Training samples seen in all (the rows of every training batch).
    loss_ : float
        The training loss of the last epoch.
    coefs_, intercepts_ : list of ndarray
        Weights, ``coefs_[i]`` of shape (n_in, n_out), and biases per layer, as in
        scikit-learn's MLP.
    n_layers_ : int
        Layers, input and output included.
    hidden_layer_sizes_ : tuple of int
        Hidden widths of the fitted network (smaller after ``pruning_unit="neuron"``).
    out_activation_ : str
        ``"softmax"`` for the classifier, ``"identity"`` for the regressor.
"""
