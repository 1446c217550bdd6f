"""leanops: the lean MLOps control plane for small teams.

import leanops
ws = leanops.Workspace.from_config()
"""

from leanops.errors import (
    AuthenticationError,
    BudgetExceeded,
    ConfigError,
    Conflict,
    IncompleteMetadata,
    IntegrityError,
    LeanopsError,
    NotFound,
    PolicyDenied,
    StoreUnavailable,
    ValidationError,
)
from leanops.policy import Resource, Role
from leanops.runs import start_run
from leanops.workspace import Workspace
from leanops.zones import Zone

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "BudgetExceeded",
    "ConfigError",
    "Conflict",
    "IncompleteMetadata",
    "IntegrityError",
    "LeanopsError",
    "NotFound",
    "PolicyDenied",
    "Resource",
    "Role",
    "StoreUnavailable",
    "ValidationError",
    "Workspace",
    "Zone",
    "__version__",
    "start_run",
]
