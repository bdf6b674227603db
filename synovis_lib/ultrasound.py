"""Image physics of the simulated clinic: B-mode speckle, bone shadows and power Doppler.

A clinical scene is a small, explicit description of one dorsal longitudinal
scan of a metacarpophalangeal (MCP) joint, in millimetres: the anatomy (skin,
subcutis, extensor tendon, synovial recess, cartilage, metacarpal head and
proximal phalanx base), the scanner (depth, gain, dynamic range, point spread
function, colour map, screen layout), the vessels (inside the synovium, and a
few outside it that never count) and the Doppler artefacts (blooming, colour
noise specks, flash). :func:`render_scene` turns it into a screenshot-like RGB
image at any size; :func:`scene_masks` rasterises the same scene into the
vessel, synovium and displayed-colour masks the grade and the raters use.

:func:`sample_examination` draws a patient's visit (one of three scanner
presets with its own gain, depth, dynamic range and resolution; the
patient's build) and :func:`sample_scene` a scanned joint with a given
ground-truth grade: a vessel pattern for that grade (single spots, confluent
spots, a large region, diffuse flow) redrawn until
:func:`synovis_lib.grading.grade_from_masks` agrees, on a fixed label grid
(:data:`LABEL_SIZE`), so the grade never depends on the render size.

The B-mode follows the textbook recipe rather than drawing textures:
complex Gaussian scatterers scaled by tissue echogenicity, convolved with a
depth-dependent Gaussian point spread function (narrowest at the focus),
envelope detection, attenuation along each scan line (so bone casts a shadow
and fluid a faint enhancement), time-gain compensation, electronic noise and
log compression to the scanner's dynamic range. Power Doppler: each source
blooms to at least the Doppler resolution (its peak power kept), and the
screen paints colour where the power passes the display threshold (the
gain), over the grey image but not over bright echoes. Written by hand because no
library in the stack simulates ultrasound; :mod:`scipy.ndimage` and
:mod:`scipy.fft` do the filtering. Taught in ``notebooks/03_clinical_images_and_raters.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import scipy.fft
from scipy import ndimage

from synovis_lib.doppler import COLOUR_MAPS
from synovis_lib.grading import GradeResult, grade_from_masks
from synovis_lib.profiles import INPUT_SIZE

OVERSAMPLE = 2
"""Render at this multiple of the output size, then average blocks (as a screenshot resize)."""


@dataclass(frozen=True)
class Ellipse:
    """A Doppler signal source (a vessel segment, a noise speck or a flash), in mm."""

    x: float
    z: float
    a: float
    """Semi-axis along ``angle`` (mm)."""
    b: float
    """Semi-axis across ``angle`` (mm)."""
    angle: float = 0.0
    """Radians, 0 = horizontal."""
    power: float = 1.0
    """Relative Doppler power (the colour threshold is on the same scale)."""


@dataclass(frozen=True)
class Scanner:
    """What differs between machines and presets (see :data:`SCANNERS`)."""

    name: str
    depth_mm: float
    gain_db: float
    dynamic_range_db: float
    axial_psf_mm: float
    lateral_psf_mm: float
    """Lateral PSF sigma at the focus; it widens away from the focus."""
    focus_mm: float
    attenuation_db_mm: float
    """Residual attenuation after time-gain compensation (two-way, dB per mm)."""
    noise_db: float
    """Electronic noise floor relative to the soft-tissue echo level."""
    grey_tint: tuple[float, float, float]
    gamma: float
    colour_map: str
    doppler_psf_mm: float
    """Doppler resolution: the larger, the more the colour blooms past the vessel."""
    sector: tuple[float, float, float, float]
    """Image area on the screen as fractions (left, top, right, bottom)."""
    bar_left: bool
    """Colour bar on the left of the image (else on the right)."""


SCANNERS: tuple[Scanner, ...] = (
    Scanner(
        name="A",
        depth_mm=12.0,
        gain_db=0.0,
        dynamic_range_db=58.0,
        axial_psf_mm=0.055,
        lateral_psf_mm=0.11,
        focus_mm=6.0,
        attenuation_db_mm=0.25,
        noise_db=-42.0,
        grey_tint=(1.0, 1.0, 1.0),
        gamma=1.0,
        colour_map="classic",
        doppler_psf_mm=0.16,
        sector=(0.07, 0.17, 0.91, 0.81),
        bar_left=True,
    ),
    Scanner(
        name="B",
        depth_mm=13.0,
        gain_db=2.0,
        dynamic_range_db=52.0,
        axial_psf_mm=0.07,
        lateral_psf_mm=0.15,
        focus_mm=7.5,
        attenuation_db_mm=0.45,
        noise_db=-37.0,
        grey_tint=(1.0, 0.97, 0.90),
        gamma=1.15,
        colour_map="warm",
        doppler_psf_mm=0.22,
        sector=(0.05, 0.14, 0.87, 0.78),
        bar_left=False,
    ),
    Scanner(
        name="C",
        depth_mm=11.0,
        gain_db=-2.0,
        dynamic_range_db=64.0,
        axial_psf_mm=0.06,
        lateral_psf_mm=0.13,
        focus_mm=5.0,
        attenuation_db_mm=0.35,
        noise_db=-40.0,
        grey_tint=(0.93, 0.97, 1.0),
        gamma=0.9,
        colour_map="deep",
        doppler_psf_mm=0.19,
        sector=(0.10, 0.18, 0.94, 0.82),
        bar_left=True,
    ),
)
"""Three machine presets; :func:`sample_scanner` jitters one per examination."""


@dataclass(frozen=True)
class Anatomy:
    """One joint's geometry in mm (x left to right = proximal to distal, z = depth)."""

    width_mm: float
    gel_mm: float
    dermis_mm: float
    subcutis_mm: float
    """Subcutis thickness where it is thinnest (over the tendon's highest point)."""
    tendon_mm: float
    head_x_mm: float
    """Lateral position of the metacarpal head's top."""
    head_radius_mm: float
    neck_mm: float
    """Length of the neck over which the shaft rises to the head."""
    shaft_drop_mm: float
    """How much deeper the metacarpal shaft lies than the head's top."""
    joint_gap_mm: float
    phalanx_drop_mm: float
    """How much deeper the phalanx base lies than the head's top."""
    cartilage_mm: float
    synovitis_mm: float
    """Maximum thickness of the synovial recess (about 0.5 normal, up to ~3.5 severe)."""
    recess_mm: float
    """How far the recess reaches proximally past the neck."""
    tilt: float
    """Slope of the whole joint in the image (dz/dx)."""
    tendon_curve: float
    """Curvature of the extensor tendon over the joint (1/mm): 0 = straight."""
    echo_synovium: float
    """Echogenicity of the synovium relative to soft tissue (hypoechoic: < 1)."""
    effusion: float
    """Share of the recess thickness (next to the bone) that is anechoic fluid."""
    wobble: tuple[float, ...] = field(default=(0.0, 0.0, 0.0, 0.0))
    """Amplitudes and phases of the recess boundary's irregularity."""


