"""The verifier model (``VerifierNet``) and its export to ONNX, the form the live path loads.

Torch is imported only when a model is built or exported (the command's ``--help`` needs none).
"""

from __future__ import annotations

from pathlib import Path

from issc.plates.verifier import N_FEATURES, WINDOW_H, WINDOW_W


def verifier_net(torch):
    """A fresh ``VerifierNet`` (``torch``: the imported module)."""
    nn = torch.nn

    def block(cin: int, cout: int) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)
        )

    class VerifierNet(nn.Module):
        """Grey window (1, 32, 96) + read features → plate logit and plate box (window fractions)."""

        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Sequential(block(1, 12), block(12, 24), block(24, 32), block(32, 32))
            flat = 32 * (WINDOW_H // 16) * (WINDOW_W // 16)
            self.hidden = nn.Sequential(nn.Linear(flat + N_FEATURES, 64), nn.ReLU(), nn.Dropout(0.2))
            self.cls = nn.Linear(64, 1)
            self.box = nn.Linear(64, 4)

        def forward(self, window, features):
            h = self.hidden(torch.cat([self.conv(window).flatten(1), features], dim=1))
            return self.cls(h).squeeze(1), self.box(h)

    return VerifierNet()


def export(net, path: Path) -> None:
    """Write ``net`` as ONNX (inputs ``window`` (n, 1, H, W), ``features``; outputs logit, box)."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        net,
        (torch.zeros(1, 1, WINDOW_H, WINDOW_W), torch.zeros(1, N_FEATURES)),
        str(path),
        input_names=["window", "features"],
        output_names=["logit", "box"],
        dynamic_axes={"window": {0: "n"}, "features": {0: "n"}, "logit": {0: "n"}, "box": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
