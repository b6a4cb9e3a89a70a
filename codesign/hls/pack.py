"""Elements of any width packed into little-endian words: the layout of cs_pack.h, in numpy.
Element i of `bits` bits sits in word i // per at bit (i % per) * bits (per = word_bits // bits)."""
from __future__ import annotations

import numpy as np


def per_word(bits: int, word_bits: int) -> int:
    if bits > word_bits:
        raise ValueError(f"{bits}-bit elements do not fit {word_bits}-bit words")
    return word_bits // bits


def words_for(elems: int, bits: int, word_bits: int) -> int:
    return -(-int(elems) // per_word(bits, word_bits))


def to_raw(values, bits: int) -> np.ndarray:
    """Signed values as `bits`-bit two's-complement codes; bits == 1 encodes +1 as 1, -1 as 0."""
    values = np.asarray(values, dtype=np.int64).reshape(-1)
    if bits == 1:
        if np.any((values != 1) & (values != -1)):
            raise ValueError("binary values must be +1 or -1")
        return (values > 0).astype(np.uint64)
    return (values & ((1 << bits) - 1)).astype(np.uint64)


def from_raw(raw, bits: int, signed: bool = True) -> np.ndarray:
    raw = np.asarray(raw, dtype=np.int64)
    if bits == 1:
        return np.where(raw & 1, 1, -1).astype(np.int64)
    if not signed:
        return raw
    return np.where(raw >= 1 << (bits - 1), raw - (1 << bits), raw)


def pack(values, bits: int, word_bits: int, signed: bool = True) -> bytes:
    """The words holding `values`, as bytes (word_bits / 8 per word, little-endian)."""
    values = np.asarray(values, dtype=np.int64).reshape(-1)
    raw = to_raw(values, bits) if signed else values.astype(np.uint64)
    per = per_word(bits, word_bits)
    count = len(raw)
    n_words = words_for(count, bits, word_bits)
    index = np.arange(count, dtype=np.int64)
    start = (index // per) * word_bits + (index % per) * bits
    shifts = np.arange(bits, dtype=np.uint64)
    bit_values = ((raw[:, None] >> shifts[None, :]) & np.uint64(1)).astype(np.uint8)
    stream = np.zeros(n_words * word_bits, dtype=np.uint8)
    stream[start[:, None] + np.arange(bits)[None, :]] = bit_values
    return np.packbits(stream, bitorder="little").tobytes()


def unpack(data: bytes, count: int, bits: int, word_bits: int, signed: bool = True) -> np.ndarray:
    """Inverse of `pack`: `count` values from the packed bytes."""
    per = per_word(bits, word_bits)
    stream = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
    index = np.arange(count, dtype=np.int64)
    start = (index // per) * word_bits + (index % per) * bits
    bit_values = stream[start[:, None] + np.arange(bits)[None, :]].astype(np.int64)
    raw = (bit_values << np.arange(bits, dtype=np.int64)[None, :]).sum(axis=1)
    return from_raw(raw, bits, signed)
