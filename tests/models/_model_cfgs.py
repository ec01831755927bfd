"""Model config dicts for tests (same schema as the config files' `model`)."""
from __future__ import annotations

SIZES = {  # name: (deepen, widen, exp_on_reg)
    "nano": (0.33, 0.25, False), "tiny": (0.167, 0.375, False), "s": (0.33, 0.5, False),
    "m": (0.67, 0.75, True), "l": (1.0, 1.0, True), "x": (1.33, 1.25, True),
}


def model_cfg(size: str = "tiny", num_classes: int = 80, act: str = "silu", share_conv: bool = True,
              split_pool: bool = False, channel_attention: bool = True) -> dict:
    deepen, widen, exp_on_reg = SIZES[size]
    neck_ch = int(256 * widen)
    return dict(
        backbone=dict(type="CSPNeXt", arch="P5", deepen_factor=deepen, widen_factor=widen, expand_ratio=0.5,
                      channel_attention=channel_attention, act=act, split_pool=split_pool),
        neck=dict(type="CSPNeXtPAFPN", out_channels=neck_ch, num_csp_blocks=max(round(3 * deepen), 1),
                  expand_ratio=0.5, act=act),
        head=dict(type="RTMDetSepBNHead", num_classes=num_classes, feat_channels=neck_ch, stacked_convs=2,
                  share_conv=share_conv, exp_on_reg=exp_on_reg, act=act, strides=(8, 16, 32)),
    )
