#!/usr/bin/env python3
"""PESQ-WB (ITU-T P.862.2) of a degraded 16 kHz WAV against its reference.

    pesq_wb.py REF DEG [--json]

The degraded file is first aligned to the reference by cross-correlation
(the voice path delays it by its playout delay, up to a few hundred ms),
then cut or zero-padded to the reference's length, then scored with the
`pesq` package: pesq(16000, ref, deg, 'wb'). Prints the MOS-LQO, or a JSON
object {"pesq_wb", "delay_ms"} with --json.
"""

import argparse
import json
import sys
import wave

import numpy as np
from pesq import pesq

RATE = 16000
# Longest delay searched: well past the jitter buffer's 200 ms maximum.
MAX_DELAY_S = 1.0


def read(path):
    with wave.open(path, "rb") as w:
        if w.getframerate() != RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            sys.exit(
                f"{path}: need 16-bit mono {RATE} Hz, got {8 * w.getsampwidth()}-bit "
                f"{w.getnchannels()} channel(s) at {w.getframerate()} Hz"
            )
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)


def delay_of(ref, deg):
    """Samples by which deg lags ref (>= 0), from the FFT cross-correlation."""
    max_lag = int(MAX_DELAY_S * RATE)
    n = len(ref) + len(deg)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(deg, size) * np.conj(np.fft.rfft(ref, size)), size)
    lags = corr[: max_lag + 1]
    return int(np.argmax(lags))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ref")
    ap.add_argument("deg")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    ref = read(a.ref)
    deg = read(a.deg)
    d = delay_of(ref, deg)
    aligned = deg[d : d + len(ref)]
    if len(aligned) < len(ref):
        aligned = np.concatenate([aligned, np.zeros(len(ref) - len(aligned))])
    score = pesq(RATE, ref, aligned, "wb")
    if a.json:
        print(json.dumps({"pesq_wb": round(float(score), 3), "delay_ms": round(d * 1000 / RATE, 2)}))
    else:
        print(f"{score:.3f}")


if __name__ == "__main__":
    main()
