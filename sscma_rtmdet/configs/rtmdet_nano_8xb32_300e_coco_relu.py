_base_ = './rtmdet_nano_8xb32_300e_coco.py'
# Nano for int8 NPUs (Ethos-U55, ESP32-S3): ReLU everywhere, SPP pools split into stacked 3x3 max-pools
# (every op maps to the NPU), unshared head convs.
act = 'relu'
split_pool = True
share_conv = False
channel_attention = True
load_from = 'pretrained/rtmdet_nano_relu_broad.pth'  # the ReLU twin of the nano's pretrained weights
