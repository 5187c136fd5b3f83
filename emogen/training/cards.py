"""Model cards (``README.md`` beside the weights) written by the recipes from their ``scores.json``.

Each function takes the pipeline folder and the scores and returns the card's text; the recipe writes it
atomically with :func:`~emogen.training.recipe.finish_recipe`. Sections: components, data, command and
time, scores (and limits for the voice card). A shipped card may add hand-written benchmark sections.
"""

from __future__ import annotations

import math
from pathlib import Path

from .recipe import folder_megabytes

__all__ = ["music_model_card", "voice_model_card"]

#: How the model cards name the speech corpora.
CORPUS_LABELS = {"ravdess": "RAVDESS", "nemo": "nEMO"}


def _size(folder: Path) -> str:
    mb = folder_megabytes(folder)
    return f"{mb:.2f} MB" if mb >= 0.01 else "<0.01 MB"


def music_model_card(output: Path, scores: dict) -> str:
    """The music checkpoint's card: components, data, command and time, scores."""
    config, minutes = scores["config"], scores["minutes"]
    vq, prior, critic, data = scores["vqvae"]["test"], scores["prior"], scores["critic"], scores["data"]
    books = " / ".join(str(k) for k in config["codebook_sizes"])
    codes = " / ".join(str(k) for k in config["codes_per_element"])
    shifts = config["transpositions"]
    used = vq["codes_used"]
    slots = config.get("slots_per_bar", 1)
    layout = (f"VQ-VAE with rhythm and pitch coded per time slot ({slots} per bar: each slot's codes read only the notes "
              "starting in it, and its onsets decode from them plus the whole bar's) and duration and velocity per bar"
              if slots > 1 else "bar-level VQ-VAE")
    tied = "; one embedding table per code column serves as input, in-bar input and output layer; stored in float16" if config.get("prior_tie_embeddings") else ""
    copy = config.get("prior_copy_bars", 0)
    copying = (f"; a copy term lets each code column repeat the code it held 1-{copy} bars back (a weight per distance, read from "
               "the head's input), so bars and parts of bars repeat as in music" if copy else "")
    inner = config.get("prior_inner_layers", 0)
    head = (f"an in-bar causal transformer over the bar's code columns ({inner} layers, so each code sees which code sits in which "
            "column before it; trained in a second phase, on the first phase's frozen bar transformer, emotion projection and code tables)"
            if inner else "an in-bar autoregressive head over the codes (each reading the sum of the codes chosen before it)")
    inner_steps = f" (then {config['prior_inner_steps']} for the in-bar transformer)" if inner else ""
    inner_minutes = f" + {minutes['prior_inner']:.1f} in-bar" if inner and "prior_inner" in minutes else ""
    sum_head = prior.get("sum_head")
    key = scores.get("key_guide") or {}
    shares = " / ".join(f"{key['minor_share'][q]:.0%}" for q in ("Q1", "Q2", "Q3", "Q4")) if key else ""
    element, smoothing = config.get("key_element", "pitch"), config.get("key_smoothing", 20)
    key_row = ("| `key_guide` | `emogen.music.key_guide.KeyCodeGuide` | draws each piece's key (a uniform tonic; minor with the share of "
               f"minor training clips in the emotion's quadrant, {shares} for Q1-Q4, moved from all clips' {key['minor_share']['all']:.0%} "
               f"by the intensity) and adds, for each {element} code, log p(key | code) / p(key) counted on the training bars under "
               f"every transposition (smoothing {smoothing:g} bars) to the prior's log-probabilities, so the music keeps the drawn key "
               f"and its mode; stored in float16 | {_size(output / 'key_guide')} |\n" if key else "")
    key_minutes = f", key guide {minutes['key_guide']:.1f}" if "key_guide" in minutes else ""
    realism_minutes = f", realism head {minutes['realism']:.1f}" if "realism" in minutes else ""
    linear = config.get("critic_linear", False)
    critic_design = ("the whole clip's hand-made descriptor mapped by one linear layer into the space (a multinomial logistic "
                     "regression with the bank's category means as anchors; L2 weight chosen on the val clips)" if linear else
                     "a bar encoder fused with a hand-made clip descriptor")
    critic_steps = (f"{config['critic_linear_steps']} full-batch steps for each L2 weight {', '.join(f'{w:g}' for w in config['critic_l2'])}"
                    if linear else config["critic_steps"])
    calibration = ""
    if "calibration" in critic:
        cal, test = critic["calibration"], critic["test"]
        calibration = (f"\n  Calibration: temperature {cal['temperature']:.2f}, fitted on the val clips (NLL {cal['val_nll_before']:.2f} -> "
                       f"{cal['val_nll_after']:.2f}); test ECE (15 bins) {test['ece_before']:.3f} -> {test['ece_after']:.3f}, mean top "
                       f"probability {test['mean_top_prob_before']:.3f} -> {test['mean_top_prob_after']:.3f}.")
    typical, typical_line = critic.get("typical_readings"), ""
    if typical:
        rows = ", ".join(f"{q} {v:+.2f} / {a:+.2f}" for q, (v, a) in zip(("Q1", "Q2", "Q3", "Q4", "all clips"), typical))
        typical_line = (f"\n  Typical readings (valence / arousal, mean over the training clips; what the pipeline's rerank aims at, from all "
                        f"clips' at intensity 0 to the quadrant's at 1): {rows}.")
    realism, realism_line = critic.get("realism"), ""
    if realism:
        from ..pipelines.pipeline_emo_music import DEFAULT_REALISM_WEIGHT

        weights = ", ".join(f"{name} {w:+.2f}" for name, w in realism["strongest_weights"].items())
        realism_line = (f"\n  Realism head (`realism_head`): a logistic regression on the same standardised descriptor, the {realism['real']} training "
                        f"clips against {realism['generated']} pieces of this pipeline ({config.get('critic_realism_bars', 16)} bars, one candidate, "
                        f"the four quadrants at intensity 0.25-1); 5-fold balanced accuracy {realism['cv_balanced_accuracy']:.3f} (0.5 = the "
                        f"descriptor cannot tell the prior's music from real music); strongest weights {weights}. The rerank adds {DEFAULT_REALISM_WEIGHT:g} x its "
                        "log-odds (`realism_weight`) to minus the squared distance of the reading to its target.")
    key_scores = (f"\n- Key guide: its log-ratios summed over a val clip's codes name the clip's Krumhansl-Schmuckler key "
                  f"{key['val_key_accuracy']:.1%} of the time and its mode {key['val_mode_accuracy']:.1%}." if key else "")
    first_phase = (f"\n  The first phase alone (its head reads the sum of the codes chosen before): {sum_head['val_nll_conditioned']:.4f} vs "
                   f"{sum_head['val_nll_unconditional']:.4f}, {sum_head['val_quadrant_accuracy']:.1%} as a classifier." if sum_head else "")
    return f"""# emogen music checkpoint (`EmoMusicPipeline`)

Emotion-conditioned piano music (MIDI) with element-level control, trained from scratch by
`emogen train music`.

| component | class | what it is | size |
|---|---|---|---|
| `vqvae` | `emogen.music.ElementVQVAE` | {layout}; one latent slice per element (rhythm, pitch, duration, velocity), each read by its own encoder from that element only, product-quantised into {codes} codes per bar (codebooks {books}); decoder heads read fixed slice subsets, bars decode in parallel | {_size(output / "vqvae")} |
| `prior` | `emogen.music.EmotionCodePrior` | causal transformer over bars (d={config["prior_d_model"]}, {config["prior_layers"]} layers, {config["prior_bars"]}-bar window) with {head}; conditioned on the shared `EmotionCondition` embedding; trained at intensity 1 per quadrant, at the neutral point and with a null vector. Sampling weighs the step from neutral music to the emotion at intensity 1 on each code's log-probabilities by guidance x intensity, so intensity acts evenly{copying}{tied} | {_size(output / "prior")} |
| `music_critic` | `emogen.music.MusicEmotionEncoder` | symbolic music emotion encoder into the shared emotion space (picks one of `--candidates`, 4 by default): {critic_design} (key-profile mode and tonic-aligned pitch-class profile, interval and triad content, register, density, polyphony, velocity, durations, rhythm, bar repetition; `emogen.music.features.clip_descriptor`) | {_size(output / "music_critic")} |
{key_row}| `emotion_bank` | `emogen.emotion.EmotionBank` | the shared emotion space (untrained default bank, frozen) | {_size(output / "emotion_bank")} |

Total {folder_megabytes(output):.1f} MB (safetensors; the VQ-VAE and the prior in float16, loaded as float32).

## Data
EMOPIA (Hung et al., ISMIR 2021), piano MIDI clips with quadrant labels, **CC BY-NC-SA 4.0**: these
weights inherit that licence (non-commercial, share-alike). Official song-level split: {data["train"]} train clips
(all training), {data["val"]} val (critic model selection only), {data["test"]} test (scores only). Quadrants map to bank
categories Q1 happy, Q2 angry, Q3 sad, Q4 calm at intensity 1; {config["prior_null_p"]:.0%} of training rows use the null
condition (mask 0) and {config["prior_neutral_p"]:.0%} the neutral point (intensity 0, trained on all music alike).
Pitch-shift augmentation {min(shifts):+d}..{max(shifts):+d} semitones.

EMOPIA's MIDI files are transcriptions written at a nominal 120 bpm that does not follow the music's beat,
so a "bar" here is a 2-second window of 16 sixteenths (125 ms grid); tempo is not learned (`--tempo` only
rescales playback).

## Command and time
```
emogen train music --output checkpoints/music        # seed {config["seed"]}; --threads N for more CPU threads
```
Steps: VQ-VAE {config["vq_steps"]}, prior {config["prior_steps"]}{inner_steps}, critic {critic_steps}.
{minutes["total"]:.1f} min (VQ-VAE {minutes["vqvae"]:.1f}, prior {minutes["prior"]:.1f}{inner_minutes}{key_minutes}, critic {minutes["critic"]:.1f}{realism_minutes} min).

## Scores (`scores.json`, test split unless noted)
- VQ-VAE reconstruction of the test bars: onset F1 at p > 0.3 **{vq["onset_f1"]:.3f}** (val {scores["vqvae"]["val"]["onset_f1"]:.3f}), pitch F1 (keys
  started in a bar) {vq["pitch_f1"]:.3f}, position F1 (sixteenths with an onset) {vq["position_f1"]:.3f}; at the true onsets, duration
  class accuracy {vq["duration_accuracy"]:.3f}, velocity bin accuracy {vq["velocity_accuracy"]:.3f} ({vq["velocity_within_one"]:.3f} within one of 16 bins);
  onset BCE {vq["onset_bce"]:.2f} (x88 cells / 16), duration CE {vq["duration_ce"]:.2f}, velocity CE {vq["velocity_ce"]:.2f};
  {min(used)}-{max(used)} codes in use per codebook.
- Prior: validation NLL per code {prior["val_nll_conditioned"]:.4f} conditioned vs {prior["val_nll_unconditional"]:.4f} unconditional,
  that is {prior["val_nats_per_clip"]:.2f} nats per {config["prior_bars"]}-bar clip (a four-way label is worth at most {prior["val_label_entropy"]:.2f} nats, the
  entropy of the val clips' quadrants, against the average of the conditioned models, so the per-code gap is small
  by nature); used as a classifier (the quadrant whose condition makes a val clip likeliest) the prior names
  {prior["val_quadrant_accuracy"]:.1%} of the val clips' quadrants (chance: the largest quadrant's share).{first_phase}
- Critic: 4-quadrant accuracy {critic["test"]["quadrant"]:.3f}, arousal {critic["test"]["arousal"]:.3f}, valence {critic["test"]["valence"]:.3f} (val {critic["val_quadrant_accuracy"]:.3f}); its
  valence and arousal (printed, and compared by the rerank) are the quadrants' VAD anchors weighted by its posterior.{calibration}{typical_line}{realism_line}{key_scores}
"""


