"""The green-channel state machine."""

from __future__ import annotations

import pytest

from referral_engine.states import (
    TERMINAL,
    InvalidTransition,
    State,
    Step,
    allowed_steps,
    next_state,
)


def test_full_path_reaches_admitted() -> None:
    """Open → confirm → depart → arrive → admit is the normal green channel."""
    state = State.OPENED
    for step in (Step.CONFIRM, Step.DEPART, Step.ARRIVE, Step.ADMIT):
        state = next_state(state, step)
    assert state is State.ADMITTED
    assert state in TERMINAL


def test_ambulance_may_leave_before_confirmation() -> None:
    """Departure is allowed straight from opened: the ambulance does not wait for a reader."""
    assert next_state(State.OPENED, Step.DEPART) is State.DEPARTED


@pytest.mark.parametrize(
    ("state", "step"),
    [
        (State.OPENED, Step.ARRIVE),
        (State.OPENED, Step.ADMIT),
        (State.CONFIRMED, Step.ADMIT),
        (State.ADMITTED, Step.CANCEL),
        (State.CANCELLED, Step.DEPART),
        (State.DEPARTED, Step.CONFIRM),
    ],
)
def test_out_of_order_steps_are_refused(state: State, step: Step) -> None:
    """Steps out of order raise InvalidTransition naming both state and step."""
    with pytest.raises(InvalidTransition) as info:
        next_state(state, step)
    assert state.value in str(info.value) and step.value in str(info.value)


def test_terminal_states_allow_nothing() -> None:
    """Admitted and cancelled transfers accept no further steps."""
    assert allowed_steps(State.ADMITTED) == []
    assert allowed_steps(State.CANCELLED) == []
    assert allowed_steps(State.OPENED) == [Step.CONFIRM, Step.DEPART, Step.CANCEL]
