def test_overfits_a_handful_of_demo_images(overfit_run):
    """The whole training path (data, assigner, losses, EMA, LR schedule, eval) learns: 4 demo images,
    evaluated on themselves, reach mAP50 >= 0.9 in a few CPU minutes."""
    assert overfit_run["metrics"]["coco/bbox_mAP_50"] >= 0.9, overfit_run["metrics"]
