"""PyTorch's examples/vae model (pytorch/examples, vae/main.py), for checking vae-dist's safetensors export
and import against PyTorch itself. Used by scripts/test-pytorch-interop.

  pytorch_examples_vae.py check-export MODEL.safetensors DATA_DIR EXPECTED_NEG_ELBO
      loads the export with load_state_dict(strict=True), computes the test-set loss (BCE + KL per example,
      one posterior draw) and checks it is within 0.5% of EXPECTED_NEG_ELBO (vae-dist eval's figure)
  pytorch_examples_vae.py write-init OUT.safetensors DATA_DIR
      writes a freshly initialized model (seed 0) and prints its test-set loss
"""
import gzip, json, os, sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def test_images(directory):
    path = os.path.join(directory, "t10k-images-idx3-ubyte.gz")
    with gzip.open(path, "rb") as f:
        raw = f.read()
    assert int.from_bytes(raw[:4], "big") == 2051, "not an IDX images file"
    count = int.from_bytes(raw[4:8], "big")
    return torch.from_numpy(np.frombuffer(raw[16:], dtype=np.uint8).reshape(count, 784).astype(np.float32) / 255.0)


def test_loss(model, images):
    torch.manual_seed(0)
    with torch.no_grad():
        total = 0.0
        for start in range(0, len(images), 1000):
            x = images[start:start + 1000]
            total += loss_function(*_split(model, x)).item()
    return total / len(images)


def _split(model, x):
    recon, mu, logvar = model(x)
    return recon, x, mu, logvar


def main():
    mode = sys.argv[1]
    torch.set_num_threads(1)
    if mode == "check-export":
        path, data, expected = sys.argv[2], sys.argv[3], float(sys.argv[4])
        model = VAE()
        model.load_state_dict(load_file(path), strict=True)
        loss = test_loss(model, test_images(data))
        ratio = loss / expected
        print(json.dumps({"pytorch_test_loss": loss, "vae_dist_negative_elbo": expected, "ratio": ratio}))
        sys.exit(0 if abs(ratio - 1) <= 0.005 else 1)
    if mode == "write-init":
        torch.manual_seed(0)
        model = VAE()
        save_file(model.state_dict(), sys.argv[2])
        print(json.dumps({"initial_test_loss": test_loss(model, test_images(sys.argv[3]))}))
        return
    sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
