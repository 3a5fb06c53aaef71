"""Imports every domain's tables so the one metadata knows them all (migrations, tests)."""

from devices import models as devices_models
from ecg_relay import models as relay_models
from referral_engine import models as referral_models
from xinlian import models as platform_models
from xinlian.db import Base

metadata = Base.metadata

__all__ = ["devices_models", "metadata", "platform_models", "referral_models", "relay_models"]
