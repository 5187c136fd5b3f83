"""EmotionSpec: parsing, normalised formatting, round trips and one-line errors; the taxonomy tables."""

from __future__ import annotations

import math
import random

import pytest

from emogen.emotion import CATEGORIES, SYNONYMS, VAD_ANCHORS, EmotionSpec, canonical_name
from emogen.errors import EmogenError, EmotionSpecError

# ----------------------------------------------------------------------------- parsing and formatting


@pytest.mark.parametrize(
    ("text", "kind", "components", "coords", "formatted"),
    [
        ("happy", "categorical", (("happy", 1.0),), (), "happy:1"),
        ("happy:0.7", "categorical", (("happy", 0.7),), (), "happy:0.7"),
        (
            "happy:0.6+surprised:0.3",
            "categorical",
            (("happy", 0.6), ("surprised", 0.3)),
            (),
            "happy:0.6+surprised:0.3",
        ),
        ("va:0.5,-0.2", "va", (), (0.5, -0.2), "va:0.5,-0.2"),
        ("vad:0.5,-0.2,0.1", "vad", (), (0.5, -0.2, 0.1), "vad:0.5,-0.2,0.1"),
        ("auto", "auto", (), (), "auto"),
        ("happy:0", "categorical", (("happy", 0.0),), (), "happy:0"),
        ("happy:.5", "categorical", (("happy", 0.5),), (), "happy:0.5"),
        ("happy:1e-3", "categorical", (("happy", 0.001),), (), "happy:0.001"),
    ],
)
def test_parse_and_format(text, kind, components, coords, formatted):
    spec = EmotionSpec.parse(text)
    assert spec.kind == kind
    assert spec.components == components
    assert spec.coords == pytest.approx(coords)
    assert spec.format() == formatted
    assert str(spec) == formatted


@pytest.mark.parametrize(
    ("text", "formatted"),
    [
        ("Joy:0.5", "happy:0.5"),
        ("anger", "angry:1"),
        ("JOYFUL:0.2+Surprise:.3", "happy:0.2+surprised:0.3"),
        ("afraid:0.4", "fearful:0.4"),
        ("relaxed", "calm:1"),
        ("scorn:0.9", "contempt:0.9"),
    ],
)
def test_synonyms_map_to_canonical_names(text, formatted):
    assert EmotionSpec.parse(text).format() == formatted


@pytest.mark.parametrize(
    "text",
    [
        " HAPPY : 0.7 ",
        "Happy:0.7",
        "happy: 0.7",
        "\thappy:0.7\n",
        "happy\t:0.7",
    ],
)
def test_whitespace_and_case_are_ignored(text):
    assert EmotionSpec.parse(text) == EmotionSpec.parse("happy:0.7")


def test_whitespace_and_case_in_mixtures_and_coordinates():
    assert EmotionSpec.parse(" Happy : 0.6 + SURPRISED:0.3 ").format() == "happy:0.6+surprised:0.3"
    assert EmotionSpec.parse("VA: 0.5, -0.2").format() == "va:0.5,-0.2"
    assert EmotionSpec.parse(" VAD:0.5 ,-0.2, 0.1 ").format() == "vad:0.5,-0.2,0.1"
    assert EmotionSpec.parse("  AUTO ").kind == "auto"


def test_mixture_keeps_the_given_order():
    spec = EmotionSpec.parse("surprised:0.3+happy:0.6")
    assert spec.components == (("surprised", 0.3), ("happy", 0.6))
    assert spec.format() == "surprised:0.3+happy:0.6"


def test_parse_accepts_a_spec_and_returns_it():
    spec = EmotionSpec.parse("happy:0.7")
    assert EmotionSpec.parse(spec) is spec


def test_intensities_are_rounded_to_four_decimals():
    assert EmotionSpec.parse("happy:0.123456").components == (("happy", 0.1235),)
    assert EmotionSpec.parse("happy:0.123456").format() == "happy:0.1235"


