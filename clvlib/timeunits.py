"""Named time units: every duration in clvlib is measured in one, and every output says which."""

from __future__ import annotations

from dataclasses import dataclass

DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class TimeUnit:
    """A unit of time with its length in days.

    Examples
    --------
    >>> unit = TimeUnit.parse("week")
    >>> str(unit)
    'week (7 days)'
    >>> unit.from_days(14)
    2.0
    """

    name: str
    days: float

    @classmethod
    def parse(cls, unit: str | TimeUnit) -> TimeUnit:
        """Return the registered unit called ``unit`` (``day``, ``week``, ``month``, ``year``)."""
        if isinstance(unit, TimeUnit):
            return unit
        key = str(unit).strip().lower().removesuffix("s")
        if key not in TIME_UNITS:
            raise ValueError(f"unknown time unit {unit!r}; valid units: {', '.join(TIME_UNITS)}")
        return TIME_UNITS[key]

    def from_days(self, days: float) -> float:
        """Convert a number of days into this unit."""
        return days / self.days

    def to_days(self, amount: float) -> float:
        """Convert an amount of this unit into days."""
        return amount * self.days

    @property
    def per_year(self) -> float:
        """How many of this unit make one year of 365.25 days."""
        return DAYS_PER_YEAR / self.days

    @property
    def plural(self) -> str:
        return self.name + "s"

    def __str__(self) -> str:
        days = f"{self.days:g}"
        return f"{self.name} ({days} day{'s' if self.days != 1 else ''})"


TIME_UNITS: dict[str, TimeUnit] = {
    "day": TimeUnit("day", 1.0),
    "week": TimeUnit("week", 7.0),
    "month": TimeUnit("month", DAYS_PER_YEAR / 12),
    "year": TimeUnit("year", DAYS_PER_YEAR),
}
