"""The training algorithms: Azure's names mapped to estimators, their search spaces and defaults.

Owns, per algorithm, how an estimator is built from a configuration, the Optuna search space,
a few low-cost default configurations tried before the search explores (strong defaults first:
LightGBM, XGBoost, ExtraTrees), whether a scaler is swept with it, and how boosted models stop
early on a validation fold and how many rounds their refit uses. Must not run searches or
touch processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

from lakeworks.core.automl import Task

SCALERS: dict[str, Callable[[], Any]] = {
    "StandardScaler": StandardScaler, "MinMaxScaler": MinMaxScaler,
    "MaxAbsScaler": MaxAbsScaler, "RobustScaler": RobustScaler,
}
#: Rounds without improvement before a boosted model stops on its validation fold.
PATIENCE = 50
MAX_ROUNDS = 2000
#: Leaves per tree of forests, bounding model size (and ONNX export time).
MAX_LEAVES = 2048


@dataclass(frozen=True)
class Context:
    """What a configuration is built for."""

    task: Task
    n_jobs: int
    seed: int
    rows: int
    classes: int


@dataclass(frozen=True)
class Learner:
    """One training algorithm (``name`` is Azure's REST name)."""

    name: str
    build: Callable[[dict[str, Any], Context], Any]
    space: Callable[[Context], dict[str, BaseDistribution]]
    defaults: Callable[[Context], list[dict[str, Any]]]
    scaled: bool = False
    boosted: bool = False


def _f(low: float, high: float, log: bool = False) -> FloatDistribution:
    return FloatDistribution(low, high, log=log)


def _i(low: int, high: int, log: bool = False) -> IntDistribution:
    return IntDistribution(low, high, log=log)


def _c(*choices: Any) -> CategoricalDistribution:
    return CategoricalDistribution(choices)


_SCALER = _c(*SCALERS)


def _classify(ctx: Context) -> bool:
    return ctx.task is Task.CLASSIFICATION


# -- gradient boosting ------------------------------------------------------------------------

def _lightgbm(p: dict[str, Any], ctx: Context) -> Any:
    import lightgbm as lgb

    cls = lgb.LGBMClassifier if _classify(ctx) else lgb.LGBMRegressor
    return cls(n_estimators=int(p.get("n_estimators", MAX_ROUNDS)),
               learning_rate=p["learning_rate"], num_leaves=p["num_leaves"],
               min_child_samples=p["min_child_samples"], subsample=p["subsample"],
               subsample_freq=1 if p["subsample"] < 1 else 0,
               colsample_bytree=p["colsample_bytree"], reg_lambda=p["reg_lambda"],
               reg_alpha=p["reg_alpha"], extra_trees=p["extra_trees"],
               n_jobs=ctx.n_jobs, random_state=ctx.seed, verbose=-1)


def _lightgbm_space(ctx: Context) -> dict[str, BaseDistribution]:
    return {"learning_rate": _f(0.01, 0.3, log=True), "num_leaves": _i(4, 256, log=True),
            "min_child_samples": _i(2, 100, log=True), "subsample": _f(0.5, 1.0),
            "colsample_bytree": _f(0.3, 1.0), "reg_lambda": _f(1e-3, 10.0, log=True),
            "reg_alpha": _f(1e-3, 10.0, log=True), "extra_trees": _c(False, True)}


def _lightgbm_defaults(ctx: Context) -> list[dict[str, Any]]:
    base = {"learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 20, "subsample": 1.0,
            "colsample_bytree": 1.0, "reg_lambda": 1e-3, "reg_alpha": 1e-3,
            "extra_trees": False}
    small = ctx.rows < 2000
    return [
        {**base, "num_leaves": 15 if small else 31, "min_child_samples": 10 if small else 20},
        {**base, "learning_rate": 0.03, "num_leaves": 128, "min_child_samples": 3,
         "colsample_bytree": 0.9},
        {**base, "extra_trees": True, "colsample_bytree": 0.8},
    ]


def _xgboost(p: dict[str, Any], ctx: Context) -> Any:
    import xgboost as xgb

    cls = xgb.XGBClassifier if _classify(ctx) else xgb.XGBRegressor
    return cls(n_estimators=int(p.get("n_estimators", MAX_ROUNDS)),
               learning_rate=p["learning_rate"], max_depth=p["max_depth"],
               min_child_weight=p["min_child_weight"], subsample=p["subsample"],
               colsample_bytree=p["colsample_bytree"], reg_lambda=p["reg_lambda"],
               reg_alpha=p["reg_alpha"], tree_method="hist", n_jobs=ctx.n_jobs,
               random_state=ctx.seed, verbosity=0)


def _xgboost_space(ctx: Context) -> dict[str, BaseDistribution]:
    return {"learning_rate": _f(0.01, 0.3, log=True), "max_depth": _i(2, 12),
            "min_child_weight": _f(0.5, 20.0, log=True), "subsample": _f(0.5, 1.0),
            "colsample_bytree": _f(0.3, 1.0), "reg_lambda": _f(1e-3, 10.0, log=True),
            "reg_alpha": _f(1e-3, 10.0, log=True)}


def _xgboost_defaults(ctx: Context) -> list[dict[str, Any]]:
    base = {"learning_rate": 0.05, "max_depth": 6, "min_child_weight": 1.0, "subsample": 0.8,
            "colsample_bytree": 0.8, "reg_lambda": 1.0, "reg_alpha": 1e-3}
    return [base, {**base, "max_depth": 3, "learning_rate": 0.1, "subsample": 1.0}]


def _gradient_boosting(p: dict[str, Any], ctx: Context) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

    cls = GradientBoostingClassifier if _classify(ctx) else GradientBoostingRegressor
    return cls(n_estimators=p["n_estimators"], learning_rate=p["learning_rate"],
               max_depth=p["max_depth"], subsample=p["subsample"],
               max_features=p["max_features"], random_state=ctx.seed)


def _gradient_boosting_space(ctx: Context) -> dict[str, BaseDistribution]:
    return {"n_estimators": _i(50, 400, log=True), "learning_rate": _f(0.01, 0.3, log=True),
            "max_depth": _i(2, 8), "subsample": _f(0.5, 1.0), "max_features": _f(0.3, 1.0)}


# -- forests and trees ------------------------------------------------------------------------

def _forest(extra: bool) -> Callable[[dict[str, Any], Context], Any]:
    def build(p: dict[str, Any], ctx: Context) -> Any:
        from sklearn import ensemble

        name = ("ExtraTrees" if extra else "RandomForest") + (
            "Classifier" if _classify(ctx) else "Regressor")
        return getattr(ensemble, name)(
            n_estimators=p["n_estimators"], max_features=p["max_features"],
            min_samples_leaf=p["min_samples_leaf"], max_leaf_nodes=MAX_LEAVES,
            n_jobs=ctx.n_jobs, random_state=ctx.seed)
    return build


def _forest_space(ctx: Context) -> dict[str, BaseDistribution]:
    return {"n_estimators": _i(32, 300, log=True), "max_features": _f(0.1, 1.0),
            "min_samples_leaf": _i(1, 32, log=True)}


def _forest_defaults(extra: bool) -> Callable[[Context], list[dict[str, Any]]]:
    def defaults(ctx: Context) -> list[dict[str, Any]]:
        features = (0.5 if extra else 0.3) if _classify(ctx) else (1.0 if extra else 0.5)
        trees = 200 if ctx.rows < 5000 else 100
        return [{"n_estimators": trees, "max_features": features, "min_samples_leaf": 1}]
    return defaults


def _decision_tree(p: dict[str, Any], ctx: Context) -> Any:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    cls = DecisionTreeClassifier if _classify(ctx) else DecisionTreeRegressor
    return cls(max_depth=p["max_depth"], min_samples_leaf=p["min_samples_leaf"],
               max_features=p["max_features"], random_state=ctx.seed)


def _decision_tree_space(ctx: Context) -> dict[str, BaseDistribution]:
    return {"max_depth": _i(2, 20), "min_samples_leaf": _i(1, 64, log=True),
            "max_features": _f(0.3, 1.0)}


# -- linear and neighbours --------------------------------------------------------------------

def _logistic(p: dict[str, Any], ctx: Context) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=p["C"], class_weight=p["class_weight"], max_iter=1000)


