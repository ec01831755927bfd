_base_ = './rtmdet_nano_8xb32_300e_coco_relu.py'
# Lean ReLU nano for weight-streaming NPUs (Grove Vision AI V2: Ethos-U55 reading int8 weights from flash,
# where weight bytes, not MACs, set the latency): the stride-32 stage stays 128 channels wide (backbone arch
# P5-lean), the neck's 3x3 convs are depthwise-separable (mmdet's use_depthwise) and the head has one conv
# per branch. 1.04 M parameters instead of 2.53 M; the stem and the first three stages are the ReLU nano's.
neck_channels = 48
model = dict(backbone=dict(arch='P5-lean'), neck=dict(use_depthwise=True), head=dict(stacked_convs=1))
load_from = 'pretrained/rtmdet_nano_relu_lean_broad.pth'
