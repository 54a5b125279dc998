"""Kubernetes ``resource.Quantity`` (apimachinery ``pkg/api/resource``), reproduced exactly.

Values are an integer mantissa and a base-10 exponent, so parsing, ``String()``, ``Value()``,
``MilliValue()``, ``ScaledValue()`` and comparison round only where apimachinery rounds.
"""

from __future__ import annotations

from podself._record import Record
from podself.errors import QuantityError

__all__ = [
    "BINARY_SI",
    "DECIMAL_EXPONENT",
    "DECIMAL_SI",
    "ERR_FORMAT_WRONG",
    "ERR_NUMERIC",
    "ERR_SUFFIX",
    "MAX_VALUE_DIGITS",
    "Quantity",
    "go_json_float",
]

# The three formats (apimachinery's Format strings). Any other string prints like DecimalExponent.
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"
DECIMAL_SI = "DecimalSI"

# apimachinery's three parse errors, verbatim (ErrFormatWrong, ErrNumeric, ErrSuffix).
ERR_FORMAT_WRONG = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

# value(), milli_value(), scaled_value() and as_integer_ratio() refuse results longer than this
# many decimal digits (Python's default int/str conversion limit): "1e999999999" is ten bytes of
# text, but its value() would be a billion digits.
MAX_VALUE_DIGITS = 4300

