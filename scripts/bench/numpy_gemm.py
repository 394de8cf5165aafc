#!/usr/bin/env python3
"""Times the GEMMs of one VAE training step with numpy (OpenBLAS), single-threaded.

The same shapes, order and protocol as `vae-dist bench kernels` (Sources/Model/Bench/
KernelBenchmark.swift), so the two compare line by line (scripts/bench/kernels-vs-numpy does):
per GEMM a warm-up (>= 3 calls and >= 20 ms), then single calls timed one by one until they add up to
--seconds (and >= 5 calls); best and median; C overwritten through `out=` (no allocation).

For a linear layer W[in x out] and per-rank batch B:
  forward     X.W     matmul(a[B,in],  b[in,out])     m=B   n=out k=in
  weightGrad  X^T.dY  matmul(a[B,in].T, b[B,out])     m=in  n=out k=B
  inputGrad   dY.W^T  matmul(a[B,out], b[in,out].T)   m=B   n=in  k=out  (not for the first layer)

Usage: numpy_gemm.py [--arch classic|deep|all] [--batch 64 --batch 128 | --batch 64,128]
                     [--seconds 0.2] [--json]
"""
import os

# One thread, set before numpy loads OpenBLAS (each MPI rank of vae-dist uses one core too).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import ctypes
import json
import sys
import time

import numpy as np

ARCHITECTURES = {
    # encoder widths, decoder widths (the encoder's last layer emits mu and log sigma^2 fused)
    "classic": ([784, 400, 40], [20, 400, 784]),
    "deep": ([784, 1000, 500, 250, 60], [30, 250, 500, 1000, 784]),
}


def layers(arch):
    encoder, decoder = ARCHITECTURES[arch]
    result = [(i, o, index > 0) for index, (i, o) in enumerate(zip(encoder, encoder[1:]))]
    result += [(i, o, True) for i, o in zip(decoder, decoder[1:])]
    return result


def products(arch, batch):
    """Every GEMM of one step in execution order (forward, then backward from the last layer)."""
    ls = list(enumerate(layers(arch)))
    result = [(idx, f"{i}->{o}", "forward", batch, o, i) for idx, (i, o, _) in ls]
    for idx, (i, o, needs_input_grad) in reversed(ls):
        result.append((idx, f"{i}->{o}", "weightGrad", i, o, batch))
        if needs_input_grad:
            result.append((idx, f"{i}->{o}", "inputGrad", batch, i, o))
    return result


def operands(kind, m, n, k, rng):
    values = lambda *shape: rng.uniform(-1, 1, size=shape).astype(np.float32)
    c = np.empty((m, n), dtype=np.float32)
    if kind == "forward":
        a, b = values(m, k), values(k, n)
        return lambda: np.matmul(a, b, out=c)
    if kind == "weightGrad":
        a, b = values(k, m), values(k, n)  # A stored k x m, used transposed
        return lambda: np.matmul(a.T, b, out=c)
    a, b = values(m, k), values(n, k)  # B stored n x k, used transposed
    return lambda: np.matmul(a, b.T, out=c)


