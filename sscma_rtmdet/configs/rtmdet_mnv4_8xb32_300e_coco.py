_base_ = './rtmdet_nano_8xb32_300e_coco.py'
# MobileNetV4-Conv-Small backbone feeding the nano neck and head.
act = 'relu'
model = dict(backbone=dict(_delete_=True, type='MobileNetV4ConvSmall', act='relu'))
# Starts from the broad-set pretraining in pretrained/README.md; load_from=None trains from random weights.
# timm's ImageNet mobilenetv4_conv_small weights load too (load_from=PATH; the backbone only).
load_from = 'pretrained/rtmdet_mnv4_broad.pth'
# Half the nano's lr (7.1e-4 at batch 32): from this start it scored higher on both learning benchmarks
# than 0.004 or 0.001 did (docs/results.md, session 18).
base_lr = 0.002