def _logistic_space(ctx: Context) -> dict[str, BaseDistribution]:
    return {"scaler": _SCALER, "C": _f(1e-3, 100.0, log=True),
            "class_weight": _c(None, "balanced")}


def _elastic_net(p: dict[str, Any], ctx: Context) -> Any:
    from sklearn.linear_model import ElasticNet

    return ElasticNet(alpha=p["alpha"], l1_ratio=p["l1_ratio"], max_iter=5000,
                      random_state=ctx.seed)


def _elastic_net_space(ctx: Context) -> dict[str, BaseDistribution]:
    return {"scaler": _SCALER, "alpha": _f(1e-4, 10.0, log=True), "l1_ratio": _f(0.0, 1.0)}


def _lasso_lars(p: dict[str, Any], ctx: Context) -> Any:
    from sklearn.linear_model import LassoLars

    return LassoLars(alpha=p["alpha"], random_state=ctx.seed)


def _lasso_lars_space(ctx: Context) -> dict[str, BaseDistribution]:
    return {"scaler": _SCALER, "alpha": _f(1e-5, 1.0, log=True)}


def _sgd(p: dict[str, Any], ctx: Context) -> Any:
    from sklearn.linear_model import SGDClassifier, SGDRegressor

    if _classify(ctx):
        return SGDClassifier(loss="log_loss", alpha=p["alpha"], penalty=p["penalty"],
                             max_iter=1000, tol=1e-3, random_state=ctx.seed)
    return SGDRegressor(loss=p["loss"], alpha=p["alpha"], penalty=p["penalty"],
                        max_iter=1000, tol=1e-3, random_state=ctx.seed)


