#!/usr/bin/env python3
"""Float64 numpy reference for a small VAE: forward loss terms and every parameter gradient.

Writes Tests/ModelTests/Fixtures/vae_small.json, which the Swift test `ReferenceFixtureTests` loads,
injecting the same weights and the same epsilon, and compares loss and gradients.

Model (same as Sources/Model/Networks/VariationalAutoencoder.swift, tutorial eq. 5-10):
    encoder.0: 12 -> 7 ReLU          h = relu(x W0 + b0)
    encoder.1: 7 -> 2*3 (head)       [mu | logvar] = h W1 + b1       (one fused layer)
    z = mu + exp(logvar / 2) * eps   (eq. 10)
    decoder.0: 3 -> 7 ReLU           d = relu(z D0 + c0)
    decoder.1: 7 -> 12               logits = d D1 + c1
    reconstruction = sum over batch and pixels of -log P(x|z):
        bernoulli: max(l,0) - l x + log1p(exp(-|l|))    (sigmoid cross-entropy, targets in [0,1])
        gaussian:  (x - sigmoid(l))^2 / (2 s^2) + log(2 pi s^2) / 2
    kl = sum over batch of 1/2 sum_j (exp(logvar) + mu^2 - 1 - logvar)   (eq. 7)
    gradients are of gradient_scale * (reconstruction + kl), gradient_scale = 1 / batch.
Weights are stored as W[in][out] (row-major [in x out]), as the Swift layers do. All inputs are rounded
to float32 first, so both sides start from bit-identical values. The script checks its own analytic
gradients against float64 central differences before writing.

Usage: python3 scripts/reference/vae_reference.py [output.json]
"""
import json
import os
import sys

import numpy as np

INPUT, HIDDEN, LATENT, BATCH = 12, 7, 3, 4
SEED = 20160619


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def make_case(rng):
    def linear(n_in, n_out):
        bound = 1.0 / np.sqrt(n_in)
        # Scaled a little above nn.Linear's default so the ReLUs and the latent are not all tiny.
        return (f32(rng.uniform(-2 * bound, 2 * bound, (n_in, n_out))),
                f32(rng.uniform(-bound, bound, n_out)))
    params = {}
    for name, (n_in, n_out) in [("encoder.0", (INPUT, HIDDEN)), ("encoder.1", (HIDDEN, 2 * LATENT)),
                                ("decoder.0", (LATENT, HIDDEN)), ("decoder.1", (HIDDEN, INPUT))]:
        w, b = linear(n_in, n_out)
        params[name + ".weight"], params[name + ".bias"] = w, b
    x = f32(rng.uniform(0, 1, (BATCH, INPUT)))
    x[0, :3] = [0.0, 1.0, 0.5]          # exact 0/1 targets too
    eps = f32(rng.standard_normal((BATCH, LATENT)))
    return params, x, eps


def sigmoid(l):
    return np.where(l >= 0, 1 / (1 + np.exp(-np.abs(l))), np.exp(-np.abs(l)) / (1 + np.exp(-np.abs(l))))


