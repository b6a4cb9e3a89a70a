"""C++ spellings of the numeric types a design point uses, kept apart from the precision itself.
A `PrecisionClass` (widths of one kernel instantiation) or activation format -> `ap_int<8>`, ..."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IntType:
    bits: int
    signed: bool = True

    @property
    def spelling(self) -> str:
        return f"ap_{'' if self.signed else 'u'}int<{self.bits}>"


@dataclass(frozen=True)
class FixedType:
    """`ap_fixed<width, int_bits, rounding, overflow>`; int_bits counts the sign bit."""
    width: int
    int_bits: int
    signed: bool = True
    rounding: str = "AP_TRN"
    overflow: str = "AP_WRAP"

    @property
    def frac_bits(self) -> int:
        return self.width - self.int_bits

    @property
    def spelling(self) -> str:
        name = "ap_fixed" if self.signed else "ap_ufixed"
        modes = "" if (self.rounding, self.overflow) == ("AP_TRN", "AP_WRAP") else f", {self.rounding}, {self.overflow}"
        return f"{name}<{self.width}, {self.int_bits}{modes}>"


@dataclass(frozen=True)
class BinaryType:
    """One bit per operand, 1 = +1 and 0 = -1, packed along the reduction axis for XNOR-popcount."""

    @property
    def spelling(self) -> str:
        return "ap_uint<1>"


def operand_type(bits: int) -> IntType | BinaryType:
    """The C++ type of a PE-array operand of `bits` bits."""
    return BinaryType() if bits == 1 else IntType(bits)


def act_int_bits(bits: int) -> int:
    """Integer bits (sign included) of the activation format: Q(ceil(b/2)).(floor(b/2))."""
    return (bits + 1) // 2


def act_frac_bits(bits: int) -> int:
    return bits - act_int_bits(bits)


def act_fixed(bits: int, rounding: str = "AP_TRN", overflow: str = "AP_WRAP") -> FixedType:
    """The value of a `bits`-bit activation: ap_fixed<8, 4> for 8 bits (range [-8, 8), LSB 1/16)."""
    return FixedType(bits, act_int_bits(bits), True, rounding, overflow)


def softmax_out_fixed(bits: int) -> FixedType:
    """Softmax probabilities: Q1.(b-1), 1.0 saturates to the largest code."""
    return FixedType(bits, 1, True, "AP_RND", "AP_SAT")


@dataclass(frozen=True)
class PrecisionClass:
    """The widths one kernel instantiation is compiled for.

    family: "gemm" (GEMM and convolution on the PE or LUT array) or a vector-unit family.
    w_bits: B operand (weights, or the second activation of QK^T / A.V); a_bits: A operand or
    vector input; o_bits: output; array: "pe" or "lut" (binary-weight layers on a LUT array).
    lanes / passes: the array's rate for these widths (`Accelerator` macs_per_cycle, `LutArray.rate`).
    """

    @property
    def digit_bits(self) -> int:
        """Activation bits one digit-serial pass takes."""
        return -(-self.a_bits // self.passes)
    family: str
    w_bits: int
    a_bits: int
    o_bits: int
    array: str = "pe"
    lanes: int = 1              # MACs a PE completes per cycle, on consecutive k (the simulator's rate)
    passes: int = 1             # digit-serial passes over the activations (rate below one MAC a cycle)

    @property
    def struct_name(self) -> str:
        if self.family == "gemm":
            return f"prec_w{self.w_bits}a{self.a_bits}o{self.o_bits}_{self.array}"
        return f"vec_a{self.a_bits}"

    @property
    def is_vector(self) -> bool:
        return self.family != "gemm"

    def spellings(self) -> dict[str, str]:
        """typedef name -> C++ type, for the config header."""
        if self.is_vector:
            return {"x_t": act_fixed(self.a_bits).spelling,
                    "y_t": act_fixed(self.a_bits, "AP_RND", "AP_SAT").spelling}
        return {"w_t": operand_type(self.w_bits).spelling, "a_t": operand_type(self.a_bits).spelling,
                "o_t": operand_type(self.o_bits).spelling}