_DIGITS = "0123456789"
_SUFFIX_LETTERS = "eEinumkKMGTP"
_DECIMAL_SUFFIXES = {
    "": 0,
    "n": -9,
    "u": -6,
    "m": -3,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_SI_BY_EXPONENT = {exponent: suffix for suffix, exponent in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_POWER = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_ALIGN = (1, 10, 100)
_POW10: tuple[int, ...] = tuple(10**n for n in range(40))
_INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)
_MOD64 = 1 << 64
_INF = float("inf")
_FIXED_SHIFTS = frozenset((1, 2, 3, 6, 9))  # positiveScaleInt64's unrolled cases
# Go's strings.TrimSpace (unicode.IsSpace); str.strip() would also remove U+001C..U+001F.
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Below Python's int/str conversion limit; longer digit strings are converted piecewise.
_CHUNK_DIGITS = 4000
_CHUNK_BITS = 13000  # 2**13000 < 10**4000
# Parse results are immutable, so repeated texts (a linter sees "500m" thousands of times) are
# served from a small cache; it is emptied when full rather than tracking recency.
_CACHE_LIMIT = 2048
_CACHE_TEXT_LIMIT = 40


class Quantity(Record):
    """An exact Kubernetes quantity: ``mantissa * 10**exponent`` plus its ``format``.

    ``Quantity(mantissa, exponent=0, format=DECIMAL_SI)`` builds one without rounding (like
    apimachinery's constructors); ``Quantity.parse(text)`` applies ``ParseQuantity``'s rules.
    ``==``, ``<``, ``hash()`` and ``cmp()`` compare the numeric value only, so
    ``Quantity.parse("1Gi") == Quantity.parse("1024Mi")``.
    """

    __slots__ = ("_canon", "_exp", "_int64_scale", "_man", "_text", "format")
    format: str
    _man: int
    _exp: int
    _text: str | None
    _canon: str | None
    _int64_scale: int | None

    def __init__(self, mantissa: int, exponent: int = 0, format: str = DECIMAL_SI) -> None:
        if not isinstance(mantissa, int) or isinstance(mantissa, bool):
            msg = f"mantissa must be an int, not {type(mantissa).__name__}"
            raise TypeError(msg)
        if not isinstance(exponent, int) or isinstance(exponent, bool):
            msg = f"exponent must be an int, not {type(exponent).__name__}"
            raise TypeError(msg)
        if not isinstance(format, str):
            msg = f"format must be a str, not {type(format).__name__}"
            raise TypeError(msg)
        # Go's constructors hold int64Amount{mantissa, exponent} as given.
        scale = int(exponent) if _INT64_MIN <= mantissa <= _INT64_MAX else None
        mantissa, exponent = _normalise(int(mantissa), int(exponent))
        _fill(self, mantissa, exponent, str(format), None, int64_scale=scale)

    # --- constructors ----------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> Quantity:
        """``ParseQuantity(text)``: the value, rounded up to a multiple of 1n, and its format.

        Raises ``QuantityError`` naming the text and apimachinery's rule (``ERR_FORMAT_WRONG``,
        ``ERR_NUMERIC`` or ``ERR_SUFFIX``). No surrounding whitespace is allowed.
        """
        quantity = _CACHE.get(text)
        if quantity is None:
            quantity = _parse(text)
            if len(text) <= _CACHE_TEXT_LIMIT:
                if len(_CACHE) >= _CACHE_LIMIT:
                    _CACHE.clear()
                _CACHE[text] = quantity
        return quantity

    @classmethod
    def from_json(cls, value: str | int | float | None) -> Quantity:
        """``Quantity.UnmarshalJSON``: a JSON string or number, as YAML/JSON loaders return it.

        Strings lose surrounding whitespace first (Go's ``strings.TrimSpace``). An int is read
        as its exact decimal digits; a float as the text Go's ``encoding/json`` writes for that
        float64 (``0.5`` → ``"0.5"``, ``1e21`` → ``"1e+21"``), which is what ``kubectl`` sends
        after converting YAML. ``None`` (JSON ``null``) is zero. Booleans and other types are
        rejected with ``ERR_FORMAT_WRONG``, like the JSON text Go would hand to the parser.
        ``None`` gives Go's zero ``Quantity``: value 0, printed ``"0"``, with an empty format.
        """
        if isinstance(value, str):
            return cls.parse(value.strip(_GO_SPACE))
        if value is None:
            return _NULL
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = _int_str(int(value))
        elif isinstance(value, float):
            number = float(value)
            if not -_INF < number < _INF:  # NaN fails every comparison
                msg = f"quantity {number}: JSON cannot represent {number}"
                raise QuantityError(msg)
            text = go_json_float(number)
        else:
            msg = f"quantity of type {type(value).__name__}: {ERR_FORMAT_WRONG}"
            raise QuantityError(msg)
        return cls.parse(text)

    @classmethod
    def from_int(cls, value: int, format: str = DECIMAL_SI) -> Quantity:
        """``NewQuantity(value, format)``: exactly ``value``."""
        return cls(value, 0, format)

    @classmethod
    def from_milli(cls, value: int, format: str = DECIMAL_SI) -> Quantity:
        """``NewMilliQuantity(value, format)``: exactly ``value / 1000``."""
        return cls(value, -3, format)

    @classmethod
    def from_scaled(cls, value: int, scale: int) -> Quantity:
        """``NewScaledQuantity(value, scale)``: exactly ``value * 10**scale``, DecimalSI."""
        return cls(value, scale, DECIMAL_SI)

    # --- text ------------------------------------------------------------------------------

    def __str__(self) -> str:
        """``String()``: the canonical form, or the parsed text where apimachinery keeps it.

        apimachinery's parser keeps the input verbatim when its int64 fast path judges it
        canonical; that judgement lets a few non-canonical spellings through (``"+5"``,
        ``"1.500"``, ``"967.E0"``), and ``String()`` returns them unchanged. So does this.
        """
        text = self._text
        if text is None:
            return self.canonical()
        return text

    def canonical(self) -> str:
        """The canonical form ``String()`` computes (ignoring any verbatim parsed text)."""
        text = self._canon
        if text is None:
            text = _canonical(self._man, self._exp, self.format)
            _set_canon(self, text)
        return text

    def __repr__(self) -> str:
        return f"<Quantity {str(self)!r} {self.format}>"

    # --- numbers ---------------------------------------------------------------------------

    def value(self) -> int:
        """``Value()``: ``ceil(q)`` as an exact int (Go's int64 wraps beyond 2**63-1)."""
        return self.scaled_value(0)

    def milli_value(self) -> int:
        """``MilliValue()``: ``ceil(q * 1000)`` as an exact int."""
        return self.scaled_value(-3)

    def scaled_value(self, scale: int) -> int:
        """``ScaledValue(scale)``: ``ceil(q / 10**scale)`` as an exact int.

        Negative values take the ceiling too (Go's own rounding of negative values depends on
        its internal representation). Raises ``QuantityError`` if the result would have more
        than ``MAX_VALUE_DIGITS`` digits.
        """
        mantissa = self._man
        if not mantissa:
            return 0
        shift = self._exp - scale
        if shift >= 0:
            if shift:
                self._check_digits(mantissa, shift)
                return mantissa * _pow10(shift)
            return mantissa
        shift = -shift
        if abs(mantissa).bit_length() <= 3 * shift:
            # |mantissa| < 8**shift < 10**shift: the quotient lies strictly between -1 and 1.
            return 1 if mantissa > 0 else 0
        return -(-mantissa // _pow10(shift))

    def go_value(self) -> int:
        """``Value()`` as Go returns it: an int64, wrapping or 0 beyond its range (see
        :meth:`go_scaled_value`)."""
        return self.go_scaled_value(0)

    def go_milli_value(self) -> int:
        """``MilliValue()`` as Go returns it (see :meth:`go_scaled_value`)."""
        return self.go_scaled_value(-3)

    def go_scaled_value(self, scale: int) -> int:
        """``ScaledValue(scale)`` exactly as apimachinery computes it in int64.

        :meth:`scaled_value` is the exact number; this is what a Go program (the kubelet
        writing a ``resourceFieldRef``) gets, which differs only beyond int64. It depends on
        how the parser stored the value: an int64 amount (its fast path, and the constructors)
        wraps when scaled by 10, 100, 1000, 10**6 or 10**9 and gives 0 when other scalings
        overflow; an ``inf.Dec`` (the value in units of 1n) keeps the low 64 bits of the big
        result and increments a rounded-up one without an overflow check.
        """
        mantissa, exponent = self._man, self._exp
        if not mantissa:
            return 0
        own_scale = self._int64_scale
        if own_scale is not None:
            # int64Amount{value, own_scale}.AsScaledInt64(scale), its ok flag ignored.
            value = _away_from_zero(mantissa, exponent - own_scale)  # exact: an integer
            if own_scale < scale:
                return _away_from_zero(value, own_scale - scale)
            return _positive_scale(value, own_scale - scale)
        # scaledValue(unscaled, 9, -scale). The parser rounded the value to units of 1n (or
        # capped a BinarySI value at 2**63-1, which gives the same int64 results), so
        # unscaled = mantissa * 10**nano; int64 arithmetic is arithmetic modulo 2**64.
        nano = exponent + 9
        shift = 9 + scale
        low = _low64(mantissa, nano)  # unscaled.Int64()
        if shift <= 0:
            return _wrap_int64(low * pow(10, -shift, _MOD64))
        fits = mantissa < 0 or (nano < 19 and mantissa * _pow10(nano) < _INT64_MAX)
        if fits and shift < 19:
            divide = _pow10(shift)
            quotient = abs(low) // divide * (1 if low >= 0 else -1)  # Go's / truncates
            return quotient + 1 if low != quotient * divide else quotient
        if nano >= shift:  # big.Int.DivMod with no remainder
            return _low64(mantissa, nano - shift)
        quotient, remainder = divmod(mantissa * _pow10(nano), _pow10(shift))
        result = _wrap_int64(quotient)
        return _wrap_int64(result + 1) if remainder else result

    def round_up(self, scale: int) -> Quantity:
        """``RoundUp(scale)``: rounded away from zero to a multiple of ``10**scale``, same format.

        apimachinery also reports whether that was exact: here, ``q.round_up(s) == q``.
        """
        mantissa, exponent = self._man, self._exp
        if exponent >= scale or not mantissa:
            return self
        shift = scale - exponent
        magnitude = -mantissa if mantissa < 0 else mantissa
        if magnitude.bit_length() <= 3 * shift:
            rounded = 1
        else:
            rounded, remainder = divmod(magnitude, _pow10(shift))
            if remainder:
                rounded += 1
        return Quantity(rounded if mantissa > 0 else -rounded, scale, self.format)

    def as_integer_ratio(self) -> tuple[int, int]:
        """The exact value as ``(numerator, denominator)`` in lowest terms, denominator > 0."""
        mantissa, exponent = self._man, self._exp
        if exponent >= 0:
            if exponent:
                self._check_digits(mantissa, exponent)
            return mantissa * _pow10(exponent), 1
        places = -exponent
        self._check_digits(1, places)
        # The mantissa holds no factor 10, so it shares only 2s or only 5s with 10**places.
        twos = fives = places
        if not mantissa & 1:
            common = min(places, (mantissa & -mantissa).bit_length() - 1)
            mantissa >>= common
            twos -= common
        else:
            while fives and not mantissa % 5:
                mantissa //= 5
                fives -= 1
        return mantissa, (5**fives) << twos

    def _check_digits(self, mantissa: int, shift: int) -> None:
        # Decimal digits of mantissa * 10**shift, bounded above without computing it.
        digits = shift + (abs(mantissa).bit_length() * 1233 >> 12) + 1
        if digits > MAX_VALUE_DIGITS:
            msg = f"quantity {_quote(str(self))}: value has more than {MAX_VALUE_DIGITS} digits"
            raise QuantityError(msg)

    def sign(self) -> int:
        """``Sign()``: -1, 0 or 1."""
        mantissa = self._man
        return (mantissa > 0) - (mantissa < 0)

    def is_zero(self) -> bool:
        """``IsZero()``."""
        return not self._man

    def cmp(self, other: Quantity) -> int:
        """``Cmp(other)``: -1, 0 or 1 comparing numeric values (the format is ignored)."""
        return _compare(self._man, self._exp, other._man, other._exp)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        # Both are normalised (no factor 10 left in the mantissa), so equal values are equal pairs.
        return self._man == other._man and self._exp == other._exp

    def __hash__(self) -> int:
        return hash((self._man, self._exp))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return _compare(self._man, self._exp, other._man, other._exp) < 0

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return _compare(self._man, self._exp, other._man, other._exp) <= 0

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return _compare(self._man, self._exp, other._man, other._exp) > 0

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return _compare(self._man, self._exp, other._man, other._exp) >= 0

    def __reduce__(self) -> tuple[object, tuple[int, int, str, str | None, int | None]]:
        return _restore, (self._man, self._exp, self.format, self._text, self._int64_scale)


_CACHE: dict[str, Quantity] = {}
_new_quantity = object.__new__
# The slots' own setters bypass Record.__setattr__ and are faster than object.__setattr__.
_set_man = Quantity.__dict__["_man"].__set__
_set_exp = Quantity.__dict__["_exp"].__set__
_set_format = Quantity.__dict__["format"].__set__
_set_text = Quantity.__dict__["_text"].__set__
_set_canon = Quantity.__dict__["_canon"].__set__
_set_int64_scale = Quantity.__dict__["_int64_scale"].__set__


def _fill(
    obj: Quantity,
    mantissa: int,
    exponent: int,
    fmt: str,
    text: str | None,
    *,
    int64_scale: int | None = 0,
) -> None:
    # int64_scale: the scale of the int64Amount apimachinery would hold, or None where it
    # holds an inf.Dec (only go_scaled_value depends on it).
    _set_man(obj, mantissa)
    _set_exp(obj, exponent)
    _set_format(obj, fmt)
    _set_text(obj, text)
    _set_canon(obj, None)
    _set_int64_scale(obj, int64_scale)


def _make(
    mantissa: int, exponent: int, fmt: str, text: str | None, int64_scale: int | None = 0
) -> Quantity:
    obj: Quantity = _new_quantity(Quantity)
    _fill(obj, mantissa, exponent, fmt, text, int64_scale=int64_scale)
    return obj


def _restore(
    mantissa: int, exponent: int, fmt: str, text: str | None, int64_scale: int | None = 0
) -> Quantity:
    return _make(mantissa, exponent, fmt, text, int64_scale)


def _away_from_zero(mantissa: int, shift: int) -> int:
    # mantissa * 10**shift rounded away from zero (negativeScaleInt64's rounding).
    if shift >= 0:
        return mantissa * _pow10(shift)
    magnitude = abs(mantissa)
    if magnitude.bit_length() <= 3 * -shift:  # below 10**-shift: rounds to 1
        quotient = 1
    else:
        quotient, remainder = divmod(magnitude, _pow10(-shift))
        quotient += 1 if remainder else 0
    return quotient if mantissa >= 0 else -quotient


def _positive_scale(value: int, shift: int) -> int:
    # positiveScaleInt64 with the ok flag ignored, as ScaledValue does: the fixed factors wrap
    # (int64MultiplyScale returns the wrapped product); the loop for other factors gives 0.
    if shift == 0:
        return value
    if value == _INT64_MIN:
        return 0
    if shift in _FIXED_SHIFTS:
        return _wrap_int64(value * _pow10(shift))
    if shift >= 19:  # |value| >= 1 cannot be scaled that far
        return 0
    result = value * _pow10(shift)
    return result if _INT64_MIN <= result <= _INT64_MAX else 0


def _wrap_int64(number: int) -> int:
    # Go's int64 arithmetic and big.Int.Int64(): the number modulo 2**64, two's complement.
    return (number - _INT64_MIN) % _MOD64 + _INT64_MIN


def _low64(mantissa: int, shift: int) -> int:
    # mantissa * 10**shift (shift >= 0) as an int64, without building a huge power of ten.
    return _wrap_int64(mantissa * pow(10, shift, _MOD64))


_ZERO = _make(0, 0, DECIMAL_SI, None)
# UnmarshalJSON of null resets the amount and leaves Format as it was: "" in a zero Quantity.
_NULL = _make(0, 0, "", None)


# --- parsing -------------------------------------------------------------------------------


def _parse(text: str) -> Quantity:
    # ParseQuantity: parseQuantityString's scan, the suffix lookup, then the value. The fast-path
    # conditions only decide whether the input is kept as the String() text.
    if not isinstance(text, str):
        msg = f"quantity text must be a str, not {type(text).__name__}"
        raise TypeError(msg)
    if not text:
        raise _error(text, ERR_FORMAT_WRONG)
    first = text[0]
    rest = text[1:] if first in {"-", "+"} else text

    # <digits> [. <digits>] then the suffix: [eEinumkKMGTP]* [+-]? [0-9]*
    tail = rest.lstrip(_DIGITS)
    whole = rest[: len(rest) - len(tail)]
    frac = ""
    if tail[:1] == ".":
        after = tail[1:]
        tail = after.lstrip(_DIGITS)
        frac = after[: len(after) - len(tail)]
    if tail:
        check = tail.lstrip(_SUFFIX_LETTERS)
        if check:
            if check[0] == "+" or check[0] == "-":
                check = check[1:]
            if check.lstrip(_DIGITS):
                raise _error(text, ERR_FORMAT_WRONG)

    binary = False
    fmt = DECIMAL_SI
    suffix_exp = _DECIMAL_SUFFIXES.get(tail)
    if suffix_exp is None:
        suffix_exp = _BINARY_SUFFIXES.get(tail)
        if suffix_exp is not None:
            binary = True
            fmt = BINARY_SI
        elif len(tail) > 1 and (tail[0] == "e" or tail[0] == "E"):
            suffix_exp = _exponent_suffix(tail[1:])
            if suffix_exp is None:
                raise _error(text, ERR_SUFFIX)
            fmt = DECIMAL_EXPONENT
        else:
            raise _error(text, ERR_SUFFIX)

    num = whole.lstrip("0")
    num_len = len(num) or 1
    # apimachinery's int64 fast path, and when it keeps the text as already canonical.
    verbatim = False
    if binary:
        fast = not frac and 14 - num_len - suffix_exp * 3 // 10 >= 0
        verbatim = fast and int(num or "0") & 7 != 0
    else:
        scale = suffix_exp - len(frac)
        fast = num_len + len(frac) <= 18 and scale >= -9
        if fast and scale % 3 == 0:
            shifted = (num or "0") + frac
            verbatim = shifted[0] != "0" and not shifted.endswith("000")
    # The int64Amount's scale on the fast path (binary values are held in units of 1).
    int64_scale = (0 if binary else scale) if fast else None
    if not fast and not whole and not frac:
        # inf.Dec's SetString needs at least one digit ("." alone only passes the fast path).
        raise _error(text, ERR_NUMERIC)

    digits = num + frac
    significant = digits.rstrip("0")
    if not significant:
        return _make(0, 0, fmt, text if verbatim else None, int64_scale)
    exponent = len(digits) - len(significant) - len(frac)
    if len(significant) <= _CHUNK_DIGITS:
        mantissa = int(significant)
    else:
        mantissa = _int_from_digits(significant.lstrip("0"))
    if binary:
        mantissa <<= suffix_exp
        if not mantissa % 10:  # factors of 5 in the digits meet the power of two
            mantissa, tens = _strip_tens(mantissa)
            exponent += tens
    else:
        exponent += suffix_exp
    if exponent < -9:
        # Non-zero values round up, away from zero, to a multiple of 1n.
        mantissa, exponent = _round_up_to_nano(mantissa, exponent)
    if binary and (exponent or mantissa > _INT64_MAX):
        mantissa, exponent, fmt = _binary_limits(mantissa, exponent)
    if first == "-":
        mantissa = -mantissa
    return _make(mantissa, exponent, fmt, text if verbatim else None, int64_scale)


def _exponent_suffix(body: str) -> int | None:
    # strconv.ParseInt(body, 10, 64), then Go's conversion to int32 (which wraps).
    negative = body[0] == "-"
    digits = body[1:] if negative or body[0] == "+" else body
    if not digits or digits.lstrip(_DIGITS):
        return None
    significant = digits.lstrip("0")
    if len(significant) > 19:
        return None
    value = int(significant or "0")
    if negative:
        value = -value
    if not _INT64_MIN <= value <= _INT64_MAX:
        return None
    return ((value + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _round_up_to_nano(mantissa: int, exponent: int) -> tuple[int, int]:
    # mantissa > 0 and exponent < -9: ceil(mantissa / 10**shift) nanos.
    shift = -9 - exponent
    if mantissa.bit_length() <= 3 * shift:
        return 1, -9
    quotient, remainder = divmod(mantissa, _pow10(shift))
    if remainder:
        quotient += 1
    if quotient % 10:
        return quotient, -9
    quotient, tens = _strip_tens(quotient)
    return quotient, tens - 9


def _binary_limits(mantissa: int, exponent: int) -> tuple[int, int, str]:
    # BinarySI magnitudes above 2**63-1 are capped; values between 0 and 1 become DecimalSI.
    if exponent >= 0:
        if exponent > 18 or mantissa * _pow10(exponent) > _INT64_MAX:
            return _INT64_MAX, 0, BINARY_SI
        return mantissa, exponent, BINARY_SI
    scale = _pow10(-exponent)
    if mantissa > _INT64_MAX * scale:
        return _INT64_MAX, 0, BINARY_SI
    if mantissa < scale:
        return mantissa, exponent, DECIMAL_SI
    return mantissa, exponent, BINARY_SI


def _error(text: str, rule: str) -> QuantityError:
    return QuantityError(f"quantity {_quote(text)}: {rule}")


def _quote(text: str) -> str:
    more = ""
    if len(text) > 64:
        more = f"... ({len(text)} characters)"
        text = text[:64]
    if not text.isprintable() or '"' in text or "\\" in text:
        text = text.encode("unicode_escape").decode("ascii").replace('"', '\\"')
    return f'"{text}"{more}'


def go_json_float(value: float) -> str:
    """The text Go's ``encoding/json`` writes for a finite float64: shortest digits, ``e`` form
    below 1e-6 and from 1e21 (``1e+21``, ``1e-7``), plain form otherwise (``1000``, ``0.5``)."""
    from podself._gofloat import format_json

    return format_json(value)


# --- exact arithmetic ----------------------------------------------------------------------


def _normalise(mantissa: int, exponent: int) -> tuple[int, int]:
    if not mantissa:
        return 0, 0
    if mantissa % 10:
        return mantissa, exponent
    negative = mantissa < 0
    mantissa, tens = _strip_tens(-mantissa if negative else mantissa)
    return (-mantissa if negative else mantissa), exponent + tens


def _strip_tens(value: int) -> tuple[int, int]:
    # value > 0 and divisible by 10: remove every factor 10, dividing by 10**1, 10**2, 10**4...
    # while that works and then by the smaller powers, so a long run of zeros costs O(log n).
    count = 0
    steps: list[tuple[int, int]] = []
    divisor, width = 10, 1
    while True:
        quotient, remainder = divmod(value, divisor)
        if remainder:
            break
        value = quotient
        count += width
        steps.append((divisor, width))
        divisor, width = divisor * divisor, width * 2
    for divisor, width in reversed(steps):
        quotient, remainder = divmod(value, divisor)
        if not remainder:
            value = quotient
            count += width
    return value, count


def _compare(a_man: int, a_exp: int, b_man: int, b_exp: int) -> int:
    if a_exp == b_exp:
        return (a_man > b_man) - (a_man < b_man)
    a_sign = (a_man > 0) - (a_man < 0)
    b_sign = (b_man > 0) - (b_man < 0)
    if a_sign != b_sign or not a_sign:
        return (a_sign > b_sign) - (a_sign < b_sign)
    if a_exp > b_exp:
        magnitude = _compare_scaled(abs(a_man), a_exp - b_exp, abs(b_man))
    else:
        magnitude = -_compare_scaled(abs(b_man), b_exp - a_exp, abs(a_man))
    return magnitude if a_sign > 0 else -magnitude


def _compare_scaled(big: int, shift: int, small: int) -> int:
    # Compare big * 10**shift with small (both > 0, shift > 0) without huge powers of ten.
    if 3 * shift >= small.bit_length():
        return 1  # big * 10**shift >= 10**shift > 8**shift >= 2**bit_length > small
    scaled = big * _pow10(shift)
    return (scaled > small) - (scaled < small)


def _pow10(n: int) -> int:
    # 10**n for n >= 0, typed as int (a bare int ** int is Any to mypy).
    if n < 40:
        return _POW10[n]
    power: int = 10**n
    return power


def _int_from_digits(digits: str) -> int:
    if len(digits) <= _CHUNK_DIGITS:
        return int(digits)
    low = len(digits) // 2
    return _int_from_digits(digits[:-low]) * _pow10(low) + _int_from_digits(digits[-low:])


def _int_str(value: int) -> str:
    if value.bit_length() <= _CHUNK_BITS:
        return str(value)
    if value < 0:
        return "-" + _int_str(-value)
    low = (value.bit_length() * 1233 >> 12) // 2
    high, rest = divmod(value, _pow10(low))
    return _int_str(high) + _int_str(rest).zfill(low)


def _canonical(mantissa: int, exponent: int, fmt: str) -> str:
    # CanonicalizeBytes + the suffix. BinarySI prints as n * 1024**k when the value is an integer
    # of magnitude >= 1024, otherwise as DecimalSI. DecimalSI/DecimalExponent move every factor
    # 10 into the exponent, then lower it to a multiple of 3.
    if not mantissa:
        return "0"
    if fmt == BINARY_SI:
        fmt = DECIMAL_SI
        if exponent >= 0:
            magnitude = -mantissa if mantissa < 0 else mantissa
            twos = (magnitude & -magnitude).bit_length() - 1 + exponent
            if twos >= 70:
                # Beyond Ei there is no binary suffix: exponent notation, as fixed upstream
                # after apimachinery eed236ce (which printed the bare mantissa).
                fmt = DECIMAL_EXPONENT
            else:
                if exponent:
                    magnitude *= _pow10(exponent)
                if magnitude >= 1024:
                    power = twos // 10
                    sign = "-" if mantissa < 0 else ""
                    body = _int_str(magnitude >> (10 * power))
                    return sign + body + _BINARY_BY_POWER[power]
    extra = exponent % 3
    if extra:
        mantissa *= _ALIGN[extra]
        exponent -= extra
    if fmt == DECIMAL_SI:
        suffix = _SI_BY_EXPONENT.get(exponent)
        if suffix is None:
            # Outside n..E: exponent notation (eed236ce printed the bare mantissa, "1000E" → "1").
            suffix = f"e{exponent}"
    elif exponent:
        suffix = f"e{exponent}"
    else:
        suffix = ""
    return _int_str(mantissa) + suffix
