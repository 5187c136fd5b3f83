"""Identity-preserving portrait renderer: warp the user's own photo by moved landmarks.

A :class:`PortraitRenderer` crops a square around the face (head and shoulders), then warps it
piecewise-affinely on a Delaunay mesh over the 68 landmarks, a ring of fixed points around the face and
the image border. Everything outside the ring stays exactly as in the photo, and nothing inside is
regenerated, so the person's identity cannot drift however long the clip.

The mesh is precomputed once: every output pixel inside the ring gets its triangle's barycentric weights
in a sparse ``(pixels, 68)`` matrix. A frame is then one sparse product (landmark displacements to a dense
displacement field ``d``), an approximate inverse of ``p -> p + d(p)`` by a few fixed-point steps
(``p = q - d(q - d(q - ...))``, each a remap of the field) and one :func:`cv2.remap` of the image. On top
of the warp, an open mouth gets a dark cavity and incisors (the upper ones hang from the skull, not from the
lip, so a smile shows more of them and a lowered lip hides them; the lower ones ride on the mandible, so a
lower lip pulled down shows them) and closing eyelids are covered with lid skin, with colours taken from the
portrait, so neither shows stretched skin (nor the photo's own smile).

numpy is imported here; OpenCV and scipy only when a renderer is built.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import INNER_LIPS, LEFT_EYE, NUM_LANDMARKS, RIGHT_EYE

__all__ = ["PortraitRenderer", "crop_box"]

#: Crop side as a multiple of the landmarks' extent (head and shoulders).
CROP_FACTOR = 2.5
#: Use the whole image when it is near-square and the wanted crop is at least this share of it.
WHOLE_IMAGE_SHARE = 0.75
#: Fixed ring around the face: ellipse semi-axes as multiples of the landmarks' half extent.
RING_SCALE = (1.45, 1.8)
RING_POINTS = 24
BORDER_POINTS_PER_SIDE = 6
#: Points that move with the skull (nose bridge and tip, eye corners): they carry the upper teeth.
RIGID_POINTS = [27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45]
#: Points that move with the mandible (the lower jaw line around the chin): they carry the lower teeth.
MANDIBLE_POINTS = [4, 5, 6, 7, 8, 9, 10, 11, 12]
#: Upper inner lip, corner to corner.
UPPER_INNER_LIP = [60, 61, 62, 63, 64]
#: Lower inner lip, corner to corner.
LOWER_INNER_LIP = [60, 67, 66, 65, 64]
#: How far the upper incisors reach below the relaxed upper inner lip, in eye distances.
TEETH_SHOW = 0.03
#: How far the lower incisors reach above the relaxed lower inner lip, in eye distances: negative, they sit
#: just behind it and, riding on the mandible, show only when the lower lip is pulled down further than the
#: jaw (as in anger), not when the jaw opens.
LOWER_TEETH_SHOW = -0.02
#: Width of the visible upper teeth as a share of the mouth width (the canines and beyond sit in shadow).
TEETH_WIDTH = 0.8
#: The lower incisors are narrower than the upper ones.
LOWER_TEETH_WIDTH = 0.6
#: Crown heights of the upper and lower incisors in eye distances (about 10 and 8.5 mm); gum beyond.
CROWN_HEIGHT = (0.15, 0.13)
#: Upper and lower eyelid points facing each other (image-left eye, then image-right).
LID_PAIRS = ((37, 41), (38, 40), (43, 47), (44, 46))
_UPPER_LIDS, _LOWER_LIDS = np.array(LID_PAIRS).T
#: Sub-pixel precision (bits) of polygon filling.
_SHIFT = 4


def crop_box(image_shape: tuple[int, ...], landmarks: np.ndarray) -> tuple[int, int, int]:
    """Square crop ``(x0, y0, side)`` around the face that shows head and shoulders.

    The whole image (its centred square) is used when it is about square and the wanted crop would cover
    most of it; otherwise a square of ``CROP_FACTOR`` times the landmarks' extent, centred a little below the
    face centre and shifted (and shrunk if needed) to lie inside the image.

    Args:
        image_shape (`tuple`): ``(height, width, ...)`` of the image.
        landmarks (`np.ndarray` of shape `(68, 2)`): the face's points in image pixels.
    """
    height, width = int(image_shape[0]), int(image_shape[1])
    p = np.asarray(landmarks, dtype=np.float64)
    (x0, y0), (x1, y1) = p.min(axis=0), p.max(axis=0)
    extent = max(x1 - x0, y1 - y0)
    short = min(height, width)
    wanted = CROP_FACTOR * extent
    if wanted >= WHOLE_IMAGE_SHARE * short and max(height, width) <= 1.1 * short:
        side = short
        cx, cy = width / 2, height / 2
    else:
        side = int(round(min(wanted, short)))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + 0.12 * extent
    left = int(round(np.clip(cx - side / 2, 0, width - side)))
    top = int(round(np.clip(cy - side / 2, 0, height - side)))
    return left, top, int(side)


@dataclass(frozen=True)
class _Region:
    """A rectangle ``[y0:y1, x0:x1]`` of the output image."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


