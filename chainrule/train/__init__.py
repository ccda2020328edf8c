"""Training on the bundled data: the models (an MLP for any of the datasets, a small CNN for the
digits), a flat training loop ``fit`` that returns a per-epoch History, ``evaluate``, and the
progress bar and curves that ``chainrule train`` shows.

One concept per file: ``data`` (the bundled datasets), ``models``, ``optimizers`` (and
schedules), ``history`` (EpochRecord, History), ``loop`` (fit, evaluate, divergence),
``run`` (TrainConfig, train), ``checkpoints``, ``progress`` and ``curves``; every name is
re-exported here.

Examples
--------
>>> import chainrule as cr
>>> from chainrule.train import build_model, fit, load_data
>>> data = load_data("xor")
>>> _ = cr.manual_seed(0)
>>> history = fit(build_model("xor", "mlp"), data.train, data.test, epochs=150, batch_size=4,
...               lr=0.05, seed=0)
>>> history.final.test_accuracy
1.0
"""

from chainrule.train.checkpoints import CONFIG_KEY as CONFIG_KEY
from chainrule.train.checkpoints import EPOCHS_KEY as EPOCHS_KEY
from chainrule.train.checkpoints import RUN_KEY as RUN_KEY
from chainrule.train.checkpoints import (
    Checkpoint,
    CheckpointMismatchError,
    load_checkpoint,
    optimizer_path,
    save_checkpoint,
)
from chainrule.train.curves import history_figure
from chainrule.train.data import DATASETS, Data, load_data
from chainrule.train.history import EpochRecord, History
from chainrule.train.loop import (
    DIVERGENCE_FACTOR,
    TrainingDivergedError,
    evaluate,
    fit,
    run_epoch,
)
from chainrule.train.loop import BatchCallback as BatchCallback
from chainrule.train.loop import training_step as training_step
from chainrule.train.models import HIDDEN as HIDDEN
from chainrule.train.models import MODELS, build_model, digits_cnn, mlp_for
from chainrule.train.optimizers import OPTIMIZERS, SCHEDULES, make_optimizer, make_scheduler
from chainrule.train.progress import ProgressBar
from chainrule.train.run import DEFAULTS, TrainConfig, train
from chainrule.train.run import SGD_LR_FACTOR as SGD_LR_FACTOR

# The names imported `as` themselves stay importable from here but are not in __all__.
__all__ = [
    "DATASETS",
    "DEFAULTS",
    "MODELS",
    "OPTIMIZERS",
    "SCHEDULES",
    "DIVERGENCE_FACTOR",
    "Checkpoint",
    "CheckpointMismatchError",
    "Data",
    "EpochRecord",
    "History",
    "ProgressBar",
    "TrainConfig",
    "TrainingDivergedError",
    "build_model",
    "digits_cnn",
    "evaluate",
    "fit",
    "history_figure",
    "load_checkpoint",
    "load_data",
    "make_optimizer",
    "make_scheduler",
    "mlp_for",
    "optimizer_path",
    "run_epoch",
    "save_checkpoint",
    "train",
]