@dataclass(frozen=True)
class Doppler:
    """The colour box and what the Doppler shows besides vessels."""

    box: tuple[float, float, float, float]
    """Colour box (x0, z0, x1, z1) in mm."""
    threshold: float
    """Display threshold on the blurred power: lower = higher gain = more blooming."""
    specks: tuple[Ellipse, ...] = ()
    """Colour noise specks (random, everywhere in the box)."""
    flash: Ellipse | None = None
    """A motion flash artefact: a broad, faint patch of colour."""


@dataclass(frozen=True)
class ClinicalScene:
    """Everything needed to render one simulated screenshot, and its ground truth."""

    scanner: Scanner
    anatomy: Anatomy
    doppler: Doppler
    vessels: tuple[Ellipse, ...]
    """Vessels inside the synovium (they decide the grade)."""
    extra_vessels: tuple[Ellipse, ...]
    """Vessels in tendon sheath or subcutis: displayed, never counted."""
    texture_seed: int


@dataclass(frozen=True)
class ClinicalRender:
    """A rendered screenshot and its masks at the same size."""

    rgb: np.ndarray
    """uint8 (H, W, 3)."""
    vascular: np.ndarray
    """bool (H, W): every vessel, inside and outside the synovium."""
    synovium: np.ndarray
    """bool (H, W)."""
    colour: np.ndarray
    """bool (H, W): where the screen shows Doppler colour."""


# --------------------------------------------------------------------------- geometry


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass(frozen=True)
class _Profiles:
    """Depth (mm) of every boundary along x; NaN where a boundary does not exist."""

    skin: np.ndarray
    dermis: np.ndarray
    tendon_top: np.ndarray
    tendon_bottom: np.ndarray
    synovium_top: np.ndarray
    synovium_bottom: np.ndarray
    cartilage_top: np.ndarray
    bone: np.ndarray
    floor: np.ndarray
    """Floor of the recess (bone, cartilage or the capsule across the joint gap)."""


PROFILE_STEP_MM = 0.02
"""The joint's boundaries are computed on this fixed lateral grid, then interpolated, so
that the same scene has the same geometry at every render size."""


def joint_profiles(anatomy: Anatomy, x: np.ndarray) -> _Profiles:
    """Boundary depths (mm) of the joint's layers at lateral positions ``x`` (mm)."""
    fine = np.arange(-1.0, anatomy.width_mm + 1.0, PROFILE_STEP_MM)
    p = _profiles_on(anatomy, fine)
    return _Profiles(**{f: np.interp(x, fine, getattr(p, f)) for f in p.__dataclass_fields__})


def _profiles_on(anatomy: Anatomy, x: np.ndarray) -> _Profiles:
    an = anatomy
    hx, hz, r = an.head_x_mm, 0.0, an.head_radius_mm
    theta = np.deg2rad(55.0)
    x_end = hx + r * np.sin(theta)
    x_ph = x_end + an.joint_gap_mm
    neck = hz + an.shaft_drop_mm * _smoothstep((hx - x) / an.neck_mm)
    dx = np.clip(x - hx, 0.0, r * np.sin(theta))
    head = hz + r - np.sqrt(r * r - dx * dx)
    metacarpal = np.where(x <= hx, neck, head)
    metacarpal = np.where(x <= x_end, metacarpal, np.nan)
    u = np.maximum(x - x_ph, 0.0)
    phalanx = (
        hz
        + an.phalanx_drop_mm
        + 0.06 * u
        - 0.35 * np.exp(-(((u - 0.7) / 0.55) ** 2))
        + 1.3 * np.exp(-u / 0.28)
    )
    phalanx = np.where(x >= x_ph, phalanx, np.nan)
    bone = np.where(np.isnan(metacarpal), phalanx, metacarpal)

    # cartilage: an anechoic cap on the head's articular surface
    c = an.cartilage_mm * np.sin(np.pi * np.clip((x - (hx - 1.2)) / (x_end - hx + 1.2), 0, 1))
    cartilage_top = np.where(np.isnan(metacarpal), np.nan, metacarpal - c)

    # the recess floor: bone/cartilage, bridged across the joint gap by the capsule
    gap_floor = np.interp(
        x, [x_end, x_ph + 0.2], [hz + r * (1 - np.cos(theta)), hz + an.phalanx_drop_mm + 0.3]
    )
    floor = np.where(
        np.isnan(bone), gap_floor, np.where(np.isnan(cartilage_top), bone, cartilage_top)
    )
    floor = np.where((x > x_end) & (x < x_ph + 0.2), np.minimum(floor, gap_floor), floor)

    # recess thickness: apex proximal on the shaft, dome over the neck, thin over the head
    x_apex = hx - an.neck_mm - an.recess_mm
    x_peak = hx - 0.45 * an.neck_mm
    x_dist = x_ph + 0.8 + 0.3 * an.synovitis_mm
    t = an.synovitis_mm * np.where(
        x <= x_peak,
        _smoothstep((x - x_apex) / (x_peak - x_apex)) ** 0.7,
        1.0 - 0.55 * _smoothstep((x - x_peak) / (x_end - x_peak)),
    )
    t = t * (1.0 - _smoothstep((x - x_end) / (x_dist - x_end)))
    a1, p1, a2, p2 = an.wobble
    t = t * (1.0 + a1 * np.sin(x * 1.3 + p1) + a2 * np.sin(x * 2.9 + p2))
    t = np.maximum(t, 0.0)
    synovium_top = floor - t

    # the tendon drapes over the highest structures below it, like a taut sheet
    step = PROFILE_STEP_MM
    support = synovium_top - 0.12
    top = int(np.argmin(support))
    sheet = support[top] + an.tendon_curve * (x - x[top]) ** 2
    bottom = ndimage.gaussian_filter1d(np.minimum(sheet, support), 0.8 / step, mode="nearest")
    bottom = np.minimum(bottom, support)
    tendon_top = bottom - an.tendon_mm
    # stack from the skin down: the subcutis is subcutis_mm thick where it is thinnest
    shift = an.gel_mm + an.dermis_mm + an.subcutis_mm - float(np.min(tendon_top))
    slope = an.tilt * (x - an.width_mm / 2) + shift
    skin = an.gel_mm + 0.0 * x - shift
    return _Profiles(
        skin=skin + slope,
        dermis=skin + an.dermis_mm + slope,
        tendon_top=tendon_top + slope,
        tendon_bottom=bottom + slope,
        synovium_top=np.where(t > 0.02, synovium_top, np.nan) + slope,
        synovium_bottom=np.where(t > 0.02, floor, np.nan) + slope,
        cartilage_top=cartilage_top + slope,
        bone=bone + slope,
        floor=floor + slope,
    )


