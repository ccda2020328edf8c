"""Gradient checks as a readable report: for each parameter (or op input), backward's gradient
against central finite differences in float64, with norms, errors and the worst element.

``chainrule.autograd.gradcheck`` answers yes or no; this module says where and by how much, for
a model's parameters or for one of a set of named ops (what ``chainrule gradcheck`` prints).

``checks`` compares and holds the records; ``models`` and ``ops`` are the two subjects.

Examples
--------
>>> from chainrule.gradcheck_report import op_report
>>> report = op_report("sigmoid")
>>> report.passed, [c.name for c in report.checks]
(True, ['x'])
"""

from chainrule.gradcheck_report.checks import ATOL as ATOL
from chainrule.gradcheck_report.checks import EPS as EPS
from chainrule.gradcheck_report.checks import RTOL as RTOL
from chainrule.gradcheck_report.checks import (
    GradcheckReport,
    ParameterCheck,
    check_parameters,
)
from chainrule.gradcheck_report.models import MODELS, model_report
from chainrule.gradcheck_report.ops import OPS, op_report
from chainrule.gradcheck_report.ops import OpCase as OpCase

# The names imported `as` themselves stay importable from here but are not in __all__.
__all__ = [
    "MODELS",
    "OPS",
    "GradcheckReport",
    "ParameterCheck",
    "check_parameters",
    "model_report",
    "op_report",
]
