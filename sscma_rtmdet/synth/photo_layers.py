"""Layers for the generated sets: anti-aliased jittered shapes and their painted surfaces (photo_objects),
compositing that tracks what stays visible, and the camera (blur, noise, JPEG quality) of every set.

A layer is dict(label (-1 = clutter), x0, y0 (top-left in image pixels, may lie outside the frame),
alpha (sh, sw) float32 in [0, 1], bgr (sh, sw, 3) float32, area (pixels with alpha >= 0.5), shadow (darkening
0..0.5, 0 = none), shift (dx, dy) of the shadow), optionally min_visible (the share of its pixels an object
needs visible). `compose` paints layers in order and returns the visible box of every object layer.
"""
from __future__ import annotations

import colorsys

import cv2
import numpy as np

from .boxes import mask_extent
from .writer import Sample

MIN_VISIBLE = 0.4  # of an object's own pixels; below this it is left out entirely


# ---------------------------------------------------------------------------------------------- shapes
def _ngon(n: int, r: float = 1.0, rot: float = 0.0, c=(0.0, 0.0)) -> np.ndarray:
    """(n, 2) vertices of a regular n-gon of radius r centred at c, first vertex at angle rot."""
    a = rot + np.arange(n) * 2 * np.pi / n
    return np.stack([c[0] + r * np.cos(a), c[1] + r * np.sin(a)], axis=1)


_T = 0.33
SHAPES = {  # unit-radius polygons: (points (K, 2), 1 = fill / 0 = cut a hole)
    "disc": [(_ngon(48), 1)],
    "square": [(_ngon(4, 1, np.pi / 4), 1)],
    "triangle": [(_ngon(3, 1, -np.pi / 2), 1)],
    "star": [(_ngon(10) * np.tile([1.0, 0.42], 5)[:, None], 1)],
    "cross": [(np.array([[-_T, -1], [_T, -1], [_T, -_T], [1, -_T], [1, _T], [_T, _T], [_T, 1], [-_T, 1],
                         [-_T, _T], [-1, _T], [-1, -_T], [-_T, -_T]]), 1)],
    "ring": [(_ngon(48), 1), (_ngon(48, 0.55), 0)],
    "hexagon": [(_ngon(6), 1)],
    "arrow": [(np.array([[-1, -.25], [.2, -.25], [.2, -.6], [1, 0], [.2, .6], [.2, .25], [-1, .25]]), 1)],
    "crescent": [(_ngon(48), 1), (_ngon(48, 0.85, 0, (0.42, 0.0)), 0)],
    "diamond": [(np.array([[0, -1], [0.6, 0], [0, 1], [-0.6, 0]]), 1)],
}


def clutter_polys(rng: np.random.Generator) -> list:
    """Unit-radius polygons of one non-class shape (same format as SHAPES' values)."""
    kind = int(rng.integers(7))
    if kind == 0:  # irregular polygon
        n = int(rng.integers(5, 10))
        a = np.sort(rng.uniform(0, 2 * np.pi, n))
        return [(np.stack([np.cos(a), np.sin(a)], 1) * rng.uniform(0.4, 1.0, (n, 1)), 1)]
    if kind == 1:  # elongated ellipse
        return [(_ngon(40) * [1.0, rng.uniform(0.2, 0.55)], 1)]
    if kind == 2:  # bar / stick
        t = rng.uniform(0.04, 0.25)
        return [(np.array([[-1, -t], [1, -t], [1, t], [-1, t]]), 1)]
    if kind == 3:  # blob: a few overlapping discs
        return [(_ngon(32, rng.uniform(0.3, 0.6), 0, rng.uniform(-0.45, 0.45, 2)), 1)
                for _ in range(int(rng.integers(2, 5)))]
    if kind == 4:  # half disc
        a = np.linspace(0, np.pi, 25)
        return [(np.stack([np.cos(a), np.sin(a) - 0.4], 1), 1)]
    if kind == 5:  # L shape
        return [(np.array([[-1, -1], [-.4, -1], [-.4, .4], [1, .4], [1, 1], [-1, 1]]), 1)]
    return [(np.array([[-1, 0.6], [1, 0.6], [0.45, -0.6], [-0.45, -0.6]]), 1)]  # trapezoid


