"""Where ``SVMHead`` lived: ``head.joblib`` exports written before ``heads`` pickle it by this path, so it
stays importable here (an alias, not a second class). New code imports from ``heads``."""
from .heads import SVMHead, fit_svm_head, svm_pipeline  # noqa: F401 (old pickles name this module)
