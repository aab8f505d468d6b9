"""Random numbers keyed by whom they are for, so that a simulation's values for one customer do
not depend on who else is simulated with them.

A simulated route (:mod:`clvlib.simulated_scoring`) draws each distinct row's and each
customer's numbers from a hash of their key (the row's values or the customer's id, and the
seed) and of counters that say which number it is (posterior draw, path, purpose, round). A
row's simulated expected purchases are then the same whether it is scored with every customer
or with one segment, in any chunk and order, as the closed forms' are, so that a report's
segments add up to its base exactly.

NumPy's generators give one stream each, and a generator per customer and draw would cost more
than the simulation it feeds (seeding alone, for thousands of rows times a thousand draws);
NumPy has no generator keyed per element, hence this small counter-based one, written by hand:
SplitMix64's finalizer (Steele, Lea & Flood 2014, the mixer NumPy's ``SeedSequence`` family of
generators and Java's ``SplittableRandom`` use) applied to the key and each counter in turn.
Variates other than uniforms come from inverse distribution functions (``-log u``,
``scipy.special.gammaincinv``), one uniform each, so that every number has a fixed key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

_GOLDEN = 0x9E3779B97F4A7C15
_MASK = 2**64 - 1


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer on ``uint64`` arrays (a bijection; products wrap modulo 2**64)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def id_hashes(index) -> np.ndarray:
    """A 64-bit hash of each customer id, of its text: an id read as a number by one engine and
    as a string by another hashes alike (:func:`clvlib.futures.customer_seeds` too)."""
    text = np.asarray(pd.Index(index).astype(str), dtype=object)
    return pd.util.hash_array(text, categorize=False)


def _counter(value) -> np.ndarray:
    """A counter (an int, or an array of them) spread over 64 bits, as ``uint64``."""
    if np.isscalar(value):
        return np.array([((int(value) + 1) * _GOLDEN) & _MASK], dtype=np.uint64)
    value = np.asarray(value, dtype=np.int64).astype(np.uint64)
    return (value + np.uint64(1)) * np.uint64(_GOLDEN)


@dataclass(frozen=True)
class Keys:
    """One 64-bit key per unit (a distinct row or a customer); the numbers drawn with it.

    ``keys.at(i, p)`` is the keys of draw ``i``'s path ``p``; ``keys.uniform(purpose)`` one
    uniform per unit for that purpose (``at=index``: for the units at ``index`` only, with the
    same values they would have among all).
    """

    keys: np.ndarray

    @classmethod
    def of_rows(cls, values: np.ndarray, seed: int) -> Keys:
        """A key per row of ``values`` (2-D floats) from their bits and ``seed``: equal rows
        get equal keys."""
        values = np.ascontiguousarray(values, dtype=np.float64) + 0.0  # -0.0 read as 0.0
        keys = np.broadcast_to(_mix(_counter(seed)), values.shape[:1]).copy()
        for column in values.T:
            keys = _mix(keys ^ _mix(np.ascontiguousarray(column).view(np.uint64)))
        return cls(keys)

    @classmethod
    def of_ids(cls, index: pd.Index, seed: int) -> Keys:
        """A key per customer id and ``seed``; ids hashed by their text (as
        :func:`clvlib.futures.customer_seeds` does), so an id read as a number by one engine
        and as a string by another gets the same numbers. A repeated id's later rows are told
        apart by their order among its rows."""
        index = pd.Index(index)
        keys = _mix(id_hashes(index) ^ _mix(_counter(seed)))
        if not index.is_unique:  # an id's first row keeps its key
            text = index.astype(str)
            later = pd.Series(text).groupby(text).cumcount().to_numpy()
            keys = np.where(later > 0, _mix(keys ^ _counter(later)), keys)
        return cls(keys)

    @classmethod
    def fresh(cls, rng: np.random.Generator, n: int) -> Keys:
        """``n`` keys drawn from ``rng``: a new set of units at each call."""
        return cls(rng.integers(0, 2**64, size=n, dtype=np.uint64, endpoint=False))

    def __len__(self) -> int:
        return self.keys.size

    def take(self, index) -> Keys:
        """The keys of the units at ``index``."""
        return Keys(self.keys[index])

    def at(self, *counters) -> Keys:
        """Keys for a sub-stream, one per unit, named by ``counters`` (ints)."""
        keys = self.keys
        for value in counters:
            keys = _mix(keys ^ _mix(_counter(value)))
        return Keys(keys)

    def uniform(self, *counters, at=None) -> np.ndarray:
        """One uniform in (0, 1) per unit (or per unit at ``at``), for the number named by
        ``counters``; a counter may be an array, one value per unit taken."""
        keys = (self if at is None else self.take(at)).at(*counters).keys
        return ((keys >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53

    def exponential(self, *counters, at=None) -> np.ndarray:
        """One standard exponential per unit (``-log u``)."""
        return -np.log(self.uniform(*counters, at=at))

    def gamma(self, shape, *counters, at=None) -> np.ndarray:
        """One Gamma(``shape``, 1) per unit, by its inverse distribution function."""
        return special.gammaincinv(shape, self.uniform(*counters, at=at))
