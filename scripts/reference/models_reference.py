#!/usr/bin/env python3
"""Float64 numpy reference for three Adam steps of every model: VAE, CVAE, label CVAE, regressor, with and
without the condition tower.

Writes Tests/ModelTests/Fixtures/models_adam3.json, which the Swift test `ModelReferenceStepsTests` loads:
it injects the same initial weights by layout name, feeds the same three batches and the same ε, runs
`forwardBackward` + `Adam` three times, and compares the loss terms of every step and the parameters and
Adam moments after the last one. `vae_reference.py` checks one forward/backward of the VAE; this file adds
what only shows over several steps (Adam's moments and bias correction, the updated weights feeding the
next forward) and the conditioned models' wiring.

Models (as Sources/Model/Networks; W stored [in][out], the Swift layout; an input in two parts
[first | second] multiplies the first `first` rows of W with the first part and the rest with the second,
which is exactly [first, second] · W on the concatenated input):
    condition X (width C):  middle pixel column (pixels k·4 + 2 of a 4×4 image) or one-hot label (10 classes)
    tower (optional, §5):   F = relu(X T0 + t0)   `condition.0`; without a tower F = X
    VAE / CVAE (eq. 5-10, 12-15; the VAE has no X):
        encoder.0: [Y | F] -> hidden ReLU,  encoder.1: hidden -> [mu | logvar] (2·latent)
        z = mu + exp(logvar / 2) ε                                                    (eq. 10)
        decoder.0: [z | F] -> hidden ReLU,  decoder.1: hidden -> logits
        loss = -log P(Y | z, X) + KL[N(mu, σ²) || N(0, I)]                          (eq. 7, 15)
    regressor (§5):  decoder.0: F -> hidden ReLU, decoder.1: hidden -> logits; loss = -log P(Y | X), no KL
    -log P: sigmoid cross-entropy (Bernoulli, §4.1) or fixed-σ Gaussian on sigmoid(logits) (§2.4.3).
The gradient is of gradient_scale · Σ_batch loss, gradient_scale = 1/batch, as the trainer passes it.

Determinism: the Swift CVAE binarizes the column with counter-RNG noise (X_k = u_k < pixel, u_k in [0, 1));
pixels exactly 0 or 1 give X_k = pixel whatever u_k is, so the column's pixels here are all 0 or 1.

Adam (Kingma & Ba; PyTorch's torch.optim.Adam, as Sources/Model/Kernels/ElementwiseAdam.swift):
    g <- g + wd·θ;  m <- β1 m + (1-β1) g;  v <- β2 v + (1-β2) g²
    θ <- θ - lr / (1-β1^t) · m / (sqrt(v) / sqrt(1-β2^t) + eps)

Before anything is written, every step's analytic gradient is checked against float64 central differences,
and the case against what would keep float32 from following it (a ReLU input near its kink, a parameter
whose gradient is ~0 in every step so that rounding can flip Adam's step): see check_conditioning.

Usage: python3 scripts/reference/models_reference.py [output.json]
"""
import json
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vae_reference import central_difference_check, f32, sigmoid  # noqa: E402  (shared with the VAE reference)

