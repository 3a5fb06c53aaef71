"""The green-channel state machine, free of I/O.

A referral is opened by an acute ECG flag and then stamped step by step as the
patient moves from the township door to admission at the county hospital.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    OPENED = "opened"  # flag raised, green channel open, waiting for the cardiologist
    CONFIRMED = "confirmed"  # cardiologist confirmed: transfer is on
    DEPARTED = "departed"  # ambulance left the township centre
    ARRIVED = "arrived"  # patient at the county hospital door
    ADMITTED = "admitted"  # admitted (cath lab / CCU): the green channel is complete
    CANCELLED = "cancelled"  # flag rejected or transfer called off


class Step(StrEnum):
    """Timeline entries; each step moves the state machine or records a fact."""

    OPEN = "open"
    CONFIRM = "confirm"
    DEPART = "depart"
    ARRIVE = "arrive"
    ADMIT = "admit"
    CANCEL = "cancel"


TERMINAL: frozenset[State] = frozenset({State.ADMITTED, State.CANCELLED})

# The coordinator may depart without an explicit confirmation: in a real emergency the
# ambulance leaves while the cardiologist is still reading, and the timeline shows it.
_TRANSITIONS: dict[tuple[State, Step], State] = {
    (State.OPENED, Step.CONFIRM): State.CONFIRMED,
    (State.OPENED, Step.DEPART): State.DEPARTED,
    (State.CONFIRMED, Step.DEPART): State.DEPARTED,
    (State.DEPARTED, Step.ARRIVE): State.ARRIVED,
    (State.ARRIVED, Step.ADMIT): State.ADMITTED,
    (State.OPENED, Step.CANCEL): State.CANCELLED,
    (State.CONFIRMED, Step.CANCEL): State.CANCELLED,
    (State.DEPARTED, Step.CANCEL): State.CANCELLED,
    (State.ARRIVED, Step.CANCEL): State.CANCELLED,
}


class InvalidTransition(ValueError):
    def __init__(self, state: State, step: Step) -> None:
        super().__init__(f"step {step.value!r} is not allowed in state {state.value!r}")
        self.state = state
        self.step = step


def next_state(state: State, step: Step) -> State:
    """The state after ``step``; raises InvalidTransition when the step does not apply."""
    try:
        return _TRANSITIONS[(state, step)]
    except KeyError:
        raise InvalidTransition(state, step) from None


def allowed_steps(state: State) -> list[Step]:
    """The steps a user may stamp next, in display order."""
    return [step for (s, step) in _TRANSITIONS if s == state]