def time_call(call, seconds):
    warm_end = time.perf_counter() + 0.02
    warm_ups = 0
    while warm_ups < 3 or time.perf_counter() < warm_end:
        call()
        warm_ups += 1
    samples, total = [], 0.0
    while total < seconds or len(samples) < 5:
        t0 = time.perf_counter()
        call()
        dt = time.perf_counter() - t0
        samples.append(dt)
        total += dt
    samples.sort()
    return samples[0], samples[len(samples) // 2], len(samples)


def blas_info():
    """Which BLAS numpy uses and which OpenBLAS kernel ("core") it selected at run time."""
    info = {"numpy": np.__version__,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE")}
    try:
        from threadpoolctl import threadpool_info
        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        info["source"] = "threadpoolctl"
        info["blas"] = [{key: p.get(key) for key in ("internal_api", "version", "architecture", "num_threads", "filepath")}
                        for p in pools]
        return info
    except ImportError:
        info["source"] = "threadpoolctl not importable; asked the loaded OpenBLAS library directly"
    # Fallback: find the OpenBLAS that numpy loaded and call its get_corename / get_config.
    try:
        paths = sorted({line.split()[-1] for line in open("/proc/self/maps") if "openblas" in line.lower()
                        and line.split()[-1].startswith("/")})
        for path in paths:
            lib = ctypes.CDLL(path)
            found = {}
            for prefix, suffix in (("", ""), ("scipy_", "64_"), ("scipy_", ""), ("", "64_")):
                for name in ("get_corename", "get_config", "get_num_threads"):
                    symbol = f"{prefix}openblas_{name}{suffix}"
                    if name not in found and hasattr(lib, symbol):
                        fn = getattr(lib, symbol)
                        fn.restype = ctypes.c_char_p if name != "get_num_threads" else ctypes.c_int
                        value = fn()
                        found[name] = value.decode() if isinstance(value, bytes) else value
            if found:
                info["blas"] = [{"filepath": path, "architecture": found.get("get_corename"),
                                 "version": found.get("get_config"), "num_threads": found.get("get_num_threads")}]
                return info
        info["blas"] = "no OpenBLAS library found in this process (numpy may use another BLAS)"
    except OSError as error:
        info["blas"] = f"could not query OpenBLAS: {error}"
    return info


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="all", choices=["all", *ARCHITECTURES])
    parser.add_argument("--batch", action="append", default=[], help="per-rank batch (repeat or comma-separate)")
    parser.add_argument("--seconds", type=float, default=0.2, help="seconds of timed calls per GEMM")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of the table")
    args = parser.parse_args()
    batches = [int(b) for item in args.batch for b in item.split(",") if b.strip()] or [64, 128]
    if any(b <= 0 for b in batches) or not (0 < args.seconds <= 60):
        parser.error("--batch must be positive and --seconds in (0, 60]")
    archs = list(ARCHITECTURES) if args.arch == "all" else [args.arch]

    info = blas_info()
    if args.json:
        print(json.dumps({"type": "blas_info", **info}), flush=True)
    else:
        print(f"# numpy {info['numpy']}, BLAS ({info['source']}): {json.dumps(info.get('blas'))}")
        print(f"# OPENBLAS_CORETYPE={info['OPENBLAS_CORETYPE']} OPENBLAS_L2_SIZE={info['OPENBLAS_L2_SIZE']}")
        print(f"{'arch':<8} {'batch':<6} {'layer':<10} {'kind':<11} {'m':>6} {'n':>6} {'k':>6} {'GFLOP/s best':>13} {'median':>8}")
    rng = np.random.default_rng(0)
    for arch in archs:
        for batch in batches:
            total_best = total_median = total_flops = 0.0
            for idx, label, kind, m, n, k in products(arch, batch):
                best, median, samples = time_call(operands(kind, m, n, k, rng), args.seconds)
                flops = 2.0 * m * n * k
                total_best += best
                total_median += median
                total_flops += flops
                if args.json:
                    print(json.dumps({"type": "gemm", "arch": arch, "batch": batch, "layer": label, "layer_index": idx,
                                      "kind": kind, "m": m, "n": n, "k": k, "best_s": best, "median_s": median,
                                      "samples": samples, "gflops_best": round(flops / best / 1e9, 1),
                                      "gflops_median": round(flops / median / 1e9, 1)}), flush=True)
                else:
                    print(f"{arch:<8} {batch:<6} {label:<10} {kind:<11} {m:>6} {n:>6} {k:>6} "
                          f"{flops / best / 1e9:>13.1f} {flops / median / 1e9:>8.1f}", flush=True)
            if args.json:
                print(json.dumps({"type": "step_total", "arch": arch, "batch": batch, "best_s": total_best,
                                  "median_s": total_median,
                                  "gflops_best": round(total_flops / total_best / 1e9, 1),
                                  "gflops_median": round(total_flops / total_median / 1e9, 1)}), flush=True)
            else:
                print(f"{arch:<8} {batch:<6} {'step':<10} {'total':<11} {'':>6} {'':>6} {'':>6} "
                      f"{total_flops / total_best / 1e9:>13.1f} {total_flops / total_median / 1e9:>8.1f}"
                      f"   ({total_best * 1e3:.3f} ms best, {total_median * 1e3:.3f} ms median)")


if __name__ == "__main__":
    sys.exit(main())