def forward_backward(p, x, eps, output, sigma, scale):
    h_pre = x @ p["encoder.0.weight"] + p["encoder.0.bias"]
    h = np.maximum(h_pre, 0)
    head = h @ p["encoder.1.weight"] + p["encoder.1.bias"]
    mu, logvar = head[:, :LATENT], head[:, LATENT:]
    std = np.exp(0.5 * logvar)
    z = mu + std * eps
    d_pre = z @ p["decoder.0.weight"] + p["decoder.0.bias"]
    d = np.maximum(d_pre, 0)
    logits = d @ p["decoder.1.weight"] + p["decoder.1.bias"]

    if output == "bernoulli":
        recon = np.sum(np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits))))
        dlogits = sigmoid(logits) - x
    else:
        f = sigmoid(logits)
        recon = np.sum(0.5 * (x - f) ** 2 / sigma ** 2 + 0.5 * np.log(2 * np.pi * sigma ** 2))
        dlogits = (f - x) / sigma ** 2 * f * (1 - f)
    kl = 0.5 * np.sum(np.exp(logvar) + mu ** 2 - 1 - logvar)

    g = {}
    dlogits = scale * dlogits
    g["decoder.1.weight"] = d.T @ dlogits
    g["decoder.1.bias"] = dlogits.sum(0)
    dd = (dlogits @ p["decoder.1.weight"].T) * (d_pre > 0)
    g["decoder.0.weight"] = z.T @ dd
    g["decoder.0.bias"] = dd.sum(0)
    dz = dd @ p["decoder.0.weight"].T
    dmu = dz + scale * mu
    dlogvar = dz * eps * 0.5 * std + scale * 0.5 * (np.exp(logvar) - 1)
    dhead = np.concatenate([dmu, dlogvar], axis=1)
    g["encoder.1.weight"] = h.T @ dhead
    g["encoder.1.bias"] = dhead.sum(0)
    dh = (dhead @ p["encoder.1.weight"].T) * (h_pre > 0)
    g["encoder.0.weight"] = x.T @ dh
    g["encoder.0.bias"] = dh.sum(0)
    return recon, kl, g


def central_difference_check(p, loss_terms_and_gradients, scale, what="reference"):
    """Central differences in float64 on every parameter of `p` (changed in place and restored) against the
    analytic gradients of `loss_terms_and_gradients(p) -> (reconstruction, kl, gradients)`: the reference must
    be right before Swift is compared. Returns the worst relative error; fails above 1e-5."""
    _, _, g = loss_terms_and_gradients(p)
    h = 1e-6
    worst = 0.0
    for name, value in p.items():
        flat = value.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + h
            rp, kp, _ = loss_terms_and_gradients(p)
            flat[i] = old - h
            rm, km, _ = loss_terms_and_gradients(p)
            flat[i] = old
            fd = scale * ((rp + kp) - (rm + km)) / (2 * h)
            worst = max(worst, abs(fd - g[name].reshape(-1)[i]) / max(1e-3, abs(fd)))
    assert worst < 1e-5, f"{what}: gradient self-check failed: {worst}"
    return worst


def self_check(p, x, eps, output, sigma, scale):
    return central_difference_check(p, lambda q: forward_backward(q, x, eps, output, sigma, scale), scale)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "..", "Tests", "ModelTests", "Fixtures", "vae_small.json")
    out_path = sys.argv[1] if len(sys.argv) > 1 else default
    rng = np.random.default_rng(SEED)
    params, x, eps = make_case(rng)
    scale = 1.0 / BATCH
    cases = []
    for output, sigma in [("bernoulli", 0.0), ("gaussian", 0.3)]:
        recon, kl, grads = forward_backward(params, x, eps, output, sigma, scale)
        worst = self_check(params, x, eps, output, sigma, scale)
        print(f"{output}: recon {recon:.12g} kl {kl:.12g} self-check max rel err {worst:.2e}")
        cases.append({
            "output": output, "sigma": sigma,
            "loss": {"reconstruction": recon, "kl": kl, "total": recon + kl},
            "gradients": {k: v.reshape(-1).tolist() for k, v in grads.items()},
        })
    fixture = {
        "description": "float64 numpy reference, scripts/reference/vae_reference.py",
        "input": INPUT, "encoder_hidden": [HIDDEN], "latent": LATENT, "decoder_hidden": [HIDDEN], "batch": BATCH,
        "gradient_scale": scale,
        "weight_layout": "W[in][out] row-major, flattened; bias [out]",
        "parameters": {k: {"shape": list(v.shape), "values": v.reshape(-1).tolist()} for k, v in params.items()},
        "x": x.reshape(-1).tolist(),
        "epsilon": eps.reshape(-1).tolist(),
        "cases": cases,
    }
    with open(out_path, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(out_path))


if __name__ == "__main__":
    main()