def _rasterize(rng: np.random.Generator, polys: list, radius: float, ss: int = 4) -> np.ndarray:
    """Anti-aliased alpha (s, s) float32 in [0, 1] of rotated, aspect- and perspective-jittered polygons.

    Drawn at ss x resolution and area-averaged down; the shape is centred in the square canvas.
    """
    rot = rng.uniform(-np.pi, np.pi)
    rmat = np.array([[np.cos(rot), -np.sin(rot)], [np.sin(rot), np.cos(rot)]])
    amat = rmat @ np.diag(rng.uniform(0.85, 1.15, 2))
    persp = rng.uniform(-0.12, 0.12, 2)
    size = int(np.ceil(2.6 * radius)) + 4
    canvas = np.zeros((size * ss, size * ss), np.uint8)
    for pts, fill in polys:
        p = pts @ amat.T
        p = p / (1.0 + p @ persp)[:, None]  # mild keystone
        q = np.round((p * radius + size / 2) * ss).astype(np.int32)
        cv2.fillPoly(canvas, [q], 255 if fill else 0, cv2.LINE_8)
    return cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _paint(rng: np.random.Generator, photos, shape: tuple[int, int], hue: float) -> np.ndarray:
    """(s, s, 3) float32 BGR surface: jittered colour x lighting gradient x photo texture."""
    s, v = rng.uniform(0.3, 0.9), rng.uniform(0.35, 1.0)
    rgb = np.array(colorsys.hsv_to_rgb((hue % 360) / 360, s, v), np.float32) * 255
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    grad = ((xx - w / 2) * np.cos(ang) + (yy - h / 2) * np.sin(ang)) / max(h, w)
    light = 1.0 + rng.uniform(0.3, 0.9) * grad
    src = photos[int(rng.integers(len(photos)))]
    k = rng.uniform(0.5, 2.0)
    th, tw = min(src.shape[0], max(int(h * k), 2)), min(src.shape[1], max(int(w * k), 2))
    y0, x0 = int(rng.integers(src.shape[0] - th + 1)), int(rng.integers(src.shape[1] - tw + 1))
    tex = cv2.resize(cv2.cvtColor(src[y0:y0 + th, x0:x0 + tw], cv2.COLOR_BGR2GRAY), (w, h)).astype(np.float32)
    tex = (tex - tex.mean()) / (tex.std() + 1.0)
    light = light * (1.0 + rng.uniform(0.03, 0.12) * tex)
    return light[..., None] * rgb[::-1]


def photo_clutter(rng: np.random.Generator, photos, h: int, w: int, count: tuple, size: tuple):
    """(under, over) lists of clutter layers: rng.integers(*count) shapes of diameter size[0]-size[1] of the
    short side (log-uniform), 60% of them under the objects."""
    under, over = [], []
    for _ in range(int(rng.integers(*count))):
        r = min(h, w) * np.exp(rng.uniform(np.log(size[0]), np.log(size[1]))) / 2
        lay = make_layer(rng, photos, clutter_polys(rng), r, rng.uniform(0, w), rng.uniform(0, h),
                         rng.uniform(0, 360), -1)
        (under if rng.random() < 0.6 else over).append(lay)
    return under, over


def make_layer(rng, photos, polys, radius: float, cx: float, cy: float, hue: float, label: int) -> dict:
    """One paintable layer: label (-1 for clutter), top-left x0/y0, alpha, bgr, area, shadow."""
    alpha = _rasterize(rng, polys, radius)
    s = alpha.shape[0]
    return dict(label=label, x0=int(round(cx)) - s // 2, y0=int(round(cy)) - s // 2, alpha=alpha,
                bgr=_paint(rng, photos, alpha.shape, hue), area=int((alpha >= 0.5).sum()),
                shadow=float(rng.uniform(0.2, 0.5)) if rng.random() < 0.4 else 0.0,
                shift=tuple(int(v) for v in rng.integers(-3, 4, 2)))


# ---------------------------------------------------------------------------------------------- compose
def _clip(layer: dict, h: int, w: int):
    """((image rows, cols), (canvas rows, cols)) slices of a layer's part inside the frame, or None."""
    (sh, sw), x0, y0 = layer["alpha"].shape, layer["x0"], layer["y0"]
    ax0, ay0, ax1, ay1 = max(x0, 0), max(y0, 0), min(x0 + sw, w), min(y0 + sh, h)
    if ax1 <= ax0 or ay1 <= ay0:
        return None
    return (slice(ay0, ay1), slice(ax0, ax1)), (slice(ay0 - y0, ay1 - y0), slice(ax0 - x0, ax1 - x0))