def _sgd_space(ctx: Context) -> dict[str, BaseDistribution]:
    space = {"scaler": _c("StandardScaler", "MinMaxScaler", "RobustScaler"),
             "alpha": _f(1e-6, 1e-1, log=True), "penalty": _c("l2", "l1", "elasticnet")}
    if not _classify(ctx):
        space["loss"] = _c("squared_error", "huber")
    return space


def _knn(p: dict[str, Any], ctx: Context) -> Any:
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    cls = KNeighborsClassifier if _classify(ctx) else KNeighborsRegressor
    return cls(n_neighbors=p["n_neighbors"], weights=p["weights"], p=p["p"], n_jobs=ctx.n_jobs)


def _knn_space(ctx: Context) -> dict[str, BaseDistribution]:
    return {"scaler": _SCALER, "n_neighbors": _i(1, 50, log=True),
            "weights": _c("uniform", "distance"), "p": _c(1, 2)}


def _naive_bayes(multinomial: bool) -> Callable[[dict[str, Any], Context], Any]:
    def build(p: dict[str, Any], ctx: Context) -> Any:
        from sklearn.naive_bayes import BernoulliNB, MultinomialNB

        if multinomial:
            return MultinomialNB(alpha=p["alpha"])
        return BernoulliNB(alpha=p["alpha"], binarize=0.0)
    return build


def _nb_space(scaler: str) -> Callable[[Context], dict[str, BaseDistribution]]:
    def space(ctx: Context) -> dict[str, BaseDistribution]:
        return {"scaler": _c(scaler), "alpha": _f(1e-3, 10.0, log=True)}
    return space


def _svm(p: dict[str, Any], ctx: Context) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC

    return CalibratedClassifierCV(SVC(C=p["C"], gamma=p["gamma"], random_state=ctx.seed), cv=3)


def _svm_space(ctx: Context) -> dict[str, BaseDistribution]:
    return {"scaler": _c("StandardScaler", "RobustScaler"), "C": _f(1e-2, 100.0, log=True),
            "gamma": _c("scale", "auto")}


def _linear_svm(p: dict[str, Any], ctx: Context) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    return CalibratedClassifierCV(LinearSVC(C=p["C"], random_state=ctx.seed), cv=3)


def _linear_svm_space(ctx: Context) -> dict[str, BaseDistribution]:
    return {"scaler": _SCALER, "C": _f(1e-3, 100.0, log=True)}


def _middle(space: Callable[[Context], dict[str, BaseDistribution]]) -> Callable[
        [Context], list[dict[str, Any]]]:
    """One default: each parameter's geometric or plain middle, the first choice."""
    def defaults(ctx: Context) -> list[dict[str, Any]]:
        out: dict[str, Any] = {}
        for name, dist in space(ctx).items():
            if isinstance(dist, CategoricalDistribution):
                out[name] = dist.choices[0]
            elif isinstance(dist, FloatDistribution | IntDistribution):
                mid = (np.sqrt(dist.low * dist.high) if dist.log
                       else (dist.low + dist.high) / 2)
                out[name] = round(mid) if isinstance(dist, IntDistribution) else float(mid)
        return [out] if out else []
    return defaults


