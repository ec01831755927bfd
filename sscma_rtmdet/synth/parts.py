"""Objects made of parts: polygons, ellipses, strokes and holes in unit coordinates, drawn as one layer.

A figure is a list of parts; each part is (kind, slot, geometry) in a unit frame ([-1, 1]^2, y down):
    ("poly", slot, points (K, 2))            filled polygon
    ("line", slot, points (K, 2), width)     open stroke of `width` units
Helpers build them: `ell` (filled ellipse), `rect`, `rrect` (rounded), `arc` (elliptic arc stroke),
`ring`. A later part paints over earlier ones; slot -1 cuts a hole through everything below it. Each
slot gets a colour of its style (paint.STYLES), a texture and a light gradient; slots listed as
cylinders are shaded across their width. `figure` draws it rotated and stretched at `radius` pixels per
unit with anti-aliasing; `figure_layer` makes a photo_layers layer of it.
"""
from __future__ import annotations

import cv2
import numpy as np

from .paint import bevel, cylinder, light_gradient, style_colour, texture

_N = 40  # points per full ellipse


def ell(cx, cy, rx, ry, slot=0, rot=0.0, a0=0.0, a1=360.0) -> tuple:
    """Filled ellipse (or the sector polygon between degrees a0 and a1 closed through its centre)."""
    t = np.radians(np.linspace(a0, a1, max(int(_N * (a1 - a0) / 360), 6)))
    p = np.stack([rx * np.cos(t), ry * np.sin(t)], 1) @ _rot(np.radians(rot)).T + [cx, cy]
    if a1 - a0 < 360:
        p = np.vstack([p, [[cx, cy]]])
    return ("poly", slot, p)


def rect(x0, y0, x1, y1, slot=0) -> tuple:
    return ("poly", slot, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float))


def rrect(x0, y0, x1, y1, r, slot=0) -> tuple:
    """Rectangle with corners rounded by r units."""
    r = min(r, (x1 - x0) / 2, (y1 - y0) / 2)
    corners = [(x1 - r, y1 - r, 0), (x0 + r, y1 - r, 90), (x0 + r, y0 + r, 180), (x1 - r, y0 + r, 270)]
    t = np.radians(np.arange(0, 91, 15))
    pts = [np.stack([cx + r * np.cos(t + np.radians(a)), cy + r * np.sin(t + np.radians(a))], 1)
           for cx, cy, a in corners]
    return ("poly", slot, np.vstack(pts))


def arc(cx, cy, rx, ry, a0, a1, width, slot=0) -> tuple:
    """Stroke along an ellipse from a0 to a1 degrees (0 = +x, 90 = down)."""
    t = np.radians(np.linspace(a0, a1, max(int(_N * abs(a1 - a0) / 360), 4)))
    return ("line", slot, np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1), width)


def ring(cx, cy, rx, ry, width, slot=0) -> tuple:
    return arc(cx, cy, rx, ry, 0, 360, width, slot)


def line(points, width, slot=0) -> tuple:
    return ("line", slot, np.asarray(points, float), width)


def poly(points, slot=0) -> tuple:
    return ("poly", slot, np.asarray(points, float))


def _rot(a: float) -> np.ndarray:
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def _owners(parts: list, m: np.ndarray, size: int, ss: int, scale: float) -> np.ndarray:
    """(size*ss, size*ss) int8 map: the slot owning each fine pixel (-1 = transparent)."""
    owner = np.full((size * ss, size * ss), -1, np.int8)
    centre = size / 2
    for part in parts:
        kind, slot, pts = part[:3]
        q = np.round(((np.asarray(pts, float) @ m.T) * scale + centre) * ss).astype(np.int32)
        mask = np.zeros(owner.shape, np.uint8)
        if kind == "poly":
            cv2.fillPoly(mask, [q], 1, cv2.LINE_8)
        else:
            cv2.polylines(mask, [q], False, 1, max(int(round(part[3] * scale * ss)), ss), cv2.LINE_8)  # >= 1 px
        owner[mask > 0] = slot
    return owner


def figure(rng: np.random.Generator, parts: list, styles: list[str], radius: float, angle: float = 0.0,
           aspect: float = 1.0, cylinders: tuple = (), sources: tuple = (), bevel_strength: float = 0.0):
    """Draw a figure: returns (alpha (s, s) float32 in [0, 1], bgr (s, s, 3) float32), cropped to its
    pixels (+1 px margin).

    radius: pixels per unit; angle: rotation in degrees; aspect: x stretch before rotating (negative:
    mirrored); styles: one paint style per slot (an int: the colour of that slot); cylinders: slots shaded
    as cylinders across the figure's x axis; sources: grey photos for textures; bevel_strength: lit edges.
    """
    m = _rot(np.radians(angle)) @ np.diag([aspect, 1.0])
    size = int(np.ceil(2 * radius * 1.5 * max(abs(aspect), 1.0))) + 4
    ss = 3 if radius < 40 else 2
    owner = _owners(parts, m, size, ss, radius)
    cov = [cv2.resize((owner == k).astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
           for k in range(len(styles))]
    alpha = np.minimum(sum(cov), 1.0).astype(np.float32)
    ys, xs = np.nonzero(alpha > 0.02)
    if len(ys) == 0:
        return np.zeros((1, 1), np.float32), np.zeros((1, 1, 3), np.float32)
    y0, y1, x0, x1 = max(ys.min() - 1, 0), ys.max() + 2, max(xs.min() - 1, 0), xs.max() + 2
    alpha, cov = alpha[y0:y1, x0:x1], [c[y0:y1, x0:x1] for c in cov]
    h, w = alpha.shape
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5 - size / 2
    u = (np.linalg.inv(m) @ np.stack([xx.ravel(), yy.ravel()]))[0].reshape(h, w) / radius  # figure x
    light = light_gradient(rng, h, w)
    if bevel_strength:
        light = light * bevel(alpha, rng.uniform(0, 2 * np.pi), bevel_strength, max(radius / 12, 1.0))
    colours = [style_colour(rng, s) if isinstance(s, str) else None for s in styles]
    colours = [c if c is not None else colours[s] for c, s in zip(colours, styles)]  # int: another slot's
    bgr = np.zeros((h, w, 3), np.float32)
    for k, (c, colour) in enumerate(zip(cov, colours)):
        shade = light * texture(rng, h, w, sources)
        if k in cylinders and (c > 0.5).any():
            lo, hi = u[c > 0.5].min(), u[c > 0.5].max()
            shade = shade * cylinder((u - (lo + hi) / 2) / max((hi - lo) / 2, 1e-3), rng.uniform(0.1, 0.5))
        bgr += c[..., None] * (colour * shade[..., None])
    return alpha, bgr / np.maximum(alpha, 1e-6)[..., None]


def figure_layer(rng, label: int, parts: list, styles: list[str], radius: float, cx: float, cy: float,
                 **kwargs) -> dict:
    """A photo_layers layer of `figure(...)` centred at (cx, cy); 35% of them cast a soft shadow."""
    alpha, bgr = figure(rng, parts, styles, radius, **kwargs)
    sh, sw = alpha.shape
    return dict(label=label, x0=int(round(cx)) - sw // 2, y0=int(round(cy)) - sh // 2, alpha=alpha, bgr=bgr,
                area=int((alpha >= 0.5).sum()), shadow=float(rng.uniform(0.2, 0.5)) if rng.random() < 0.35 else 0.0,
                shift=tuple(int(v) for v in rng.integers(-3, 4, 2)))