def voice_model_card(output: Path, scores: dict) -> str:
    """The voice checkpoint's card: components, data, command and time, encoder and converter, limits."""
    test, val = scores["encoder_test"], scores["encoder_validation"]
    minutes = scores["minutes"]
    slopes = ", ".join(f"{k} {math.exp(v):.2f}x" for k, v in scores["rate_slopes"].items() if v)
    pairs_per_corpus = ", ".join(f"{CORPUS_LABELS.get(k, k)} {v}" for k, v in scores.get("num_pairs_per_corpus", {}).items())
    return f"""# emogen voice checkpoint

Emotional voice conversion (`EmoVoicePipeline`) and the speech emotion encoder (`speech_critic`), trained
by emogen from scratch on a CPU. Diffusers layout: `model_index.json`, `denoiser/`
(`VoiceConversionDenoiser`), `scheduler/` (DDIM, v-prediction, cosine schedule), `emotion_bank/` (the
shared `EmotionBank`, fixed), `speech_critic/` (`SpeechEmotionEncoder`). Total size {folder_megabytes(output):.1f} MB.

## Data
RAVDESS speech (Livingstone & Russo, 2018), actors 01-20, 16 kHz, **CC BY-NC-SA 4.0**: these weights
inherit that licence (non-commercial, share-alike). Speaker-independent split by actor: train 01-16,
validation 17-18, test 19-20. nEMO (Christop, LREC-COLING 2024; acted Polish, **CC BY-NC-SA 4.0**):
the converter learns from the parallel pairs of its training speakers too.

## Command
```
emogen train voice --output checkpoints/voice    # 1 CPU thread, seed 0
```
Time on the 2-core development CPU (shared): encoder {minutes['encoder']:.1f} min, converter
{minutes['converter']:.1f} min, total {minutes['total']:.1f} min (plus about 2 min for the WORLD feature cache on
first use).

## Speech emotion encoder (speech critic)
Log-mel + normalised log-F0 + voicing -> residual 1-D CNN -> mean/std pooling -> 16-d point of the shared
space. Loss: cross-entropy over the bank's Gaussian log-likelihoods, MSE of the bank's VAD read-out to the
directional target, MSE of the projected intensity to 1.0 (strong) / 0.6 (normal), and a gradient-reversal
speaker classifier.

| split | 8-class accuracy | UAR | projected intensity strong / normal |
|---|---|---|---|
| validation (17-18) | {val['accuracy']:.3f} | {val['uar']:.3f} | {val['intensity_strong']:.2f} / {val['intensity_normal']:.2f} |
| test (19-20) | {test['accuracy']:.3f} | {test['uar']:.3f} | {test['intensity_strong']:.2f} / {test['intensity_normal']:.2f} |

Linear speaker-ID probe (5-fold logistic regression over the {1 / scores['speaker_probe_chance']:.0f} unseen actors 17-20,
chance {scores['speaker_probe_chance']:.2f}): on the embedding {scores['speaker_probe_embedding']:.3f}, on the
pooled raw input features {scores['speaker_probe_raw_features']:.3f} (lower = less identity in the embedding).

## Converter
WORLD (dio + stonemask, 5 ms) features; the denoiser (8 residual FiLM blocks, 128 channels) predicts 20 ms
deltas of log-F0, energy (c0) and the mel-cepstrum c1-c12 from the source features (log-F0 and
mel-cepstrum mean-normalised per utterance, so no speaker identity goes in) and the target embedding (category at 1.0 for strong, 0.6
for normal, neutral pairs at 0), trained on {scores['num_pairs']} DTW-aligned neutral -> emotion pairs of the
same speaker and sentence ({pairs_per_corpus}; corpora weighted equally in the batches, nEMO targets at
intensity 0.8 since nEMO does not label it), with 10% emotion dropout for classifier-free guidance. Higher cepstra, and
so the speaker's spectral identity, are kept. Sampling: DDIM, 10 steps, guidance 2.0, initial-noise
temperature 0.5 (chosen on the validation actors 17-18). Duration factors at intensity 1 from the RAVDESS
training pairs (nEMO's speakers speed up for anger where RAVDESS' actors slow down, so the two are not pooled):
{slopes}.

## Intensity
Trained at intensities 0, 0.6, 0.8 (nEMO) and 1.0 only, the converter's response to the embedding's
intensity is not linear (it barely reacts below 0.3 and changes most between 0.5 and 0.75). So the pipeline samples the
emotion at intensity 1 (the end of the bank's direction from neutral) and scales the predicted change by
the asked intensity: `angry:0.5` makes exactly half of `angry:1`'s change of the F0 level, energy and
cepstrum and moves the F0 range (20th to 80th percentile) half-way, and `angry:0` leaves the features as analysed. The speaking rate's log is linear in the asked intensity.

## Limits
Acted English speech of 20 North-American actors, two sentences; other languages, spontaneous speech and
noisy recordings are out of domain. The model reads 16 kHz features; a 44.1 or 48 kHz input is analysed
and resynthesised at its own rate with the model's change carried over (above 8 kHz: the level change
around each syllable). Contempt has no RAVDESS data: its direction is
extrapolated from the bank.
"""