def _fixed(*configs: dict[str, Any]) -> Callable[[Context], list[dict[str, Any]]]:
    return lambda ctx: [dict(c) for c in configs]


_LEARNERS = [
    Learner("LightGBM", _lightgbm, _lightgbm_space, _lightgbm_defaults, boosted=True),
    Learner("XGBoostClassifier", _xgboost, _xgboost_space, _xgboost_defaults, boosted=True),
    Learner("XGBoostRegressor", _xgboost, _xgboost_space, _xgboost_defaults, boosted=True),
    Learner("ExtremeRandomTrees", _forest(True), _forest_space, _forest_defaults(True)),
    Learner("RandomForest", _forest(False), _forest_space, _forest_defaults(False)),
    Learner("LogisticRegression", _logistic, _logistic_space,
            _fixed({"scaler": "StandardScaler", "C": 1.0, "class_weight": None}), scaled=True),
    Learner("ElasticNet", _elastic_net, _elastic_net_space,
            _fixed({"scaler": "StandardScaler", "alpha": 0.01, "l1_ratio": 0.5}), scaled=True),
    Learner("KNN", _knn, _knn_space, _fixed({"scaler": "StandardScaler", "n_neighbors": 10,
                                               "weights": "distance", "p": 2}), scaled=True),
    Learner("SGD", _sgd, _sgd_space, _middle(_sgd_space), scaled=True),
    Learner("DecisionTree", _decision_tree, _decision_tree_space,
            _fixed({"max_depth": 8, "min_samples_leaf": 5, "max_features": 1.0})),
    Learner("LassoLars", _lasso_lars, _lasso_lars_space,
            _fixed({"scaler": "StandardScaler", "alpha": 1e-3}), scaled=True),
    Learner("MultinomialNaiveBayes", _naive_bayes(True), _nb_space("MinMaxScaler"),
            _middle(_nb_space("MinMaxScaler")), scaled=True),
    Learner("BernoulliNaiveBayes", _naive_bayes(False), _nb_space("StandardScaler"),
            _middle(_nb_space("StandardScaler")), scaled=True),
    Learner("GradientBoosting", _gradient_boosting, _gradient_boosting_space,
            _fixed({"n_estimators": 100, "learning_rate": 0.1, "max_depth": 3,
                    "subsample": 1.0, "max_features": 1.0})),
    Learner("LinearSVM", _linear_svm, _linear_svm_space,
            _fixed({"scaler": "StandardScaler", "C": 1.0}), scaled=True),
    Learner("SVM", _svm, _svm_space, _fixed({"scaler": "StandardScaler", "C": 1.0,
                                               "gamma": "scale"}), scaled=True),
]
#: Every implemented algorithm, in the order their defaults are tried (cheap, strong first).
LEARNERS: dict[str, Learner] = {learner.name: learner for learner in _LEARNERS}


def member(learner: Learner, params: dict[str, Any], ctx: Context) -> Any:
    """The estimator of a configuration, behind its scaler when the algorithm takes one."""
    model = learner.build(params, ctx)
    if learner.scaled:
        return Pipeline([("scale", SCALERS[params["scaler"]]()), ("model", model)])
    return model


def fit_member(learner: Learner, params: dict[str, Any], ctx: Context, X: np.ndarray,
               y: np.ndarray, weight: np.ndarray | None, X_val: np.ndarray | None = None,
               y_val: np.ndarray | None = None) -> tuple[Any, int | None]:
    """Fit a configuration; boosted models stop early on (``X_val``, ``y_val``) when given.

    Returns the fitted estimator and, for early-stopped models, the rounds kept.
    """
    est = member(learner, params, ctx)
    kwargs: dict[str, Any] = {}
    if weight is not None and learner.name != "KNN":
        key = "model__sample_weight" if learner.scaled else "sample_weight"
        kwargs[key] = weight
    if not learner.boosted or X_val is None or "n_estimators" in params:
        est.fit(X, y, **kwargs)
        return est, None
    if learner.name == "LightGBM":
        import lightgbm as lgb

        est.fit(X, y, eval_set=[(X_val, y_val)],
                callbacks=[lgb.early_stopping(PATIENCE, verbose=False)], **kwargs)
        return est, int(est.best_iteration_ or est.n_estimators)
    est.set_params(early_stopping_rounds=PATIENCE)
    est.fit(X, y, eval_set=[(X_val, y_val)], verbose=False, **kwargs)
    rounds = int(est.best_iteration) + 1
    return est, rounds