WIDTH, INPUT, HIDDEN, LATENT, BATCH, STEPS, CLASSES, COLUMN = 4, 16, 7, 3, 4, 3, 10, 2
ADAM = {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
SEED = 20161012

# name, kind, conditioning, output, sigma, tower widths, weight decay
CASES = [
    ("vae-bernoulli", "vae", "none", "bernoulli", 0.0, [], 0.0),
    ("vae-gaussian", "vae", "none", "gaussian", 0.3, [], 0.0),
    ("cvae-column", "cvae", "pixel-column", "bernoulli", 0.0, [], 0.0),
    ("cvae-column-tower", "cvae", "pixel-column", "bernoulli", 0.0, [5], 0.0),
    ("cvae-label", "cvae", "label", "bernoulli", 0.0, [], 0.0),
    ("cvae-label-tower-decay", "cvae", "label", "gaussian", 0.3, [5], 0.01),
    ("regressor-column", "regressor", "pixel-column", "bernoulli", 0.0, [], 0.0),
    ("regressor-column-tower", "regressor", "pixel-column", "bernoulli", 0.0, [5], 0.0),
]


def condition_width(conditioning):
    return {"none": 0, "pixel-column": INPUT // WIDTH, "label": CLASSES}[conditioning]


def layer_shapes(kind, conditioning, tower):
    """[(name, inputs, outputs)] in the Swift layout's order: encoder, decoder, then the tower."""
    c = condition_width(conditioning)
    feature = tower[-1] if tower else c
    if kind == "regressor":
        layers = [("decoder.0", feature, HIDDEN), ("decoder.1", HIDDEN, INPUT)]
    else:
        layers = [("encoder.0", INPUT + feature, HIDDEN), ("encoder.1", HIDDEN, 2 * LATENT),
                  ("decoder.0", LATENT + feature, HIDDEN), ("decoder.1", HIDDEN, INPUT)]
    widths = [c] + tower
    layers += [(f"condition.{i}", widths[i], widths[i + 1]) for i in range(len(tower))]
    return layers


def initial_parameters(rng, layers):
    """float32-valued weights, U(±2/sqrt(fan_in)) and biases U(±1/sqrt(fan_in)) (a little above nn.Linear's
    default so the ReLUs and the latent are not all tiny)."""
    params = {}
    for name, n_in, n_out in layers:
        bound = 1.0 / np.sqrt(n_in)
        params[name + ".weight"] = f32(rng.uniform(-2 * bound, 2 * bound, (n_in, n_out)))
        params[name + ".bias"] = f32(rng.uniform(-bound, bound, n_out))
    return params


def make_batches(rng):
    """Three batches: pixels in [0, 1] with the middle column exactly 0 or 1, labels, ε."""
    batches = []
    for _ in range(STEPS):
        x = f32(rng.uniform(0, 1, (BATCH, INPUT)))
        x[:, COLUMN::WIDTH] = rng.integers(0, 2, (BATCH, INPUT // WIDTH))
        x[0, 0] = 0.0                  # exact 0/1 targets elsewhere too
        x[1, 1] = 1.0
        labels = rng.integers(0, CLASSES, BATCH)
        eps = f32(rng.standard_normal((BATCH, LATENT)))
        batches.append((x, labels, eps))
    return batches


def conditions(conditioning, x, labels):
    if conditioning == "pixel-column":
        column = x[:, COLUMN::WIDTH]
        assert np.all((column == 0) | (column == 1)), "binarization is deterministic only for pixels 0 and 1"
        return column.copy()
    if conditioning == "label":
        return np.eye(CLASSES)[labels]
    return np.zeros((x.shape[0], 0))


ENCODER, DECODER = ["encoder.0", "encoder.1"], ["decoder.0", "decoder.1"]


def mlp_forward(p, names, x, pre, final_relu=False):
    """Outputs of consecutive layers (input first), ReLU on all but the last unless `final_relu` (as
    Sources/Model/Layers/MLP.swift); ReLU inputs are appended to `pre` (for the margin check)."""
    outs = [x]
    for i, name in enumerate(names):
        y = outs[-1] @ p[name + ".weight"] + p[name + ".bias"]
        if i < len(names) - 1 or final_relu:
            pre.append(y)
            y = np.maximum(y, 0)
        outs.append(y)
    return outs


def mlp_backward(p, names, outs, dy, g, final_relu=False):
    """Writes the layers' parameter gradients into g; returns the gradient w.r.t. the stack's input."""
    for i in reversed(range(len(names))):
        if i < len(names) - 1 or final_relu:
            dy = dy * (outs[i + 1] > 0)
        g[names[i] + ".weight"] = outs[i].T @ dy
        g[names[i] + ".bias"] = dy.sum(0)
        dy = dy @ p[names[i] + ".weight"].T
    return dy


def reconstruction(output, sigma, logits, x):
    """Σ -log P(x | logits) and its gradient w.r.t. the logits (as vae_reference.py / ElementwiseLoss)."""
    if output == "bernoulli":
        loss = np.sum(np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits))))
        return loss, sigmoid(logits) - x
    f = sigmoid(logits)
    loss = np.sum(0.5 * (x - f) ** 2 / sigma ** 2 + 0.5 * np.log(2 * np.pi * sigma ** 2))
    return loss, (f - x) / sigma ** 2 * f * (1 - f)


def forward_backward(case, p, x, labels, eps, scale, pre=None):
    """(reconstruction, kl, gradients of scale·(reconstruction + kl)) for one batch."""
    _, kind, conditioning, output, sigma, tower, _ = case
    pre = [] if pre is None else pre
    g = {}
    tower_names = [f"condition.{i}" for i in range(len(tower))]
    features = conditions(conditioning, x, labels)
    if tower:
        tower_outs = mlp_forward(p, tower_names, features, pre, final_relu=True)
        features = tower_outs[-1]
    if kind == "regressor":
        outs = mlp_forward(p, DECODER, features, pre)
        recon, dlogits = reconstruction(output, sigma, outs[-1], x)
        kl = 0.0
        dfeatures = mlp_backward(p, DECODER, outs, scale * dlogits, g)
    else:
        enc = mlp_forward(p, ENCODER, np.hstack([x, features]), pre)
        mu, logvar = enc[-1][:, :LATENT], enc[-1][:, LATENT:]
        std = np.exp(0.5 * logvar)
        z = mu + std * eps
        dec = mlp_forward(p, DECODER, np.hstack([z, features]), pre)
        recon, dlogits = reconstruction(output, sigma, dec[-1], x)
        kl = 0.5 * np.sum(np.exp(logvar) + mu ** 2 - 1 - logvar)
        ddec = mlp_backward(p, DECODER, dec, scale * dlogits, g)
        dz = ddec[:, :LATENT]
        dhead = np.hstack([dz + scale * mu, dz * eps * 0.5 * std + scale * 0.5 * (np.exp(logvar) - 1)])
        denc = mlp_backward(p, ENCODER, enc, dhead, g)
        # The tower's features feed both first layers: their gradient is the sum of both paths.
        dfeatures = ddec[:, LATENT:] + denc[:, INPUT:]
    if tower:
        mlp_backward(p, tower_names, tower_outs, dfeatures, g, final_relu=True)
    return recon, kl, g


def self_check(case, p, x, labels, eps, scale):
    """The reference's gradients against central differences (vae_reference's check)."""
    return central_difference_check(p, lambda q: forward_backward(case, q, x, labels, eps, scale), scale, case[0])


def adam_step(p, g, m, v, t, weight_decay):
    """One torch.optim.Adam step in float64, in place (ElementwiseAdam's formula)."""
    lr, b1, b2, eps = ADAM["learning_rate"], ADAM["beta1"], ADAM["beta2"], ADAM["epsilon"]
    for name in p:
        grad = g[name] + weight_decay * p[name]
        m[name] = b1 * m[name] + (1 - b1) * grad
        v[name] = b2 * v[name] + (1 - b2) * grad * grad
        p[name] = p[name] - lr / (1 - b1 ** t) * m[name] / (np.sqrt(v[name]) / np.sqrt(1 - b2 ** t) + eps)


def run_case(case, p, batches, jitter=None):
    """Three forward/backward + Adam steps; returns per-step losses, the final p, m, v, the smallest
    |ReLU input| met and the worst self-check error (every step's gradient). With `jitter` (a numpy
    Generator) it imitates float32 instead of checking: each nonzero gradient element moves by
    N(0, (1e-6 · its tensor's largest element)²) (exact zeros — dead ReLUs, zero inputs, absent labels —
    are exact in float32 too) and the parameters are rounded to float32 after each step."""
    scale = 1.0 / BATCH
    m = {k: np.zeros_like(a) for k, a in p.items()}
    v = {k: np.zeros_like(a) for k, a in p.items()}
    losses, relu_margin, worst = [], np.inf, 0.0
    for t, (x, labels, eps) in enumerate(batches, start=1):
        pre = []
        recon, kl, g = forward_backward(case, p, x, labels, eps, scale, pre)
        relu_margin = min(relu_margin, min(np.abs(a).min() for a in pre))
        if jitter is None:
            worst = max(worst, self_check(case, p, x, labels, eps, scale))
        losses.append({"reconstruction": float(recon), "kl": float(kl)})
        if jitter is not None:
            g = {k: np.where(a != 0, a + jitter.normal(0, 1e-6 * np.abs(a).max(), a.shape), 0) for k, a in g.items()}
        adam_step(p, g, m, v, t, case[6])
        if jitter is not None:
            p.update({k: f32(a) for k, a in p.items()})
    return losses, p, m, v, relu_margin, worst


def check_conditioning(case, initial, batches, final, relu_margin):
    """Checks that float32 can follow the float64 trajectory closely: no ReLU input within 1e-4 of 0 (float32
    moves them by ~1e-7, and a flipped ReLU is a jump), and gradients jittered by 1e-6 of their tensor's
    largest element (several times float32's error) move the final parameters by little, which an element
    whose gradient is ~0 in every step would not (Adam divides it by its own size: a sign flipped by
    rounding moves it by ~lr = 1e-2). Returns that movement (recorded in the fixture)."""
    assert relu_margin > 1e-4, f"{case[0]}: a ReLU input is {relu_margin} from its kink"
    jittered = run_case(case, {k: a.copy() for k, a in initial.items()}, batches, np.random.default_rng(1))[1]
    movement = max(np.abs(jittered[k] - final[k]).max() for k in final)
    assert movement < 1e-4, f"{case[0]}: 1e-6 gradient jitter moves a parameter by {movement}"
    return movement


def numbers(a, exact32=False):
    """A flat list for JSON: float32 values (exact32) as the double of their shortest round-trip text,
    which Swift's Float(Double) reads back bit for bit (asserted); float64 results to 12 significant digits
    (1e-12 relative, far below any tolerance)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    out = [float(str(np.float32(x))) if exact32 else float("%.12g" % x) for x in a]
    assert not exact32 or all(np.float32(y) == x for y, x in zip(out, a)), "not float32 values"
    return out


def flat(d, exact32=False):
    return {k: numbers(a, exact32) for k, a in d.items()}


def write(path, fixture):
    """JSON with every list of numbers on one line (diffable, a few times smaller than a number a line)."""
    text = json.dumps(fixture, indent=1)
    text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    with open(path, "w") as f:
        f.write(text + "\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "..", "Tests", "ModelTests", "Fixtures", "models_adam3.json")
    out_path = sys.argv[1] if len(sys.argv) > 1 else default
    rng = np.random.default_rng(SEED)
    batches = make_batches(rng)
    cases = []
    for case in CASES:
        name, kind, conditioning, output, sigma, tower, weight_decay = case
        layers = layer_shapes(kind, conditioning, tower)
        initial = initial_parameters(rng, layers)
        losses, p, m, v, relu_margin, worst = run_case(case, {k: a.copy() for k, a in initial.items()}, batches)
        movement = check_conditioning(case, initial, batches, p, relu_margin)
        print(f"{name}: losses {[(round(s['reconstruction'], 6), round(s['kl'], 6)) for s in losses]} "
              f"self-check {worst:.1e}, min |ReLU input| {relu_margin:.1e}, jitter moves θ by {movement:.1e}")
        cases.append({
            "name": name, "kind": kind, "conditioning": conditioning, "output": output, "sigma": sigma,
            "condition_tower": tower, "weight_decay": weight_decay,
            "shapes": {k: list(a.shape) for k, a in initial.items()},
            "jitter_movement": movement, "initial": flat(initial, exact32=True), "losses": losses,
            "final": {"parameters": flat(p), "exp_avg": flat(m), "exp_avg_sq": flat(v)},
        })
    fixture = {
        "description": "float64 numpy reference, scripts/reference/models_reference.py: 3 Adam steps per model",
        "input": INPUT, "image_width": WIDTH, "column": COLUMN, "classes": CLASSES, "hidden": [HIDDEN],
        "latent": LATENT, "batch": BATCH, "gradient_scale": 1.0 / BATCH, "adam": ADAM,
        "weight_layout": "W[in][out] row-major, flattened; bias [out]; a two-part input's first part owns the first rows",
        "batches": [{"pixels": numbers(x, True), "labels": labels.tolist(), "epsilon": numbers(eps, True)}
                    for x, labels, eps in batches],
        "cases": cases,
    }
    write(out_path, fixture)
    print("wrote", os.path.normpath(out_path))


if __name__ == "__main__":
    main()
