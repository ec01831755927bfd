_base_ = './rtmdet_nano_8xb32_300e_coco.py'
# MobileNetV4-Conv-Small backbone feeding the nano neck and head.
act = 'relu'
model = dict(backbone=dict(_delete_=True, type='MobileNetV4ConvSmall', act='relu'))
# Random init until its pretrained start ships: `python tools/pretrain.py configs/rtmdet_mnv4_8xb32_300e_coco.py
# --set broad --out pretrained/rtmdet_mnv4_broad.pth` makes it, then load_from = 'pretrained/rtmdet_mnv4_broad.pth'.
# timm's ImageNet mobilenetv4_conv_small weights load too (load_from=PATH; the backbone only).
load_from = None
