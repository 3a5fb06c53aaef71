"""The message catalogue covers every flag code, role, state and template key in both languages."""

from __future__ import annotations

import re
from pathlib import Path

from ecg_relay.analysis.result import FLAG_CODES
from referral_engine.states import State, Step
from xinlian.i18n import MESSAGES, t
from xinlian.models import Role

TEMPLATES = Path(__file__).resolve().parents[2] / "platform" / "xinlian" / "templates"


def test_every_flag_role_state_and_step_has_both_languages() -> None:
    """No user ever sees a raw code: each has a Chinese and an English text."""
    keys = (
        [f"flag.{c}" for c in FLAG_CODES]
        + [f"role.{r.value}" for r in Role]
        + [f"state.{s.value}" for s in State]
        + [f"step.{s.value}" for s in Step]
    )
    missing = [k for k in keys if k not in MESSAGES]
    assert missing == []
    for k in keys:
        zh, en = MESSAGES[k]
        assert zh and en and zh != en


def test_every_literal_template_key_exists() -> None:
    """t('...') calls in the templates name keys of the catalogue."""
    used = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"t\('([a-z0-9_.]+)'\)", path.read_text(encoding="utf-8")))
    assert used, "no template keys found"
    assert sorted(k for k in used if k not in MESSAGES) == []


def test_missing_key_is_visible_not_a_crash() -> None:
    """An unknown key renders as itself; English is chosen by 'en'."""
    assert t("no.such.key") == "no.such.key"
    assert t("login.title", "en") == "Log in" and t("login.title") == "登录"