def test_total_intensity_and_dominant():
    spec = EmotionSpec.parse("happy:0.6+surprised:0.3")
    assert spec.total_intensity == pytest.approx(0.9)
    assert spec.dominant == "happy"
    assert EmotionSpec.parse("va:0.5,-0.2").dominant is None
    assert EmotionSpec.parse("va:0.5,-0.2").total_intensity == 0.0


# ----------------------------------------------------------------------------- round trips


ROUND_TRIP_EXAMPLES = [
    "happy",
    "happy:0.7",
    "happy:0.6+surprised:0.3",
    "va:0.5,-0.2",
    "vad:0.5,-0.2,0.1",
    "auto",
    "Joy:0.5",
    "anger",
    "va:-1,1",
    "vad:1,-1,0",
    "neutral",
    "calm:0.0001",
]


@pytest.mark.parametrize("text", ROUND_TRIP_EXAMPLES)
def test_round_trip_examples(text):
    spec = EmotionSpec.parse(text)
    again = EmotionSpec.parse(spec.format())
    assert again == spec
    assert again.format() == spec.format()


def _random_spec_text(rng: random.Random) -> str:
    """A random valid spec string with random case, spacing, synonyms and number formats."""

    def number(low: float, high: float) -> str:
        value = rng.uniform(low, high)
        style = rng.choice(["{:.6f}", "{:.1f}", "{:g}", "{:.3e}", "{}"])
        # '+' joins a mixture, so a positive exponent is written without its sign ("1e00", not "1e+00")
        return style.format(value).replace("e+", "e")

    def space() -> str:
        return rng.choice(["", "", " ", "  "])

    kind = rng.choice(["categorical", "categorical", "va", "vad", "auto"])
    if kind == "auto":
        return space() + rng.choice(["auto", "AUTO", "Auto"]) + space()
    if kind in ("va", "vad"):
        size = 2 if kind == "va" else 3
        coords = ("," + space()).join(number(-1.0, 1.0) for _ in range(size))
        prefix = kind if rng.random() < 0.5 else kind.upper()
        return f"{space()}{prefix}:{space()}{coords}{space()}"
    names_of = {category: [category] + [s for s, c in SYNONYMS.items() if c == category] for category in CATEGORIES}
    chosen = rng.sample(CATEGORIES, k=rng.randint(1, 4))
    terms = []
    for category in chosen:
        name = rng.choice(names_of[category])
        name = rng.choice([name, name.upper(), name.capitalize()])
        terms.append(name if rng.random() < 0.2 else f"{name}{space()}:{space()}{number(0.0, 1.0)}")
    return (space() + "+" + space()).join(terms)


def _check_round_trip(text: str) -> None:
    spec = EmotionSpec.parse(text)
    formatted = spec.format()
    again = EmotionSpec.parse(formatted)
    assert again == spec, (text, formatted)
    assert again.format() == formatted, (text, formatted)


def test_round_trip_seeded_random_specs():
    rng = random.Random(20240601)
    for _ in range(2000):
        _check_round_trip(_random_spec_text(rng))


def test_round_trip_hypothesis():
    hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed in this environment")
    st = pytest.importorskip("hypothesis.strategies")

    @hypothesis.settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @hypothesis.given(st.randoms(use_true_random=False))
    def check(rng):
        _check_round_trip(_random_spec_text(rng))

    @hypothesis.settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @hypothesis.given(
        st.lists(
            st.tuples(st.sampled_from(CATEGORIES), st.floats(0.0, 1.0, allow_nan=False)),
            min_size=1,
            max_size=len(CATEGORIES),
            unique_by=lambda term: term[0],
        )
    )
    def check_components(terms):
        _check_round_trip("+".join(f"{name}:{value!r}" for name, value in terms))

    @hypothesis.settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @hypothesis.given(st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=2, max_size=3))
    def check_coords(coords):
        prefix = "va" if len(coords) == 2 else "vad"
        _check_round_trip(prefix + ":" + ",".join(repr(c) for c in coords))

    check()
    check_components()
    check_coords()