def _visible(layers: list[dict], h: int, w: int) -> list:
    """Per layer: bool canvas mask of its visible pixels (in frame, alpha >= 0.5, not covered by a later
    layer's alpha >= 0.5); None for clutter."""
    out = []
    for i, a in enumerate(layers):
        if a["label"] < 0:
            out.append(None)
            continue
        vis = np.zeros(a["alpha"].shape, bool)
        c = _clip(a, h, w)
        if c:
            vis[c[1]] = a["alpha"][c[1]] >= 0.5
        for b in layers[i + 1:]:
            x0, y0 = max(a["x0"], b["x0"]), max(a["y0"], b["y0"])
            x1 = min(a["x0"] + a["alpha"].shape[1], b["x0"] + b["alpha"].shape[1])
            y1 = min(a["y0"] + a["alpha"].shape[0], b["y0"] + b["alpha"].shape[0])
            if x1 > x0 and y1 > y0:
                vis[y0 - a["y0"]:y1 - a["y0"], x0 - a["x0"]:x1 - a["x0"]] &= \
                    b["alpha"][y0 - b["y0"]:y1 - b["y0"], x0 - b["x0"]:x1 - b["x0"]] < 0.5
        out.append(vis)
    return out


def _paint_layer(img: np.ndarray, layer: dict) -> None:
    """Alpha-blend one layer (after its soft shadow, if any) into img (h, w, 3) float32 in place."""
    h, w = img.shape[:2]
    if layer["shadow"]:
        dx, dy = layer["shift"]
        c = _clip(dict(layer, x0=layer["x0"] + dx, y0=layer["y0"] + dy), h, w)
        if c:
            a = cv2.GaussianBlur(layer["alpha"], (0, 0), 1.5)[c[1]]
            img[c[0]] *= (1.0 - layer["shadow"] * a)[..., None]
    c = _clip(layer, h, w)
    if c:
        a = layer["alpha"][c[1]][..., None]
        img[c[0]] = img[c[0]] * (1.0 - a) + layer["bgr"][c[1]] * a


def compose(img: np.ndarray, layers: list[dict], min_visible: float = MIN_VISIBLE):
    """Paint `layers` in order onto img (h, w, 3) float32 (in place); returns (img, objects).

    objects: [dict(label, box=(x0, y0, x1, y1) inclusive pixel extent of the visible pixels)]. An object
    layer with under min_visible (or its own "min_visible") of its pixels visible is dropped (not painted);
    dropping only uncovers others, so the loop ends after at most one more pass.
    """
    h, w = img.shape[:2]
    while True:
        vis = _visible(layers, h, w)
        keep = [v is None or (lay["area"] > 0 and v.sum() >= lay.get("min_visible", min_visible) * lay["area"])
                for lay, v in zip(layers, vis)]
        if all(keep):
            break
        layers = [lay for lay, k in zip(layers, keep) if k]
    objects = []
    for lay, v in zip(layers, vis):
        _paint_layer(img, lay)
        extent = None if v is None else mask_extent(v.astype(np.uint8))
        if extent is not None and extent[2] > extent[0] and extent[3] > extent[1]:  # at least 2x2 pixels
            x0, y0 = lay["x0"], lay["y0"]
            objects.append(dict(label=lay["label"], box=(x0 + extent[0], y0 + extent[1], x0 + extent[2],
                                                         y0 + extent[3])))
    return img, objects


def camera(rng: np.random.Generator, img: np.ndarray, objects: list, noise: tuple, quality: tuple,
           blur: tuple = (0.3, 0.9)) -> Sample:
    """Blur 30% of images (sigma in `blur`), add Gaussian noise (sigma in `noise`), draw a JPEG quality in
    [quality[0], quality[1]); img (h, w, 3) float32 -> a Sample."""
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(*blur))
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(*noise))
    return Sample.from_objects(np.clip(img + 0.5, 0, 255).astype(np.uint8), objects, int(rng.integers(*quality)))
