"""Every host step by name (the names the plan engine uses as host actions)."""
from __future__ import annotations

from .cluster_create import ClusterCreate
from .deps import Deps
from .dvdi import Dvdi
from .gateway import Gateway
from .mdm import Mdm
from .rexray import Rexray
from .sdc import Sdc
from .sds import Sds
from .uninstall import (UninstallDvdi, UninstallGateway, UninstallMdm, UninstallRexray, UninstallSdc,
                        UninstallSds)

STEPS = {cls.NAME: cls for cls in (
    Deps, Mdm, ClusterCreate, Gateway, Sds, Sdc, Rexray, Dvdi,
    UninstallDvdi, UninstallRexray, UninstallSdc, UninstallSds, UninstallGateway, UninstallMdm)}

__all__ = ["STEPS"]
