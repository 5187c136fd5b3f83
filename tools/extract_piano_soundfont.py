"""Extract one preset of a General MIDI soundfont (SF2, or SF3 with Ogg Vorbis samples) into a small SF2.

emogen ships the grand piano of FluidR3Mono_GM (MIT licence) as ``emogen/music/soundfonts/piano.sf2``, so
``emogen music -o x.wav`` plays a sampled piano after a plain ``pip install``. This script regenerates that
file from the full soundfont in ``../shared/data/soundfonts``::

    python tools/extract_piano_soundfont.py                      # defaults: FluidR3Mono_GM.sf3, bank 0 preset 0
    python tools/extract_piano_soundfont.py --input other.sf2 --preset 0 --output piano.sf2

What it keeps: the preset, the instruments its zones name, their modulators and generators, and each sample
those zones play, decoded to 16-bit PCM (SF3's Ogg Vorbis through soundfile) at its own rate. A looped sample
(sample mode 1) is cut 8 points after its loop end, which a synthesiser never reads past; an unlooped one is
kept whole. Sample links are dropped: every sample plays as a mono voice, as FluidR3Mono's are. One change:
the preset's initial attenuation is set by ``--attenuation-db`` (0 by default; FluidR3's piano has 14 dB of
headroom for a General MIDI ensemble, which a lone piano does not need, and a louder 16-bit render keeps
more resolution). The output is deterministic: the same input gives the same bytes. Pure Python plus numpy
and soundfile (emogen's own dependencies); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import io
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
DEFAULT_INPUT = REPO.parent / "shared" / "data" / "soundfonts" / "FluidR3Mono_GM.sf3"
DEFAULT_OUTPUT = REPO / "emogen" / "music" / "soundfonts" / "piano.sf2"

# Generator operators (SoundFont 2.04, section 8.1.2) this script needs by number.
GEN_ATTENUATION, GEN_INSTRUMENT, GEN_SAMPLE_ID, GEN_SAMPLE_MODES = 48, 41, 53, 54
SAMPLE_TYPE_VORBIS = 0x10  # SF3: the sample is an Ogg Vorbis stream; start/end are byte offsets
LOOP_GUARD = 8  # points kept after a loop's end (the spec asks for 8 valid points around each loop point)
ZERO_PAD = 46  # zero points after each sample (spec, section 6.1)

RECORD_FORMATS = {
    b"phdr": "<20sHHHIII",
    b"pbag": "<HH",
    b"pmod": "<HHhHH",
    b"pgen": "<HH",
    b"inst": "<20sH",
    b"ibag": "<HH",
    b"imod": "<HHhHH",
    b"igen": "<HH",
    b"shdr": "<20sIIIIIBbHH",
}


def _chunks(data: bytes, start: int, end: int) -> dict[bytes, tuple[int, int]]:
    """``{id: (offset, size)}`` of the RIFF sub-chunks in ``data[start:end]``; LIST chunks keyed by their type.

    Some SF3 writers leave out the pad byte after an odd-sized chunk; the next id tells which applies.
    """
    out: dict[bytes, tuple[int, int]] = {}
    offset = start
    while offset + 8 <= end:
        cid, size = struct.unpack_from("<4sI", data, offset)
        body = offset + 8
        if cid == b"LIST":
            out[data[body : body + 4]] = (body + 4, size - 4)
        else:
            out[cid] = (body, size)
        offset = body + size
        if size & 1 and data[offset + 1 : offset + 5].isalnum():
            offset += 1
    return out


def _records(data: bytes, chunk: tuple[int, int], name: bytes) -> list[tuple]:
    fmt = RECORD_FORMATS[name]
    step = struct.calcsize(fmt)
    offset, size = chunk
    return [struct.unpack_from(fmt, data, offset + i) for i in range(0, size - size % step, step)]


def _name(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1")


@dataclass
class Sample:
    name: str
    pcm: np.ndarray  # int16
    loop_start: int  # relative to the first point
    loop_end: int
    rate: int
    root: int
    correction: int


@dataclass
class Zone:
    gens: list[tuple[int, int]]
    mods: list[tuple] = field(default_factory=list)


def _zones(bags: list[tuple], gens: list[tuple], mods: list[tuple], first: int, last: int) -> list[Zone]:
    return [Zone(gens[bags[b][0] : bags[b + 1][0]], mods[bags[b][1] : bags[b + 1][1]]) for b in range(first, last)]


def _decode_sample(data: bytes, smpl: tuple[int, int], header: tuple) -> Sample:
    raw_name, start, end, loop_start, loop_end, rate, root, correction, _link, kind = header
    base = smpl[0]
    if kind & SAMPLE_TYPE_VORBIS:
        pcm, _ = sf.read(io.BytesIO(data[base + start : base + end]), dtype="int16", always_2d=True)
        pcm = pcm[:, 0]
    else:
        pcm = np.frombuffer(data, dtype="<i2", count=end - start, offset=base + 2 * start).copy()
        loop_start, loop_end = loop_start - start, loop_end - start
    return Sample(_name(raw_name), pcm, loop_start, loop_end, rate, root, correction)


def _info_chunk(cid: bytes, text: str) -> bytes:
    raw = text.encode("latin-1", "replace") + b"\0"
    raw += b"\0" * (len(raw) & 1)
    return cid + struct.pack("<I", len(raw)) + raw


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + b"\0" * (len(body) & 1)


def _list(kind: bytes, body: bytes) -> bytes:
    return _chunk(b"LIST", kind + body)


def extract(source: Path, bank: int, program: int, attenuation_db: float | None = None) -> tuple[bytes, dict]:
    """Build an SF2 holding only preset ``bank:program`` of ``source``; returns its bytes and a summary.

    ``attenuation_db``, when given, replaces the initial attenuation of the preset zones that set one.
    """
    data = source.read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        msg = f"{source} is not a SoundFont (no RIFF sfbk header)"
        raise SystemExit(msg)
    top = _chunks(data, 12, len(data))
    info, sdta, pdta = (_chunks(data, top[k][0], sum(top[k])) for k in (b"INFO", b"sdta", b"pdta"))
    rec = {name: _records(data, pdta[name], name) for name in RECORD_FORMATS}
    phdr = rec[b"phdr"]
    found = [i for i, h in enumerate(phdr[:-1]) if (h[2], h[1]) == (bank, program)]
    if not found:
        msg = f"{source} has no preset bank {bank} program {program}"
        raise SystemExit(msg)
    p = found[0]
    preset_name = _name(phdr[p][0])
    preset_zones = _zones(rec[b"pbag"], rec[b"pgen"], rec[b"pmod"], phdr[p][3], phdr[p + 1][3])
    if attenuation_db is not None:
        for zone in preset_zones:
            zone.gens = [(op, int(round(10 * attenuation_db)) if op == GEN_ATTENUATION else amount) for op, amount in zone.gens]

    # Instruments and samples in order of first use, renumbered from 0.
    inst_map: dict[int, int] = {}
    for zone in preset_zones:
        for op, amount in zone.gens:
            if op == GEN_INSTRUMENT:
                inst_map.setdefault(amount, len(inst_map))
    insts = rec[b"inst"]
    sample_map: dict[int, int] = {}
    inst_zones: dict[int, list[Zone]] = {}
    for old in inst_map:
        inst_zones[old] = _zones(rec[b"ibag"], rec[b"igen"], rec[b"imod"], insts[old][1], insts[old + 1][1])
        for zone in inst_zones[old]:
            for op, amount in zone.gens:
                if op == GEN_SAMPLE_ID:
                    sample_map.setdefault(amount, len(sample_map))
    samples = [_decode_sample(data, sdta[b"smpl"], rec[b"shdr"][old]) for old in sample_map]
    # A sample is cut after its loop only when every zone playing it loops it to the end (sample mode 1).
    modes: dict[int, set[int]] = {}
    for zones in inst_zones.values():
        for zone in zones:
            gens = dict(zone.gens)
            if GEN_SAMPLE_ID in gens:
                modes.setdefault(sample_map[gens[GEN_SAMPLE_ID]], set()).add(gens.get(GEN_SAMPLE_MODES, 0))
    looped = {i for i, used in modes.items() if used == {1}}

    # sdta: PCM of each sample, then 46 zero points.
    smpl = bytearray()
    shdr = []
    for i, s in enumerate(samples):
        pcm = s.pcm[: s.loop_end + LOOP_GUARD] if i in looped else s.pcm
        start = len(smpl) // 2
        smpl += pcm.astype("<i2").tobytes() + b"\0\0" * ZERO_PAD
        end = start + len(pcm)
        shdr.append(struct.pack(RECORD_FORMATS[b"shdr"], s.name.encode("latin-1")[:19], start, end,
                                start + s.loop_start, start + s.loop_end, s.rate, s.root, s.correction, 0, 1))
    shdr.append(struct.pack(RECORD_FORMATS[b"shdr"], b"EOS", 0, 0, 0, 0, 0, 0, 0, 0, 0))

    def pack_zones(zones: list[Zone], remap_op: int, remap: dict[int, int], bags: list, gens: list, mods: list) -> None:
        for zone in zones:
            bags.append(struct.pack("<HH", len(gens), len(mods)))
            gens += [struct.pack("<HH", op, remap[amount] if op == remap_op else amount) for op, amount in zone.gens]
            mods += [struct.pack(RECORD_FORMATS[b"imod"], *m) for m in zone.mods]

    pbag: list[bytes] = []
    pgen: list[bytes] = []
    pmod: list[bytes] = []
    pack_zones(preset_zones, GEN_INSTRUMENT, inst_map, pbag, pgen, pmod)
    inst_records: list[bytes] = []
    ibag: list[bytes] = []
    igen: list[bytes] = []
    imod: list[bytes] = []
    for old in inst_map:
        inst_records.append(struct.pack("<20sH", insts[old][0], len(ibag)))
        pack_zones(inst_zones[old], GEN_SAMPLE_ID, sample_map, ibag, igen, imod)
    inst_records.append(struct.pack("<20sH", b"EOI", len(ibag)))
    ibag.append(struct.pack("<HH", len(igen), len(imod)))
    igen.append(b"\0" * 4)
    imod.append(b"\0" * 10)
    phdr_records = [
        struct.pack("<20sHHHIII", phdr[p][0], program, bank, 0, 0, 0, 0),
        struct.pack("<20sHHHIII", b"EOP", 0, 0, len(pbag), 0, 0, 0),
    ]
    pbag.append(struct.pack("<HH", len(pgen), len(pmod)))
    pgen.append(b"\0" * 4)
    pmod.append(b"\0" * 10)

    copyright_text = data[info[b"ICOP"][0] : sum(info[b"ICOP"])].split(b"\0")[0].decode("latin-1") if b"ICOP" in info else ""
    info_body = (
        _chunk(b"ifil", struct.pack("<HH", 2, 1))
        + _info_chunk(b"isng", "EMU8000")
        + _info_chunk(b"INAM", f"{preset_name} (from {source.name})")
        + (_info_chunk(b"ICOP", copyright_text) if copyright_text else b"")
        + _info_chunk(b"ICMT", f"Preset {bank}:{program} of {source.name} (licence: see the copyright), samples "
                                f"decoded to 16-bit PCM and cut after their loops, preset attenuation {attenuation_db} "
                                "dB, by emogen's tools/extract_piano_soundfont.py.")
        + _info_chunk(b"ISFT", "emogen extract_piano_soundfont")
    )
    body = b"sfbk" + _list(b"INFO", info_body) + _list(b"sdta", _chunk(b"smpl", bytes(smpl))) + _list(
        b"pdta",
        b"".join(_chunk(cid, b"".join(recs)) for cid, recs in (
            (b"phdr", phdr_records), (b"pbag", pbag), (b"pmod", pmod), (b"pgen", pgen), (b"inst", inst_records),
            (b"ibag", ibag), (b"imod", imod), (b"igen", igen), (b"shdr", shdr),
        )),
    )
    summary = {
        "preset": preset_name,
        "instruments": len(inst_map),
        "samples": len(samples),
        "seconds_of_samples": round(sum(len(s.pcm) / s.rate for s in samples), 1),
        "bytes": 8 + len(body),
        "attenuation_db": attenuation_db,
    }
    return b"RIFF" + struct.pack("<I", len(body)) + body, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT, help="SF2 or SF3 soundfont to read.")
    parser.add_argument("--bank", type=int, default=0)
    parser.add_argument("--preset", type=int, default=0, help="General MIDI program number (0 = acoustic grand piano).")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--attenuation-db", type=float, default=0.0,
                        help="Initial attenuation of the preset's zones (FluidR3's piano sets 14 dB, headroom for a "
                             "General MIDI ensemble that a lone piano does not need; 0 makes the synthesiser's 16-bit "
                             "output louder, so it keeps more resolution). Negative: keep the source's value.")
    args = parser.parse_args()
    attenuation = args.attenuation_db if args.attenuation_db >= 0 else None
    sf2, summary = extract(args.input, args.bank, args.preset, attenuation)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(sf2)
    licence = args.input.with_suffix(".copyright")
    if licence.is_file():  # the MIT notice travels with the samples
        args.output.with_name(licence.name).write_bytes(licence.read_bytes())
    print(f"wrote {args.output}: {summary}")


if __name__ == "__main__":
    main()
