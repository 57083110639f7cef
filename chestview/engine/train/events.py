"""Progress events of a training or evaluation run, for the GUI and the CLI (no Qt here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class EpochStarted:
    epoch: int  # 1-based
    epochs: int
    steps: int  # batches in this epoch


@dataclass(frozen=True)
class BatchDone:
    step: int  # 1-based within the epoch
    loss: float
    epoch: int = 0
    steps: int = 0


@dataclass(frozen=True)
class EpochDone:
    metrics: dict[str, Any]  # the line written to metrics.jsonl


@dataclass(frozen=True)
class EvalProgress:
    stage: str  # "val", "test", ...
    done: int
    total: int


@dataclass(frozen=True)
class TrainFinished:
    result: Any  # TrainResult (Any: avoids an import cycle)


@dataclass(frozen=True)
class Log:
    message: str
    level: str = "info"


Event = EpochStarted | BatchDone | EpochDone | EvalProgress | TrainFinished | Log
EventSink = Callable[[Event], None]
StopCheck = Callable[[], bool]


def emit(sink: EventSink | None, event: Event) -> None:
    if sink is not None:
        sink(event)


def never() -> bool:
    return False


@dataclass
class Collector:
    """An ``on_event`` that keeps every event (tests, scripting)."""

    events: list = field(default_factory=list)

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]