def test_negative_zero_formats_as_zero():
    assert EmotionSpec.parse("va:0.5,-0") == EmotionSpec.parse("va:0.5,0")
    assert EmotionSpec.parse("va:0.5,-0").format() == "va:0.5,0"
    assert EmotionSpec.parse("happy:-0.00001").format() == "happy:0"


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("hapy:0.7", "happy"),
        ("happy:1.7", "[0, 1]"),
        ("happy:-0.1", "[0, 1]"),
        ("happy:x", "not a number"),
        ("happy:", "not a number"),
        ("va:2,0", "[-1, 1]"),
        ("va:0,-1.5", "[-1, 1]"),
        ("va:0.5", "2 comma-separated numbers"),
        ("va:0.5,-0.2,0.1", "2 comma-separated numbers"),
        ("vad:1,1", "3 comma-separated numbers"),
        ("vad:0,0,2", "[-1, 1]"),
        ("", "empty"),
        ("   ", "empty"),
        ("\t\n", "empty"),
        ("happy:0.5+happy:0.2", "twice"),
        ("joy:0.5+happy:0.2", "twice"),
        ("happy+", "empty term"),
        ("+happy", "empty term"),
        ("happy++sad", "empty term"),
        ("happy:nan", "finite"),
        ("happy:inf", "finite"),
        ("happy:-inf", "finite"),
        ("happy:1e400", "finite"),
        ("va:nan,0", "finite"),
        ("vad:0,inf,0", "finite"),
        ("auto:0.5", "unknown emotion"),
        ("xyzzy", "unknown emotion"),
    ],
)
def test_bad_specs_raise_emotion_spec_error(text, needle):
    with pytest.raises(EmotionSpecError) as info:
        EmotionSpec.parse(text)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message


def test_emotion_spec_error_is_a_value_error():
    assert issubclass(EmotionSpecError, EmogenError)
    assert issubclass(EmotionSpecError, ValueError)
    with pytest.raises(ValueError):
        EmotionSpec.parse("happy:1.7")


def test_unknown_name_suggests_the_nearest_category():
    with pytest.raises(EmotionSpecError, match=r"did you mean 'happy'\?"):
        EmotionSpec.parse("hapy:0.7")
    with pytest.raises(EmotionSpecError, match=r"did you mean 'surprised'\?"):
        EmotionSpec.parse("suprised")


def test_error_names_the_input():
    with pytest.raises(EmotionSpecError, match=r"'happy:1\.7'"):
        EmotionSpec.parse("happy:1.7")


@pytest.mark.parametrize("value", [None, 0.7, 3, ["happy"]])
def test_non_strings_raise_emotion_spec_error(value):
    with pytest.raises(EmotionSpecError, match="must be a string"):
        EmotionSpec.parse(value)


# ----------------------------------------------------------------------------- taxonomy


def test_categories_are_unique_and_start_with_neutral():
    assert CATEGORIES[0] == "neutral"
    assert len(set(CATEGORIES)) == len(CATEGORIES)
    assert set(VAD_ANCHORS) == set(CATEGORIES)


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_has_a_vad_anchor_in_the_unit_cube(category):
    anchor = VAD_ANCHORS[category]
    assert len(anchor) == 3
    assert all(math.isfinite(x) and -1.0 <= x <= 1.0 for x in anchor)


def test_neutral_is_the_origin_and_other_anchors_are_distinct():
    assert VAD_ANCHORS["neutral"] == (0.0, 0.0, 0.0)
    anchors = [VAD_ANCHORS[c] for c in CATEGORIES]
    assert len(set(anchors)) == len(anchors)


@pytest.mark.parametrize(("synonym", "category"), sorted(SYNONYMS.items()))
def test_every_synonym_maps_to_a_category(synonym, category):
    assert category in CATEGORIES
    assert synonym not in CATEGORIES
    assert canonical_name(synonym) == category
    assert canonical_name(synonym.upper()) == category
    assert EmotionSpec.parse(f"{synonym}:0.5").components == ((category, 0.5),)


@pytest.mark.parametrize("category", CATEGORIES)
def test_canonical_names_map_to_themselves(category):
    assert canonical_name(category) == category
    assert canonical_name(f"  {category.upper()} ") == category


def test_canonical_name_of_unknown_is_none():
    assert canonical_name("hapy") is None
