"""Output layouts: the firmware's [1, H*W, C] rows with the half-cell folded in, read back to what the
decoder takes; the 4-class padding channel stays strictly below every class."""
import numpy as np
import pytest
import torch

from sscma_rtmdet.models.head import box_values
from sscma_rtmdet.runtime.layout import (CLASS_LOGIT_FLOOR, PAD_LOGIT, graph_outputs, output_shapes,
                                         score_channels, to_canonical)

STRIDES = (8, 16, 32)


def _head(c: int, hw=(64, 96), n: int = 2):
    g = torch.Generator().manual_seed(0)
    cls = [torch.randn(n, c, hw[0] // s, hw[1] // s, generator=g) * 4 for s in STRIDES]
    reg = [torch.rand(n, 4, hw[0] // s, hw[1] // s, generator=g) * 5 for s in STRIDES]
    return cls, reg


@pytest.mark.parametrize("layout", ["nchw", "sscma"])
@pytest.mark.parametrize("c", [1, 3, 4, 10])
def test_round_trip_to_what_the_decoder_reads(layout, c):
    cls, reg = _head(c)
    outs = graph_outputs(cls, box_values(reg, STRIDES, layout), layout)
    names = [f"score_s{s}" for s in STRIDES] + [f"box_s{s}" for s in STRIDES]
    shapes = output_shapes(layout, (64, 96), STRIDES, c)
    assert [list(o.shape[1:]) for o in outs] == [shapes[n][1:] for n in names]
    scores, boxes, logits = to_canonical({n: o.numpy() for n, o in zip(names, outs)}, STRIDES, layout, c, (64, 96))
    assert logits == (layout == "sscma")
    for s, sc, bx, lg, rg in zip(STRIDES, scores, boxes, cls, reg):
        ref = lg if logits else lg.sigmoid()
        if layout == "sscma" and c == 4:
            ref = ref.clamp(min=CLASS_LOGIT_FLOOR)
        np.testing.assert_allclose(sc, ref.numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(bx, (rg * s).numpy(), rtol=1e-5, atol=1e-4)  # pixels, half cell undone


def test_sscma_rows_are_row_major_and_boxes_in_grid_units_plus_half_cell():
    cls, reg = _head(3, hw=(32, 32), n=1)
    outs = graph_outputs(cls, box_values(reg, STRIDES, "sscma"), "sscma")
    box8 = outs[3][0]  # (16, 4): anchor j = row * 4 + col
    j, row, col = 6, 1, 2
    np.testing.assert_allclose(box8[j].numpy(), (reg[0][0, :, row, col] + torch.tensor([.5, .5, -.5, -.5])).numpy(),
                               rtol=1e-6)
    assert outs[0][0, j].tolist() == cls[0][0, :, row, col].tolist()


def test_four_classes_get_a_padding_channel_below_every_class():
    assert score_channels(4, "sscma") == 5 and score_channels(4, "nchw") == 4 and score_channels(3, "sscma") == 3
    cls, reg = _head(4)
    cls[0][:, :, 0, 0] = -50.0  # a background cell far below the floor
    scores = graph_outputs(cls, box_values(reg, STRIDES, "sscma"), "sscma")[:3]
    for s in scores:
        assert s.shape[-1] == 5 and (s[..., 4] == PAD_LOGIT).all()
        assert (s[..., :4] >= CLASS_LOGIT_FLOOR).all() and CLASS_LOGIT_FLOOR > PAD_LOGIT
