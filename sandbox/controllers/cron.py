"""A small parser for standard 5-field cron schedules (what CronJob ``spec.schedule`` accepts).

Supports ``*``, ``*/n``, ``a-b``, ``a-b/n``, ``a/n``, lists, month and weekday
names, ``7`` as Sunday, the ``@yearly|@annually|@monthly|@weekly|@daily|
@midnight|@hourly`` macros, and the cron rule that when both day-of-month and
day-of-week are restricted a day matching either runs the job.  All times are
UTC (``spec.timeZone`` other than UTC/Etc/UTC is not simulated).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

_MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
           "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}


class CronError(ValueError):
    pass


def _value(text: str, names: dict[str, int]) -> int:
    t = text.lower()
    if t in names:
        return names[t]
    if not t.isdigit():
        raise CronError(f"failed to parse int from {text}: strconv.Atoi: parsing {text!r}: invalid syntax")
    return int(t)


def _field(text: str, lo: int, hi: int, names: dict[str, int] | None = None) -> tuple[frozenset[int], bool]:
    """Allowed values and whether the field was ``*`` (unrestricted)."""
    names = names or {}
    out: set[int] = set()
    star = False
    for part in text.split(","):
        if not part:
            raise CronError(f"empty field in {text!r}")
        step = 1
        if "/" in part:
            part, step_s = part.split("/", 1)
            if not step_s.isdigit() or int(step_s) == 0:
                raise CronError(f"bad step in {text!r}")
            step = int(step_s)
        if part in ("*", "?"):
            a, b = lo, hi
            star = star or step == 1
        elif "-" in part:
            a_s, b_s = part.split("-", 1)
            a, b = _value(a_s, names), _value(b_s, names)
        else:
            a = _value(part, names)
            b = hi if step > 1 else a
        if a < lo or b > hi or a > b:
            raise CronError(f"end of range ({b}) above maximum ({hi}): {part}" if b > hi
                            else f"beginning of range ({a}) below minimum ({lo}): {part}")
        out.update(range(a, b + 1, step))
    return frozenset(out), star


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    dom: frozenset[int]
    months: frozenset[int]
    dow: frozenset[int]
    dom_star: bool
    dow_star: bool

    def _day_ok(self, d: dt.datetime) -> bool:
        dow = (d.weekday() + 1) % 7
        dom_ok = d.day in self.dom
        dow_ok = dow in self.dow
        if self.dom_star or self.dow_star:
            return dom_ok and dow_ok
        return dom_ok or dow_ok

    def next_after(self, t: dt.datetime) -> dt.datetime:
        """The first matching minute strictly after ``t`` (UTC, naive or aware)."""
        d = t.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        limit = d + dt.timedelta(days=366 * 5)
        while d < limit:
            if d.month not in self.months:
                d = (d.replace(day=1, hour=0, minute=0) + dt.timedelta(days=32)).replace(day=1)
                continue
            if not self._day_ok(d):
                d = d.replace(hour=0, minute=0) + dt.timedelta(days=1)
                continue
            if d.hour not in self.hours:
                d = d.replace(minute=0) + dt.timedelta(hours=1)
                continue
            if d.minute not in self.minutes:
                d += dt.timedelta(minutes=1)
                continue
            return d
        raise CronError("schedule never fires")


def parse(schedule: str) -> Schedule:
    text = schedule.strip()
    if text.startswith("TZ=") or text.startswith("CRON_TZ="):
        text = text.split(None, 1)[1] if " " in text else ""
    text = _MACROS.get(text, text)
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {schedule}")
    minutes, _ = _field(fields[0], 0, 59)
    hours, _ = _field(fields[1], 0, 23)
    dom, dom_star = _field(fields[2], 1, 31)
    months, _ = _field(fields[3], 1, 12, _MONTHS)
    dow_raw, dow_star = _field(fields[4], 0, 7, _DAYS)
    dow = frozenset(0 if d == 7 else d for d in dow_raw)
    return Schedule(minutes, hours, dom, months, dow, dom_star, dow_star)