@dataclass(frozen=True)
class _Grid:
    """Screen pixels mapped to mm: the sector's columns (x) and rows (z)."""

    size: int
    left: int
    top: int
    x: np.ndarray
    z: np.ndarray
    mm_per_px: float


def sector_grid(scanner: Scanner, anatomy: Anatomy, size: int) -> _Grid:
    """The image sector of a ``size`` x ``size`` screen in mm coordinates (pixel centres)."""
    left, top, right, bottom = (round(f * size) for f in scanner.sector)
    mm_per_px = scanner.depth_mm / (bottom - top)
    x = (np.arange(right - left) + 0.5) * mm_per_px
    x = x - x.mean() + anatomy.width_mm / 2
    z = (np.arange(bottom - top) + 0.5) * mm_per_px
    return _Grid(size=size, left=left, top=top, x=x, z=z, mm_per_px=mm_per_px)


def sector_width_mm(scanner: Scanner) -> float:
    """Field of view width in mm (square pixels)."""
    left, top, right, bottom = scanner.sector
    return scanner.depth_mm * (right - left) / (bottom - top)


def _ellipse_field(
    ellipses, grid: _Grid, bloom_mm: float | None = None, out: np.ndarray | None = None
) -> np.ndarray:
    """Rasterise ellipses on the sector grid, keeping the maximum where they overlap.

    Without ``bloom_mm`` each ellipse is a hard shape of its ``power``. With it,
    each becomes what a power Doppler display makes of it: a Gaussian-profiled
    blob whose axes grow by the Doppler resolution ``bloom_mm`` and whose peak
    keeps the source's power, so a tiny vessel still shows (bloomed to the
    resolution) and the display threshold decides how far colour spreads.
    Draws into ``out`` (float32, sector shape) when given.
    """
    if out is None:
        out = np.zeros((grid.z.size, grid.x.size), dtype=np.float32)
    step = grid.mm_per_px
    for e in ellipses:
        a, b = e.a, e.b
        if bloom_mm is not None:
            a, b = np.hypot(a, 1.4 * bloom_mm), np.hypot(b, 1.4 * bloom_mm)
        reach = (2.2 if bloom_mm is not None else 1.0) * max(a, b) + 2 * step
        c0, c1 = np.searchsorted(grid.x, (e.x - reach, e.x + reach))
        r0, r1 = np.searchsorted(grid.z, (e.z - reach, e.z + reach))
        if c1 <= c0 or r1 <= r0:
            continue
        dx = grid.x[None, c0:c1] - e.x
        dz = grid.z[r0:r1, None] - e.z
        cos, sin = np.cos(e.angle), np.sin(e.angle)
        u, v = (dx * cos + dz * sin) / a, (dz * cos - dx * sin) / b
        if bloom_mm is None:
            val = (u * u + v * v <= 1.0) * np.float32(e.power)
        else:
            val = np.float32(e.power) * np.exp(-(u * u + v * v)).astype(np.float32)
        block = out[r0:r1, c0:c1]
        np.maximum(block, val, out=block)
    return out


def _layer_masks(anatomy: Anatomy, grid: _Grid) -> tuple[_Profiles, dict[str, np.ndarray]]:
    p = joint_profiles(anatomy, grid.x)
    z = grid.z[:, None]
    with np.errstate(invalid="ignore"):
        masks = {
            "dermis": (z >= p.skin) & (z < p.dermis),
            "subcutis": (z >= p.dermis) & (z < p.tendon_top),
            "tendon": (z >= p.tendon_top) & (z < p.tendon_bottom),
            "synovium": (z >= p.synovium_top) & (z < p.synovium_bottom),
            "cartilage": (z >= p.cartilage_top) & (z < p.bone),
            "bone": z >= p.bone,
        }
    return p, masks


def _to_screen(sector: np.ndarray, grid: _Grid, fill=False) -> np.ndarray:
    screen = np.full((grid.size, grid.size, *sector.shape[2:]), fill, dtype=sector.dtype)
    screen[grid.top : grid.top + sector.shape[0], grid.left : grid.left + sector.shape[1]] = sector
    return screen


def _box_slices(doppler: Doppler, grid: _Grid) -> tuple[slice, slice]:
    x0, z0, x1, z1 = doppler.box
    rows = np.flatnonzero((grid.z >= z0) & (grid.z <= z1))
    cols = np.flatnonzero((grid.x >= x0) & (grid.x <= x1))
    if rows.size == 0 or cols.size == 0:
        return slice(0, 0), slice(0, 0)
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def doppler_power(
    scene: ClinicalScene, grid: _Grid, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Displayed Doppler power on the sector grid, zero outside the colour box.

    Every source (vessels inside and outside the synovium, noise specks, a
    flash) blooms by the scanner's Doppler resolution (see
    :func:`_ellipse_field`); the screen paints colour where the power passes
    ``scene.doppler.threshold``. With ``rng`` the power gets the mottled,
    ragged look of a real colour display (for the screen, not the masks).
    """
    rows, cols = _box_slices(scene.doppler, grid)
    out = np.zeros((grid.z.size, grid.x.size), dtype=np.float32)
    sources = scene.vessels + scene.extra_vessels + scene.doppler.specks
    if scene.doppler.flash is not None:
        sources = (*sources, scene.doppler.flash)
    if not sources or rows.stop <= rows.start or cols.stop <= cols.start:
        return out
    sub = replace(grid, x=grid.x[cols], z=grid.z[rows])
    power = _ellipse_field(sources, sub, bloom_mm=scene.scanner.doppler_psf_mm)
    if rng is not None:
        px = 1.0 / grid.mm_per_px
        lit = power > 0.5 * scene.doppler.threshold
        if lit.any():
            band = slice(*np.flatnonzero(lit.any(axis=1))[[0, -1]] + [0, 1])
            texture = 1.0 + 0.18 * _smooth_noise(rng, power[band].shape, 0.08 * px)
            texture += 0.06 * _smooth_noise(rng, power[band].shape, 0.03 * px)
            power[band] *= np.clip(texture, 0.0, None)
    out[rows, cols] = power
    return out


def scene_masks(scene: ClinicalScene, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vascular, synovium, colour) boolean screen masks of ``scene`` at ``size`` x ``size``.

    ``vascular`` holds every vessel (inside and outside the synovium: the grade
    ignores the outside ones), ``colour`` what the screen paints in colour
    (vessels bloomed by the Doppler PSF, noise specks, flash).
    """
    grid = sector_grid(scene.scanner, scene.anatomy, size)
    _, layers = _layer_masks(scene.anatomy, grid)
    vascular = _ellipse_field(scene.vessels + scene.extra_vessels, grid) > 0
    colour = doppler_power(scene, grid) > scene.doppler.threshold
    return (
        _to_screen(vascular, grid),
        _to_screen(layers["synovium"], grid),
        _to_screen(colour, grid),
    )


