"""rtcstate's logging: structlog lines through the standard ``logging`` module, silent by default.

Every logger rtcstate uses is a structlog logger wrapping a standard-library logger named
``rtcstate`` (or ``rtcstate.aiortc``, ``rtcstate.server``), to which rtcstate adds only a
``NullHandler``: as with httpx or anyio, nothing is printed unless the application configures
logging. rtcstate never touches structlog's global configuration, so an application's own
structlog setup is left as it is. To see one line per transition::

    import logging
    logging.basicConfig(level=logging.INFO)   # or:
    logging.getLogger("rtcstate").setLevel(logging.INFO)  # with a handler of your own

A record's message reads ``transition machine=room id=standup source=idle dest=connecting ...``;
the same fields, unrendered, are in its ``rtcstate`` attribute (``record.rtcstate["dest"]``),
for a structured handler. Transitions are logged at INFO, rejected events at WARNING (ERROR when
a transport sent them), and a disabled level costs one cached level check per transition.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import structlog

__all__ = ["LOGGER_NAME", "get_logger", "render"]

LOGGER_NAME = "rtcstate"
"""The standard-library logger every rtcstate logger is under."""

logging.getLogger(LOGGER_NAME).addHandler(logging.NullHandler())


def render(_logger: object, method: str,
           event_dict: MutableMapping[str, Any]) -> tuple[tuple[str], dict[str, Any]]:
    """The last processor: the line as the record's message, the fields as ``record.rtcstate``
    (and ``exc_info`` passed on to the standard library)."""
    fields = dict(event_dict)
    exc_info = fields.pop("exc_info", None)
    event = fields.pop("event", method)
    parts = [str(event)]
    for key, value in fields.items():
        text = str(value)
        parts.append(f"{key}={text!r}" if not text or " " in text else f"{key}={text}")
    return (" ".join(parts),), {"extra": {"rtcstate": {"event": event, **fields}},
                                "exc_info": exc_info}


def get_logger(name: str = LOGGER_NAME) -> structlog.stdlib.BoundLogger:
    """A structlog logger writing to the standard-library logger ``name`` (under
    :data:`LOGGER_NAME`), whatever structlog's global configuration."""
    logger: structlog.stdlib.BoundLogger = structlog.wrap_logger(
        logging.getLogger(name), processors=[structlog.stdlib.filter_by_level, render],
        wrapper_class=structlog.stdlib.BoundLogger, cache_logger_on_first_use=True)
    return logger