def _region_around(points: np.ndarray, margin: float, size: int) -> _Region:
    lo = np.floor(points.min(axis=0) - margin).astype(int)
    hi = np.ceil(points.max(axis=0) + margin).astype(int) + 1
    lo, hi = np.clip(lo, 0, size), np.clip(hi, 0, size)
    return _Region(int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))


def _polygon_mask(points: np.ndarray, region: _Region, blur: float) -> np.ndarray:
    """Float mask in ``region`` of the polygon ``points`` (output pixels), feathered by a Gaussian blur."""
    import cv2

    mask = np.zeros((region.y1 - region.y0, region.x1 - region.x0), np.float32)
    if mask.size == 0:
        return mask
    poly = np.round((points - [region.x0, region.y0]) * (1 << _SHIFT)).astype(np.int32)
    cv2.fillPoly(mask, [poly], 1.0, lineType=cv2.LINE_AA, shift=_SHIFT)
    if blur > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), blur)
    return mask


class PortraitRenderer:
    r"""Warp one portrait by target landmarks, keeping everything outside the face untouched.

    Args:
        image_rgb (`np.ndarray` of shape `(H, W, 3)` uint8): the portrait, RGB.
        landmarks (`np.ndarray` of shape `(68, 2)`): its dlib 68 points in image pixels (x, y).
        size (`int`, defaults to 256): side of the square output frames.
        refinements (`int`, defaults to 3): fixed-point steps of the inverse warp (``p = q - d(p)``); more
            steps follow large brow and jaw motions more exactly, each costs one remap of the field.

    Example:
        >>> renderer = PortraitRenderer(image, face.points, size=256)  # doctest: +SKIP
        >>> frame = renderer.render(renderer.rest_landmarks)  # the cropped portrait itself
    """

    def __init__(self, image_rgb: np.ndarray, landmarks: np.ndarray, size: int = 256, refinements: int = 3) -> None:
        import cv2

        image = np.asarray(image_rgb)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            msg = f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}"
            raise ValueError(msg)
        points = np.asarray(landmarks, dtype=np.float64)
        if points.shape != (NUM_LANDMARKS, 2):
            msg = f"expected landmarks of shape (68, 2), got {points.shape}"
            raise ValueError(msg)
        self.size = int(size)
        self.refinements = int(refinements)
        left, top, side = crop_box(image.shape, points)
        self.crop = (left, top, side)
        scale = self.size / side
        crop = np.ascontiguousarray(image[top : top + side, left : left + side])
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        self.portrait = cv2.resize(crop, (self.size, self.size), interpolation=interpolation)
        # pixel-centre convention of cv2.resize
        self._rest = ((points - [left, top] + 0.5) * scale - 0.5).astype(np.float32)
        self._build_mesh()
        self._measure_portrait()

    # ------------------------------------------------------------------ set-up
    @property
    def rest_landmarks(self) -> np.ndarray:
        """The portrait's own 68 points in output pixels, ``(68, 2)`` float32 (a copy)."""
        return self._rest.copy()

    @property
    def moving_mask(self) -> np.ndarray:
        """Boolean ``(size, size)`` image of the pixels the warp can move (inside the fixed ring); the
        mouth and eyelid fills stay inside it too, so every other pixel is always the portrait's own."""
        return self._moving_mask.copy()

    @property
    def eye_distance(self) -> float:
        """Distance between the eye centres of the portrait, in output pixels."""
        return float(np.hypot(*(self._rest[RIGHT_EYE].mean(0) - self._rest[LEFT_EYE].mean(0))))

    def _ring(self) -> np.ndarray:
        p = self._rest.astype(np.float64)
        (x0, y0), (x1, y1) = p.min(axis=0), p.max(axis=0)
        centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2 - 0.05 * (y1 - y0)])
        half = np.array([(x1 - x0) / 2 * RING_SCALE[0], (y1 - y0) / 2 * RING_SCALE[1]])
        angles = np.linspace(0, 2 * np.pi, RING_POINTS, endpoint=False)
        return centre + half * np.stack([np.cos(angles), np.sin(angles)], axis=1)

    def _border(self) -> np.ndarray:
        s = self.size - 1
        t = np.linspace(0, s, BORDER_POINTS_PER_SIDE + 1)[:-1]
        zeros, full = np.zeros_like(t), np.full_like(t, s)
        return np.concatenate(
            [np.stack(a, axis=1) for a in ((t, zeros), (full, t), (s - t, full), (zeros, s - t))], axis=0
        )

    def _followers(self) -> tuple[np.ndarray, np.ndarray]:
        """Extra vertices under each brow point that move with it, so the brow itself is carried along
        rigidly (dlib's brow points sit on its upper edge) and the lid skin below stretches instead."""
        rest = self._rest.astype(np.float64)
        points, parents = [], []
        for brow, eye in ((range(17, 22), LEFT_EYE), (range(22, 27), RIGHT_EYE)):
            lid_top = rest[eye, 1].min()
            for j in brow:
                gap = lid_top - rest[j, 1]
                if gap > 2:
                    points.append(rest[j] + [0.0, min(0.4 * gap, 0.15 * self.eye_distance)])
                    parents.append(j)
        return np.array(points, dtype=np.float64).reshape(-1, 2), np.array(parents, dtype=int)

    def _build_mesh(self) -> None:
        """Delaunay mesh and the sparse per-pixel barycentric matrix over the landmark vertices."""
        from scipy.sparse import csr_matrix
        from scipy.spatial import Delaunay

        followers, parents = self._followers()
        vertices = np.concatenate([self._rest.astype(np.float64), followers, self._ring(), self._border()])
        # landmark each vertex moves with (-1: fixed)
        parent = np.full(len(vertices), -1)
        parent[:NUM_LANDMARKS] = np.arange(NUM_LANDMARKS)
        parent[NUM_LANDMARKS : NUM_LANDMARKS + len(parents)] = parents
        mesh = Delaunay(vertices)
        # only triangles with a moving corner can move; the rest of the image is left as it is
        moving = np.any(parent[mesh.simplices] >= 0, axis=1)
        corners = vertices[mesh.simplices[moving]].reshape(-1, 2)
        region = _region_around(corners, 1.0, self.size)
        self._warp_region = region
        ys, xs = np.mgrid[region.y0 : region.y1, region.x0 : region.x1]
        pixels = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
        from threadpoolctl import threadpool_limits

        # point location makes thousands of tiny LAPACK calls, which spin-wait with several BLAS threads on a
        # busy CPU (1.9 s instead of 0.08 s here): one thread is fastest
        with threadpool_limits(limits=1):
            simplex = mesh.find_simplex(pixels)
        inside = simplex >= 0
        inside[inside] = moving[simplex[inside]]
        rows = np.flatnonzero(inside)
        tri = simplex[rows]
        transform = mesh.transform[tri]
        b = np.einsum("nij,nj->ni", transform[:, :2], pixels[rows] - transform[:, 2])
        weights = np.concatenate([b, 1 - b.sum(axis=1, keepdims=True)], axis=1)
        cols = parent[mesh.simplices[tri]]
        keep = cols >= 0  # fixed vertices have zero displacement; duplicate entries add up
        matrix = csr_matrix(
            (weights[keep], (np.repeat(np.arange(len(rows)), 3)[keep.ravel()], cols[keep])),
            shape=(len(rows), NUM_LANDMARKS),
        )
        self._weights = matrix.astype(np.float32)
        self._rows = rows
        local = np.zeros(len(pixels), bool)
        local[rows] = True
        moving_mask = np.zeros((self.size, self.size), bool)
        moving_mask[region.slices] = local.reshape(ys.shape)
        self._moving_mask = moving_mask
        h, w = region.y1 - region.y0, region.x1 - region.x0
        self._grid = np.stack([xs, ys], axis=-1).astype(np.float32)
        self._local_grid = self._grid - np.array([region.x0, region.y0], np.float32)
        self._field_shape = (h, w, 2)

    def _measure_portrait(self) -> None:
        """Colours and openings of the portrait used by the mouth and eyelid fills."""
        rest, img = self._rest, self.portrait
        self._rest_mouth_open = _opening(rest, [61, 62, 63], [67, 66, 65])
        self._rest_eye_open = [_opening(rest, [37, 38], [41, 40]), _opening(rest, [43, 44], [47, 46])]
        # lip colour: pixels between the outer and inner lip contours
        region = _region_around(rest[48:60], 2, self.size)
        outer = _polygon_mask(rest[48:60], region, 0) > 0.5
        inner = _polygon_mask(rest[INNER_LIPS], region, 0) > 0.5
        lips = img[region.slices][outer & ~inner].astype(np.float32)
        if len(lips):
            # the redder half: thin lips' contours also hold teeth and skin
            redness = lips[:, 0] - lips[:, 1:].mean(axis=1)
            lip = np.median(lips[redness >= np.median(redness)], axis=0)
        else:
            lip = np.array([150.0, 90, 90], np.float32)
        # the mouth's back is a warm dark red
        self._cavity_colour = (lip * 0.22 * np.array([1.2, 0.8, 0.8])).astype(np.float32)
        self._gum_colour = (lip * 0.75).astype(np.float32)
        # skin: cheeks below the eyes and lid skin between each upper lid and brow
        cheek_points = np.stack([(rest[41] + rest[48]) / 2, (rest[46] + rest[54]) / 2])
        radius = max(1, int(0.08 * self.eye_distance))
        skin = np.concatenate([_patch(img, c, radius) for c in cheek_points])
        skin_colour = np.median(skin, axis=0)
        luma = float(_luma(skin_colour))
        k = float(np.clip(luma / 150.0, 0.55, 1.0))
        self._teeth_colour = np.array([232.0, 226.0, 212.0], np.float32) * k
        # per eye: lid skin (between the upper lid and the brow above it, its darkest quarter of lashes and brow
        # hair left out) and lashes (the darker pixels along the upper lid)
        self._lid_colour, self._lash_colour = [], []
        for lid, brow in (([37, 38], [19, 20]), ([43, 44], [23, 24])):
            skin_px = np.concatenate([_patch(img, (rest[i] + rest[j]) / 2, max(1, radius // 2)) for i, j in zip(lid, brow)])
            self._lid_colour.append(np.median(skin_px[_luma(skin_px) >= np.percentile(_luma(skin_px), 25)], axis=0))
            lash_px = np.concatenate([_patch(img, rest[i], max(1, radius // 2)) for i in lid])
            self._lash_colour.append(lash_px[_luma(lash_px) <= np.percentile(_luma(lash_px), 25)].mean(axis=0))
        self._blur = max(0.6, self.size / 400)

    # ------------------------------------------------------------------ frames
    def displacement(self, target_landmarks: np.ndarray) -> np.ndarray:
        """Dense displacement field ``(h, w, 2)`` of the warp region for target points (output pixels)."""
        delta = np.asarray(target_landmarks, dtype=np.float32).reshape(NUM_LANDMARKS, 2) - self._rest
        field = np.zeros(self._field_shape, np.float32)
        field.reshape(-1, 2)[self._rows] = self._weights @ delta
        return field

    def render(self, target_landmarks: np.ndarray) -> np.ndarray:
        """Render the portrait with its landmarks moved to ``target_landmarks``.

        Args:
            target_landmarks (`np.ndarray` of shape `(68, 2)`): points in output pixels (the frame of
                :attr:`rest_landmarks`).

        Returns:
            `np.ndarray` of shape `(size, size, 3)` uint8, RGB.
        """
        import cv2

        target = _lids_met(np.asarray(target_landmarks, dtype=np.float32).reshape(NUM_LANDMARKS, 2))
        region = self._warp_region
        field = self.displacement(target)
        # backward map: solve q = p + d(p) for p by fixed-point steps from p = q
        source_field = field
        for _ in range(self.refinements):
            local = self._local_grid - source_field
            source_field = cv2.remap(field, local, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        source = self._grid - source_field
        out = self.portrait.copy()
        out[region.slices] = cv2.remap(self.portrait, source, None, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        self._fill_eyes(out, target)
        self._fill_mouth(out, target)
        return out

    def _fill_mouth(self, out: np.ndarray, target: np.ndarray) -> None:
        """Dark cavity, lower and upper incisors where the inner lips open wider than in the portrait."""
        import cv2

        extra = _opening(target, [61, 62, 63], [67, 66, 65]) - self._rest_mouth_open
        strength = float(np.clip(extra / (0.06 * self.eye_distance), 0.0, 1.0))
        if strength <= 0:
            return
        inner = target[INNER_LIPS].astype(np.float64)
        centre = inner.mean(axis=0)
        spread = np.linalg.norm(inner - centre, axis=1, keepdims=True)
        inner = centre + (inner - centre) * (1 + 0.035 * self.eye_distance / np.maximum(spread, 1.0))
        region = _region_around(inner, 3, self.size)
        mask = _polygon_mask(inner, region, self._blur)
        if not mask.any():
            return
        h, w = mask.shape
        # cavity: dark under the upper teeth, lighter towards the tongue at the bottom
        ys = (np.arange(h, dtype=np.float32) + region.y0)[:, None, None]
        top, bottom = inner[:, 1].min(), inner[:, 1].max()
        depth = np.clip((ys - top) / max(bottom - top, 1.0), 0, 1)
        fill = np.broadcast_to(self._cavity_colour * (0.7 + 1.3 * depth**2), (h, w, 3)).copy()
        # teeth: lower incisors carried by the mandible, then the upper ones carried by the skull in front
        xs = (np.arange(w, dtype=np.float32) + region.x0)[None, :]
        for points, lip, show, width_share, crown, sign, brightness in (
            (MANDIBLE_POINTS, LOWER_INNER_LIP, LOWER_TEETH_SHOW, LOWER_TEETH_WIDTH, CROWN_HEIGHT[1], -1.0, 0.75),
            (RIGID_POINTS, UPPER_INNER_LIP, TEETH_SHOW, TEETH_WIDTH, CROWN_HEIGHT[0], 1.0, 1.0),
        ):
            teeth, teeth_rgb = self._teeth(points, lip, show, width_share, crown, sign, target, xs, ys[..., 0])
            if teeth is not None:
                teeth = cv2.GaussianBlur(teeth, (0, 0), self._blur) * mask[..., None]
                fill = fill + teeth[..., :1] * (brightness * teeth_rgb - fill)
                fill = fill + teeth[..., 1:] * (self._gum_colour - fill)
        alpha = (mask * strength)[..., None]
        patch = out[region.slices].astype(np.float32)
        out[region.slices] = np.clip(patch + alpha * (fill - patch), 0, 255).astype(np.uint8)

    def _teeth(self, points: list[int], lip: list[int], show: float, width_share: float, crown: float, sign: float,
               target: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """Coverage ``(h, w, 2)`` (crowns, gum) and crown colour ``(h, w, 3)`` of one row of incisors.

        The incisal edge is the portrait's own inner lip line carried by the bone that holds the teeth (a
        similarity fitted to ``points``), moved ``show`` eye distances past the lip (``sign`` 1: downwards,
        the upper teeth; -1: upwards, the lower ones) and curved back towards the corners; the crowns fill
        ``crown`` eye distances on the side away from the edge and the gum lies beyond them, so only the
        part the lips uncover is seen.
        """
        bone = _similarity_fit(self._rest[points], target[points])
        edge = bone(self._rest[lip].astype(np.float64))
        width = float(np.hypot(*(edge[-1] - edge[0])))
        if width <= 1.0:
            return None, self._teeth_colour
        centre = float((edge[0, 0] + edge[-1, 0]) / 2)
        half = max(0.5 * width * width_share, 1.0)
        rel = np.clip(np.abs(xs - centre) / half, 0, 1.5)
        lip_line = np.interp(xs, edge[:, 0], edge[:, 1]).astype(np.float32)
        unit = self.eye_distance * abs(bone.m)  # an eye distance, as the bone carries it now
        reach = show * unit
        edge_line = lip_line + sign * reach * (1 - 0.45 * rel**2)
        beyond = sign * (edge_line - ys)  # > 0 on the teeth's side of their edge
        across = np.clip((1 - rel) * half + 0.5, 0, 1)
        gum_line = crown * unit * (1 - 0.3 * rel**2)
        on_crown = np.clip(gum_line - beyond + 0.5, 0, 1)
        teeth = np.clip(beyond + 0.5, 0, 1) * across
        teeth = np.stack([teeth * on_crown, teeth * (1 - on_crown)], axis=-1)
        vertical = np.clip(beyond / max(reach, 1.0), 0, 1)  # 0 at the edge, 1 towards the gum
        shade = (1 - 0.4 * np.clip(rel, 0, 1) ** 2) * (1 - 0.15 * (1 - vertical))
        # faint gaps between the teeth (incisors about an eighth of the mouth width apart)
        tooth = (xs - centre) / max(0.125 * width, 1.0)
        gap = np.exp(-(((tooth - np.round(tooth)) * 0.125 * width) ** 2) / (2 * max(self._blur, 0.6) ** 2))
        shade = shade * (1 - 0.18 * gap * (1 - vertical) ** 0.5)
        return teeth.astype(np.float32), self._teeth_colour * shade[..., None]

    def _fill_eyes(self, out: np.ndarray, target: np.ndarray) -> None:
        """Cover the closed part of a blinking eye with lid skin and draw the lash line."""
        import cv2

        for k, eye in enumerate((LEFT_EYE, RIGHT_EYE)):
            upper, lower = ([37, 38], [41, 40]) if k == 0 else ([43, 44], [47, 46])
            rest_open = self._rest_eye_open[k]
            closure = 1.0 - _opening(target, upper, lower) / max(rest_open, 1e-3)
            strength = float(np.clip((closure - 0.15) / 0.35, 0.0, 1.0))
            if strength <= 0:
                continue
            # the open eye as it would sit now: rest eye moved by the similarity of its corners
            rest = self._rest[eye].astype(np.float64)
            tgt = target[eye].astype(np.float64)
            full = _similarity_fit(rest[[0, 3]], tgt[[0, 3]])(rest)
            centre = full.mean(axis=0)
            spread = np.linalg.norm(full - centre, axis=1, keepdims=True)
            full = centre + (full - centre) * (1.0 + 0.02 * self.eye_distance / np.maximum(spread, 1.0))
            region = _region_around(full, 3, self.size)
            lid = _polygon_mask(full, region, self._blur)
            opened = _polygon_mask(tgt, region, 0.0)
            opened = cv2.GaussianBlur(opened, (0, 0), self._blur) if opened.any() else opened
            alpha = np.clip(lid - opened, 0, 1)
            # lash line along the lid's lower edge (target upper lid), fading with the closure
            lash = np.zeros_like(alpha)
            line = np.round((tgt[[0, 1, 2, 3]] - [region.x0, region.y0]) * (1 << _SHIFT)).astype(np.int32)
            thickness = max(1, int(round(0.025 * self.eye_distance)))
            cv2.polylines(lash, [line], False, 1.0, thickness, cv2.LINE_AA, _SHIFT)
            lash = cv2.GaussianBlur(lash, (0, 0), self._blur * 0.7)
            # lid skin: the portrait's own lid colour, a little shaded
            patch = out[region.slices].astype(np.float32)
            skin = patch + (alpha * strength)[..., None] * (0.94 * self._lid_colour[k] - patch)
            skin = skin + (0.8 * lash * strength * closure)[..., None] * (self._lash_colour[k] - skin)
            out[region.slices] = np.clip(skin, 0, 255).astype(np.uint8)


def _lids_met(points: np.ndarray) -> np.ndarray:
    """``points`` with every upper eyelid point that went below the lower lid point facing it (a closing eye
    pushed further, as a blink on top of a sad droop can) put, with that point, at the height between them:
    lids meet, they do not cross. A copy when any point moves."""
    crossed = points[_UPPER_LIDS, 1] > points[_LOWER_LIDS, 1]
    if not crossed.any():
        return points
    points = points.copy()
    middle = (points[_UPPER_LIDS, 1] + points[_LOWER_LIDS, 1]) / 2
    points[_UPPER_LIDS[crossed], 1] = middle[crossed]
    points[_LOWER_LIDS[crossed], 1] = middle[crossed]
    return points


def _luma(rgb: np.ndarray) -> np.ndarray:
    """Luma (BT.601) of RGB values ``(..., 3)``."""
    return np.asarray(rgb, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _opening(points: np.ndarray, upper: list[int], lower: list[int]) -> float:
    """Mean vertical gap between paired upper and lower points (pixels, >= 0)."""
    return max(0.0, float(np.mean(points[lower, 1] - points[upper, 1])))


def _patch(image: np.ndarray, centre: np.ndarray, radius: int) -> np.ndarray:
    """Pixels ``(n, 3)`` float of a square patch around ``centre`` (clipped to the image)."""
    x, y = int(round(centre[0])), int(round(centre[1]))
    h, w = image.shape[:2]
    block = image[max(0, y - radius) : min(h, y + radius + 1), max(0, x - radius) : min(w, x + radius + 1)]
    block = block.reshape(-1, 3).astype(np.float32)
    return block if len(block) else np.full((1, 3), 128.0, np.float32)


class _Similarity:
    """A 2-D similarity ``z -> m z + t`` (complex ``m``: scale and rotation), applied to points ``(n, 2)``."""

    def __init__(self, m: complex, t: complex) -> None:
        self.m, self._t = m, t

    def __call__(self, points: np.ndarray) -> np.ndarray:
        z = points[:, 0] + 1j * points[:, 1]
        w = z * self.m + self._t
        return np.stack([w.real, w.imag], axis=1)


def _similarity_fit(a: np.ndarray, b: np.ndarray) -> _Similarity:
    """Least-squares similarity taking points ``a`` onto ``b`` (both ``(n, 2)``)."""
    za = a[:, 0].astype(np.float64) + 1j * a[:, 1]
    zb = b[:, 0].astype(np.float64) + 1j * b[:, 1]
    ca, cb = za.mean(), zb.mean()
    denom = float(np.sum(np.abs(za - ca) ** 2))
    m = complex(np.sum(np.conj(za - ca) * (zb - cb)) / denom) if denom > 1e-9 else 1.0 + 0j
    return _Similarity(m, cb - m * ca)