# --------------------------------------------------------------------------- B-mode


def _upsample(f: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Linear interpolation of a coarse 1-D or 2-D field to ``shape`` (matrix products: fast)."""

    def matrix(n_out: int, n_in: int) -> np.ndarray:
        pos = np.clip((np.arange(n_out) + 0.5) * (n_in - 2) / n_out + 0.5, 0, n_in - 1.001)
        i = np.floor(pos).astype(int)
        m = np.zeros((n_out, n_in), dtype=np.float32)
        m[np.arange(n_out), i] = 1.0 - (pos - i)
        m[np.arange(n_out), i + 1] = pos - i
        return m

    if f.ndim == 1:
        return matrix(shape[0], f.shape[0]) @ f
    return matrix(shape[0], f.shape[0]) @ f @ matrix(shape[1], f.shape[1]).T


def _smooth_noise(rng: np.random.Generator, shape, sigma) -> np.ndarray:
    """Zero-mean, unit-variance smooth random field (drawn coarse and upsampled: fast)."""
    sigma = np.broadcast_to(np.asarray(sigma, dtype=float), (len(shape),))
    step = np.maximum(1.0, np.floor(sigma / 2.0))
    coarse = tuple(int(n // k) + 2 for n, k in zip(shape, step, strict=True))
    f = ndimage.gaussian_filter(
        rng.standard_normal(coarse, dtype=np.float32), sigma / step, mode="wrap"
    )
    return _upsample((f - f.mean()) / (f.std() + 1e-12), shape)


def _band(mask: np.ndarray) -> tuple[slice, np.ndarray]:
    """The rows a layer spans and the layer's mask within them (texture is drawn only there)."""
    rows = np.flatnonzero(mask.any(axis=1))
    band = slice(rows[0], rows[-1] + 1) if rows.size else slice(0, 1)
    return band, mask[band]


def _echogenicity(scene: ClinicalScene, grid: _Grid, rng) -> tuple[np.ndarray, np.ndarray, dict]:
    """Scatterer amplitude and attenuation (relative to soft tissue) maps of the tissue layers."""
    an = scene.anatomy
    p, m = _layer_masks(an, grid)
    shape = (grid.z.size, grid.x.size)
    px = 1.0 / grid.mm_per_px
    z = grid.z[:, None]

    echo = np.full(shape, 0.45, dtype=np.float32)  # periarticular fat pad and capsule
    atten = np.ones(shape, dtype=np.float32)
    deep = z > p.floor + 0.3
    echo[deep] = 0.08  # volar structures under the joint gap
    atten[deep] = 6.0
    echo[z < p.skin] = 0.01  # coupling gel
    atten[z < p.skin] = 0.1
    echo[m["dermis"]] = 0.9
    # subcutis: hypoechoic fat lobules separated by bright, wavy septa
    rows, sub = _band(m["subcutis"])
    lobules = _smooth_noise(rng, sub.shape, (0.35 * px, 1.6 * px))
    septa = np.exp(-((lobules / 0.12) ** 2))
    echo[rows][sub] = (0.1 + 0.6 * septa)[sub]
    # tendon: parallel fibrils (fine profile across, slow change along, darker where it curves)
    rows, sub = _band(m["tendon"])
    centre = 0.5 * (p.tendon_top + p.tendon_bottom)
    depth = grid.z[rows, None]
    fibrils = _smooth_noise(rng, (400,), 1.6)[
        np.clip(np.round((depth - centre) / 0.03).astype(int) + 200, 0, 399)
    ]
    along = 1.0 + 0.3 * _smooth_noise(rng, sub.shape, (1.0 * px, 2.5 * px))
    slope = np.gradient(p.tendon_bottom, grid.x)
    anisotropy = np.cos(np.arctan(slope * 2.5)) ** 6
    tendon = 1.3 * np.clip(1.0 + 0.7 * fibrils, 0.1, None) * along * anisotropy
    echo[rows][sub] = tendon[sub]
    atten[m["tendon"]] = 1.4
    # synovium: hypoechoic, inhomogeneous; an anechoic effusion next to the bone
    rows, sub = _band(m["synovium"])
    syn = an.echo_synovium * np.clip(
        1.0 + 0.5 * _smooth_noise(rng, sub.shape, 0.2 * px), 0.15, None
    )
    echo[rows][sub] = syn[sub]
    with np.errstate(invalid="ignore"):
        fluid = m["synovium"] & (
            z > p.synovium_bottom - an.effusion * (p.synovium_bottom - p.synovium_top)
        )
    atten[m["synovium"]] = 0.7
    echo[fluid] = 0.02
    atten[fluid] = 0.15
    echo[m["cartilage"]] = 0.03
    atten[m["cartilage"]] = 0.3
    echo[m["bone"]] = 0.5
    atten[m["bone"]] = 250.0
    return echo, atten, {"profiles": p, "masks": m}


def _add_specular(field: np.ndarray, grid: _Grid, depth: np.ndarray, amplitude) -> None:
    """Add a coherent reflector along ``depth(x)`` to the (2, H, W) real/imaginary field."""
    depth = np.asarray(depth, dtype=float)
    ok = np.isfinite(depth)
    rows = np.round(depth[ok] / grid.mm_per_px - 0.5).astype(int)
    cols = np.flatnonzero(ok)
    inside = (rows >= 0) & (rows < grid.z.size)
    amp = np.broadcast_to(np.asarray(amplitude, dtype=complex), depth.shape)[ok][inside]
    field[0, rows[inside], cols[inside]] += amp.real
    field[1, rows[inside], cols[inside]] += amp.imag


def _lateral_psf(field: np.ndarray, sigma_px: np.ndarray) -> np.ndarray:
    """Lateral Gaussian blur whose width ``sigma_px[row]`` changes with depth.

    Done in the Fourier domain along each row (one FFT there and back, each row
    multiplied by its own Gaussian transfer function), with reflected edges.
    """
    pad = int(np.ceil(3 * sigma_px.max())) + 1
    padded = np.pad(field, [(0, 0)] * (field.ndim - 1) + [(pad, pad)], mode="symmetric")
    n = scipy.fft.next_fast_len(padded.shape[-1], real=True)
    spectrum = scipy.fft.rfft(padded, n=n, axis=-1)
    freq = np.fft.rfftfreq(n)
    spectrum *= np.exp(-2.0 * (np.pi * sigma_px[:, None] * freq[None, :]) ** 2).astype(np.float32)
    return scipy.fft.irfft(spectrum, n=n, axis=-1)[..., pad : pad + field.shape[-1]]


def bmode(scene: ClinicalScene, grid: _Grid, rng: np.random.Generator) -> np.ndarray:
    """B-mode brightness in [0, 1] on the sector grid."""
    sc = scene.scanner
    shape = (grid.z.size, grid.x.size)
    px = 1.0 / grid.mm_per_px
    echo, atten, info = _echogenicity(scene, grid, rng)
    p = info["profiles"]

    # complex Gaussian scatterers (real and imaginary planes), tendon scatterers streaked
    # along the fibres; scaled so tissue of echogenicity 1 has unit power after the PSF
    field = rng.standard_normal((2, *shape), dtype=np.float32)
    tendon = info["masks"]["tendon"]
    band = np.flatnonzero(tendon.any(axis=1))
    if band.size:
        part = field[:, band[0] : band[-1] + 1]
        rows = part.shape[1]
        streaks = _smooth_noise(rng, (2 * rows, shape[1]), (0.0, 0.35 * px)).reshape(2, rows, -1)
        inside = tendon[band[0] : band[-1] + 1]
        part[:, inside] = 0.45 * part[:, inside] + 0.9 * streaks[:, inside]
    norm = np.sqrt(4.0 * np.pi * sc.axial_psf_mm * sc.lateral_psf_mm) * px / np.sqrt(2)
    field *= echo * np.float32(norm)
    # specular interfaces: bone cortex (brightest), skin entry, cartilage surface, tendon edges
    ripple = np.exp(0.45 * _smooth_noise(rng, (shape[1],), 0.6 * px))
    rough = 0.025 * _smooth_noise(rng, (shape[1],), 0.4 * px)
    line = np.sqrt(2.0 * np.pi) * sc.axial_psf_mm * px  # a line of amplitude 1 after the PSF
    phase = np.exp(1j * 1.2 * _smooth_noise(rng, (shape[1],), 0.8 * px))
    incidence = np.cos(np.arctan(np.nan_to_num(np.gradient(p.bone, grid.x)))) ** 4
    _add_specular(field, grid, p.bone + rough, 12.0 * line * ripple * phase * incidence)
    _add_specular(field, grid, p.bone + rough + 0.09, 5.0 * line * ripple[::-1] * incidence)
    _add_specular(field, grid, p.skin, 5.0 * line)
    _add_specular(field, grid, p.cartilage_top, 2.0 * line * ripple)
    _add_specular(field, grid, p.tendon_top, 0.7 * line * ripple[::-1])
    _add_specular(field, grid, p.tendon_bottom, 0.9 * line * ripple)

    # point spread function: axial blur, then a lateral blur narrowest at the focus
    field = ndimage.gaussian_filter1d(field, sc.axial_psf_mm * px, axis=1, truncate=3.0)
    sigma_x = sc.lateral_psf_mm * np.sqrt(1.0 + ((grid.z - sc.focus_mm) / 3.5) ** 2)
    field = _lateral_psf(field, sigma_x * px)

    # two-way attenuation along each scan line, blurred by the beam width; then TGC, which
    # also lifts the electronic noise floor with depth
    to_np = np.float32(np.log(10.0) / 20.0)
    loss_db = np.cumsum(atten, axis=0) * np.float32(sc.attenuation_db_mm * grid.mm_per_px)
    loss_db = _lateral_psf(loss_db, np.full(shape[0], 2.5 * sc.lateral_psf_mm * px))
    tgc_db = (0.85 * sc.attenuation_db_mm * grid.z[:, None]).astype(np.float32)
    gain = np.exp((tgc_db - np.minimum(loss_db, 80.0)) * to_np)
    noise = rng.standard_normal((2, *shape), dtype=np.float32)
    noise *= np.float32(10.0 ** (sc.noise_db / 20.0) / 2.0) * np.exp(tgc_db * to_np)
    field *= gain
    field += noise
    power = field[0] * field[0] + field[1] * field[1]  # squared envelope

    # log compression to the dynamic range, gain and grey map
    db = np.log10(power + np.float32(1e-12)) * np.float32(10.0 / sc.dynamic_range_db)
    image = np.clip(db + np.float32(0.55 + sc.gain_db / sc.dynamic_range_db), 0.0, 1.0)
    return image if sc.gamma == 1.0 else image ** np.float32(sc.gamma)


# --------------------------------------------------------------------------- screen


def _colourise(power: np.ndarray, threshold: float, colour_map: str) -> np.ndarray:
    stops = np.asarray(COLOUR_MAPS[colour_map])
    level = np.clip((power - threshold) / (1.0 - threshold), 0.0, 1.0) ** 1.4
    pos = level * (len(stops) - 1)
    return np.stack([np.interp(pos, np.arange(len(stops)), stops[:, c]) for c in range(3)], -1)


def _paint(screen: np.ndarray, r0: int, r1: int, c0: int, c1: int, colour) -> None:
    """Fill rows r0..r1-1 and columns c0..c1-1, clipped to the screen."""
    n = screen.shape[0]
    screen[max(r0, 0) : min(r1, n), max(c0, 0) : min(c1, n)] = colour


def _overlays(screen: np.ndarray, scene: ClinicalScene, grid: _Grid) -> None:
    """Draw the colour-box outline, depth dots, focus marker and colour bar in place."""
    n = grid.size
    top, left = grid.top, grid.left
    bottom, right = top + grid.z.size, left + grid.x.size
    t = max(1, n // LABEL_SIZE)
    rows, cols = _box_slices(scene.doppler, grid)
    if rows.stop > rows.start and cols.stop > cols.start:
        r0, r1 = rows.start + top, rows.stop + top
        c0, c1 = cols.start + left, cols.stop + left
        grey = (0.78, 0.78, 0.78)
        _paint(screen, r0, r0 + t, c0, c1, grey)
        _paint(screen, r1 - t, r1, c0, c1, grey)
        _paint(screen, r0, r1, c0, c0 + t, grey)
        _paint(screen, r0, r1, c1 - t, c1, grey)
    # depth scale right of the image: a dot every mm, a longer tick every 5 mm
    scale = right + 2 * t
    for mm in range(1, int(scene.scanner.depth_mm) + 1):
        r = top + round(mm / grid.mm_per_px)
        if r < bottom:
            _paint(screen, r, r + t, scale, scale + (3 * t if mm % 5 == 0 else t), 0.85)
    # focus marker: a small triangle pointing at the focal depth
    focus = top + round(scene.scanner.focus_mm / grid.mm_per_px)
    for k in range(3 * t):
        half = (3 * t - k) // 2
        c = scale + 5 * t + k
        _paint(screen, focus - half, focus + half + 1, c, c + 1, (0.9, 0.85, 0.3))
    # colour bar beside the top of the image
    height, width = int(0.18 * n), 3 * t
    x = max(t, left - 5 * t) if scene.scanner.bar_left else min(n - width - t, scale + 10 * t)
    ramp = np.linspace(1.0, 0.0, height)[:, None] * np.ones(width)
    colours = _colourise(0.02 + 0.98 * ramp, 0.02, scene.scanner.colour_map)
    _paint(screen, top, top + height, x, x + width, colours[: max(0, min(height, n - top))])


def screenshot(scene: ClinicalScene, size: int = INPUT_SIZE) -> np.ndarray:
    """Render ``scene`` as a ``size`` x ``size`` uint8 RGB screenshot.

    The image is drawn at :data:`OVERSAMPLE` times ``size`` and block-averaged,
    the way a scanner screenshot is shrunk to the network's input size. The
    speckle comes from ``scene.texture_seed``, so a scene renders identically
    every time.
    """
    if size < 32:
        raise ValueError(f"size must be at least 32 px, got {size}")
    rng = np.random.default_rng(scene.texture_seed)
    n = size * OVERSAMPLE
    grid = sector_grid(scene.scanner, scene.anatomy, n)
    grey = bmode(scene, grid, rng)
    rgb = grey[..., None] * np.asarray(scene.scanner.grey_tint, dtype=np.float32)
    power = doppler_power(scene, grid, rng)
    show = (power > scene.doppler.threshold) & (grey < 0.82)  # colour priority over bright echo
    rows, cols = np.nonzero(show)
    rgb[rows, cols] = _colourise(
        power[rows, cols], scene.doppler.threshold, scene.scanner.colour_map
    )

    screen = _to_screen(rgb, grid, fill=np.float32(0.0))
    _overlays(screen, scene, grid)
    k = OVERSAMPLE  # block average: a sum of k*k strided views is much faster than .mean()
    small = sum(screen[i::k, j::k] for i in range(k) for j in range(k)) * np.float32(255.0 / k**2)
    return np.clip(np.round(small), 0, 255).astype(np.uint8)


def render_scene(scene: ClinicalScene, size: int = INPUT_SIZE) -> ClinicalRender:
    """:func:`screenshot` of ``scene`` together with its masks at the same size."""
    vascular, synovium, colour = scene_masks(scene, size)
    return ClinicalRender(
        rgb=screenshot(scene, size), vascular=vascular, synovium=synovium, colour=colour
    )


# --------------------------------------------------------------------------- sampling

LABEL_SIZE = INPUT_SIZE
"""Screen size (px) on which every scene is graded, whatever size it is rendered at.

The ground truth and the raters' cues come from masks at this size (the
study's input size), so a cohort's labels do not change with the render size.
"""

SCANNER_SHARES = (0.45, 0.35, 0.20)
"""How often each of :data:`SCANNERS` examines a patient."""

SYNOVITIS_MM = {0: (0.7, 1.6), 1: (1.0, 2.2), 2: (1.3, 3.0), 3: (1.7, 3.4)}
"""Range of the recess thickness by true grade: more flow comes with more synovitis."""


@dataclass(frozen=True)
class Examination:
    """One patient's visit: the machine with its settings and the patient's build."""

    scanner: Scanner
    build: Anatomy
    """The patient's anatomy; each scanned joint varies around it."""


def sample_scanner(rng: np.random.Generator) -> Scanner:
    """One of :data:`SCANNERS` with the settings of one examination (gain, depth, ...)."""
    preset = SCANNERS[rng.choice(len(SCANNERS), p=SCANNER_SHARES)]
    left, top, right, bottom = preset.sector
    dx, dy = rng.uniform(-0.02, 0.02, 2)
    return replace(
        preset,
        depth_mm=preset.depth_mm + rng.uniform(-1.5, 1.5),
        gain_db=preset.gain_db + rng.normal(0.0, 2.5),
        dynamic_range_db=preset.dynamic_range_db + rng.uniform(-5.0, 5.0),
        axial_psf_mm=preset.axial_psf_mm * rng.uniform(0.9, 1.15),
        lateral_psf_mm=preset.lateral_psf_mm * rng.uniform(0.9, 1.2),
        focus_mm=preset.focus_mm + rng.uniform(-1.0, 1.0),
        doppler_psf_mm=preset.doppler_psf_mm * rng.uniform(0.85, 1.2),
        sector=(left + dx, top + dy, right + dx, bottom + dy),
    )


def sample_examination(rng: np.random.Generator) -> Examination:
    """A patient's visit: a jittered scanner and the patient's build."""
    scanner = sample_scanner(rng)
    build = Anatomy(
        width_mm=sector_width_mm(scanner),
        gel_mm=rng.uniform(0.15, 0.6),
        dermis_mm=rng.uniform(0.7, 1.1),
        subcutis_mm=rng.uniform(0.8, 2.0),
        tendon_mm=rng.uniform(0.8, 1.3),
        head_x_mm=0.0,
        head_radius_mm=rng.uniform(4.5, 6.5),
        neck_mm=rng.uniform(3.0, 4.5),
        shaft_drop_mm=rng.uniform(1.0, 1.9),
        joint_gap_mm=rng.uniform(0.8, 1.5),
        phalanx_drop_mm=rng.uniform(0.6, 1.3),
        cartilage_mm=rng.uniform(0.3, 0.55),
        synovitis_mm=1.0,
        recess_mm=2.0,
        tilt=0.0,
        tendon_curve=rng.uniform(0.01, 0.035),
        echo_synovium=rng.uniform(0.06, 0.16),
        effusion=0.0,
    )
    return Examination(scanner=scanner, build=build)


def sample_joint(rng: np.random.Generator, exam: Examination, grade: int) -> Anatomy:
    """One scanned joint of the patient, its synovitis matching the true ``grade``."""
    b = exam.build

    def vary(value: float) -> float:
        return value * rng.uniform(0.92, 1.08)

    synovitis = rng.uniform(*SYNOVITIS_MM[grade])
    neck = vary(b.neck_mm)
    recess = rng.uniform(0.6, 1.2) * (1.0 + synovitis)
    radius = vary(b.head_radius_mm)
    lowest = neck + 0.5 * recess + 0.5
    highest = max(lowest, b.width_mm - 0.82 * radius - b.joint_gap_mm - 1.5)
    head_x = rng.uniform(lowest, highest)
    return replace(
        b,
        gel_mm=vary(b.gel_mm),
        subcutis_mm=vary(b.subcutis_mm),
        tendon_mm=vary(b.tendon_mm),
        head_x_mm=head_x,
        head_radius_mm=radius,
        neck_mm=neck,
        joint_gap_mm=vary(b.joint_gap_mm),
        phalanx_drop_mm=vary(b.phalanx_drop_mm),
        synovitis_mm=synovitis,
        recess_mm=recess,
        tilt=rng.normal(0.0, 0.03),
        echo_synovium=vary(b.echo_synovium),
        effusion=rng.uniform(0.1, 0.5) if rng.random() < 0.35 else 0.0,
        wobble=(
            rng.uniform(0.0, 0.12),
            rng.uniform(0.0, 2 * np.pi),
            rng.uniform(0.0, 0.08),
            rng.uniform(0.0, 2 * np.pi),
        ),
    )


@dataclass
class _Layout:
    """Vessel placement on the label grid (sector coordinates)."""

    grid: _Grid
    synovium: np.ndarray
    ellipses: list = field(default_factory=list)
    power: np.ndarray = field(init=False)
    """The placed vessels, rasterised (> 0 inside a vessel)."""
    inside: np.ndarray = field(init=False)
    """Distance (px) from each synovium pixel to the synovium's edge."""
    pixels: tuple[np.ndarray, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        self.power = np.zeros(self.synovium.shape, dtype=np.float32)
        self.inside = ndimage.distance_transform_edt(self.synovium)
        self.pixels = np.nonzero(self.synovium)

    @property
    def vessels(self) -> np.ndarray:
        return self.power > 0

    @property
    def area_mm2(self) -> float:
        return float(self.pixels[0].size) * self.grid.mm_per_px**2

    def coverage(self) -> float:
        return float((self.vessels & self.synovium).sum() / max(1, self.pixels[0].size))

    def add(self, ellipses: list[Ellipse]) -> None:
        self.ellipses.extend(ellipses)
        _ellipse_field(ellipses, self.grid, out=self.power)


def _chain(rng, area_mm2: float, k: int) -> list[Ellipse]:
    """A confluent spot: ``k`` overlapping ellipses along a wandering vessel, centred at 0."""
    rho = rng.uniform(1.3, 2.2)
    b = np.sqrt(area_mm2 / (0.8 * k * np.pi * rho))
    a = rho * b
    theta = rng.uniform(-np.pi / 2, np.pi / 2)
    points, angles = [np.zeros(2)], [theta]
    for _ in range(k - 1):
        theta += rng.normal(0.0, 0.5)
        points.append(points[-1] + 1.2 * a * np.array([np.cos(theta), np.sin(theta)]))
        angles.append(theta)
    centre = np.mean(points, axis=0)
    power = rng.uniform(0.65, 1.0)
    return [
        Ellipse(p[0] - centre[0], p[1] - centre[1], a, b, t, power * rng.uniform(0.8, 1.0))
        for p, t in zip(points, angles, strict=True)
    ]


def _place(rng, layout: _Layout, spot: str, fraction: float, separate: bool) -> bool:
    """Add one spot covering ``fraction`` of the synovium; False if it does not fit.

    With ``separate`` the spot lies wholly inside the synovium and keeps clear
    of the spots already placed (so that it is counted on its own); without,
    only its centre line must be inside (diffuse flow may spill over).
    """
    g = layout.grid
    area = fraction * layout.area_mm2
    free = ndimage.distance_transform_edt(~layout.vessels) if separate else None
    for _ in range(12):
        if spot == "single":
            rho = rng.uniform(1.0, 1.6)
            b = max(np.sqrt(area / (np.pi * rho)), 1.1 * g.mm_per_px)
            shape = [Ellipse(0, 0, rho * b, b, rng.uniform(0, np.pi), rng.uniform(0.55, 1.0))]
        else:
            k = int(rng.integers(2, 5)) if spot == "confluent" else int(rng.integers(4, 8))
            shape = _chain(rng, area, k)
        reach = max(e.b for e in shape) / g.mm_per_px + 0.8 if separate else 1.0
        offsets = np.array([[e.z, e.x] for e in shape]) / g.mm_per_px
        picks = rng.integers(layout.pixels[0].size, size=32)
        rows, cols = layout.pixels[0][picks], layout.pixels[1][picks]
        r = np.round(rows[:, None] + offsets[None, :, 0]).astype(int)
        c = np.round(cols[:, None] + offsets[None, :, 1]).astype(int)
        ok = ((r >= 0) & (c >= 0) & (r < g.z.size) & (c < g.x.size)).all(axis=1)
        r, c = np.clip(r, 0, g.z.size - 1), np.clip(c, 0, g.x.size - 1)
        ok &= (layout.inside[r, c] >= reach).all(axis=1)
        if free is not None:
            ok &= (free[r, c] >= reach + 2.5).all(axis=1)
        if ok.any():
            i = int(np.argmax(ok))
            x, z = g.x[cols[i]], g.z[rows[i]]
            layout.add([replace(e, x=e.x + x, z=e.z + z) for e in shape])
            return True
        area *= 0.85
    return False


def _vessel_pattern(rng, grade: int) -> list[tuple[str, float]]:
    """Spots (kind, share of the synovium) that make up one EULAR/OMERACT ``grade``."""

    def single():
        return ("single", rng.uniform(0.006, 0.022))

    def confluent():
        return ("confluent", rng.uniform(0.045, 0.14))

    if grade == 0:
        return []
    if grade == 1:
        pattern = rng.choice(3, p=[0.5, 0.35, 0.15])
        if pattern == 0:
            return [single() for _ in range(rng.integers(1, 4))]
        if pattern == 1:
            return [confluent()] + [single() for _ in range(rng.integers(0, 3))]
        return [confluent(), confluent()]
    if grade == 2:
        pattern = rng.choice(4, p=[0.2, 0.25, 0.35, 0.2])
        if pattern == 0:
            return [single() for _ in range(rng.integers(4, 9))]
        if pattern == 1:
            return [confluent()] + [single() for _ in range(rng.integers(3, 6))]
        if pattern == 2:
            n = rng.integers(3, 5)
            return [confluent() for _ in range(n)] + [single() for _ in range(rng.integers(0, 4))]
        large = ("large", rng.uniform(0.25, 0.42))
        return [large] + [single() for _ in range(rng.integers(0, 4))]
    raise ValueError(f"grade must be 0, 1 or 2 here, got {grade}")


def _fill(rng, layout: _Layout, target: float) -> None:
    """Grade 3: overlapping confluent vessels until more than ``target`` of the synovium is lit."""
    for _ in range(200):
        if layout.coverage() > target:
            return
        _place(rng, layout, "confluent", rng.uniform(0.05, 0.14), separate=False)


def _doppler_box(rng, anatomy: Anatomy, grid: _Grid, synovium: np.ndarray) -> tuple:
    p = joint_profiles(anatomy, grid.x)
    cols = np.flatnonzero(synovium.any(axis=0))
    x0 = max(grid.x[cols[0]] - rng.uniform(0.8, 2.5), grid.x[0] + 0.3)
    x1 = min(grid.x[cols[-1]] + rng.uniform(0.8, 2.5), grid.x[-1] - 0.3)
    span = (grid.x >= x0) & (grid.x <= x1)
    z0 = max(0.25, float(np.nanmin(p.tendon_top[span])) - rng.uniform(0.6, 1.8))
    z1 = min(grid.z[-1] - 0.3, float(np.nanmax(p.floor[span])) + rng.uniform(0.6, 1.6))
    return (float(x0), float(z0), float(x1), float(z1)), p


def _extra_vessels(rng, layout: _Layout, box: tuple, p: _Profiles) -> list[Ellipse]:
    """Vessels in the subcutis or along the tendon: shown in colour, never graded."""
    g = layout.grid
    keep_out = ndimage.binary_dilation(layout.synovium, iterations=4)
    out = []
    for _ in range(int(rng.integers(1, 3))):
        for _ in range(10):
            x = rng.uniform(box[0] + 0.5, box[2] - 0.5)
            i = int(np.clip(np.searchsorted(g.x, x), 0, g.x.size - 1))
            top, bottom = p.dermis[i] + 0.25, p.tendon_top[i] + 0.15
            if bottom - top < 0.3:
                continue
            e = Ellipse(
                x,
                rng.uniform(max(top, box[1] + 0.2), max(top, box[1] + 0.2, bottom)),
                rng.uniform(0.4, 1.2),
                rng.uniform(0.08, 0.18),
                rng.normal(0.0, 0.15),
                rng.uniform(0.5, 0.9),
            )
            if not (_ellipse_field([e], g) > 0)[keep_out].any():
                out.append(e)
                break
    return out


def _doppler(rng, box: tuple, bone_depth: float) -> Doppler:
    """Display threshold (gain), colour noise specks and the odd motion flash."""
    threshold = rng.uniform(0.1, 0.3)
    x0, z0, x1, z1 = box
    specks = tuple(
        Ellipse(
            rng.uniform(x0, x1),
            rng.uniform(z0, z1),
            rng.uniform(0.04, 0.1),
            rng.uniform(0.04, 0.1),
            0.0,
            rng.uniform(0.25, 0.7),
        )
        for _ in range(rng.poisson(4.0 * (0.32 - threshold) / 0.22))
    )
    flash = None
    if rng.random() < 0.04:  # a motion flash: a faint wash of colour near the bone
        flash = Ellipse(
            rng.uniform(x0, x1),
            min(bone_depth, z1) - rng.uniform(0.0, 1.0),
            rng.uniform(3.0, 6.0),
            rng.uniform(1.0, 2.5),
            rng.normal(0.0, 0.1),
            threshold * rng.uniform(1.05, 1.4),
        )
    return Doppler(box=box, threshold=threshold, specks=specks, flash=flash)


@dataclass(frozen=True)
class GradedScene:
    """A scene with its ground truth and what its screen shows, both on the label grid."""

    scene: ClinicalScene
    truth: GradeResult
    """:func:`synovis_lib.grading.grade_from_masks` of the vessel and synovium masks."""
    shown: GradeResult
    """The same rules applied to the displayed colour (blooming, noise specks, flash)."""


def _graded(
    scene: ClinicalScene, grid: _Grid, vascular: np.ndarray, synovium: np.ndarray
) -> GradedScene:
    colour = doppler_power(scene, grid) > scene.doppler.threshold
    return GradedScene(
        scene=scene,
        truth=grade_from_masks(vascular, synovium),
        shown=grade_from_masks(colour, synovium),
    )


def grade_scene(scene: ClinicalScene, size: int = LABEL_SIZE) -> GradedScene:
    """Grade ``scene``'s true vessels and its displayed colour at ``size`` (the label grid)."""
    grid = sector_grid(scene.scanner, scene.anatomy, size)
    _, layers = _layer_masks(scene.anatomy, grid)
    vascular = _ellipse_field(scene.vessels + scene.extra_vessels, grid) > 0
    return _graded(scene, grid, vascular, layers["synovium"])


def sample_scene(rng: np.random.Generator, exam: Examination, grade: int) -> GradedScene:
    """A joint of the examined patient whose ground-truth grade is ``grade``.

    The vessel layout is drawn from a pattern for that grade (single spots,
    confluent spots, a large region, or diffuse flow for grade 3) and redrawn
    until :func:`synovis_lib.grading.grade_from_masks` agrees.
    """
    if grade not in (0, 1, 2, 3):
        raise ValueError(f"grade must be 0..3, got {grade}")
    for _ in range(100):
        anatomy = sample_joint(rng, exam, grade)
        grid = sector_grid(exam.scanner, anatomy, LABEL_SIZE)
        _, layers = _layer_masks(anatomy, grid)
        synovium = layers["synovium"]
        if synovium.sum() < 200:
            continue
        layout = _Layout(grid=grid, synovium=synovium)
        if grade == 3:
            _fill(rng, layout, rng.uniform(0.53, 0.8))
        else:
            for kind, fraction in _vessel_pattern(rng, grade):
                _place(rng, layout, kind, fraction, separate=True)
        box, profiles = _doppler_box(rng, anatomy, grid, synovium)
        extra = _extra_vessels(rng, layout, box, profiles) if rng.random() < 0.3 else []
        bone = float(np.nanmedian(profiles.bone))
        scene = ClinicalScene(
            scanner=exam.scanner,
            anatomy=anatomy,
            doppler=_doppler(rng, box, bone),
            vessels=tuple(layout.ellipses),
            extra_vessels=tuple(extra),
            texture_seed=int(rng.integers(2**31)),
        )
        vascular = _ellipse_field(extra, grid, out=layout.power.copy()) > 0
        graded = _graded(scene, grid, vascular, synovium)
        if graded.truth.grade == grade:
            return graded
    raise RuntimeError(f"could not draw a grade-{grade} scene in 100 tries")
