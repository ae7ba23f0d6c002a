"""Captions for Fashion-MNIST classes: varied templates (synonyms, materials, colours, uses), and a
held-out set of paraphrases that never appear in training, for evaluating text conditioning.

Training captions are built as template x noun phrase; the held-out prompts describe the class by use
or context ("something to wear on a run") so that a model only succeeds through the encoder's
semantics, not by matching words.

The caption set is versioned by *round* (``ROUNDS``), because a text model must only ever be anchored to
the captions it was trained on (:mod:`genlens.diffusion.anchors`):

- round 1: template x adjective x noun, and adjective x noun x use (10,052 captions). The shipped
  ``fmnist-ddpm-text`` was trained on exactly these (commit 0327577).
- round 2: round 1 plus ``MORE_NOUNS`` x ``MORE_USES`` and noun-free "something {use}" captions (11,472).
  Written after the held-out prompts had been studied (commit c69baba); no shipped model saw them.

A text model's folder records its round (``train.caption_round``; folders without it are round 1).
"""
from __future__ import annotations

import random

from genlens.errors import GenlensError

ROUNDS = (1, 2)
LATEST_ROUND = ROUNDS[-1]  # what a new training run uses

# Noun phrases per class (index = Fashion-MNIST label).
NOUNS: tuple[tuple[str, ...], ...] = (
    ("t-shirt", "tee", "short-sleeved top", "crew-neck t-shirt", "cotton tee", "tank top"),
    ("pair of trousers", "pants", "jeans", "slacks", "chinos", "leggings"),
    ("pullover", "sweater", "jumper", "knitted sweater", "wool pullover", "long-sleeved sweatshirt"),
    ("dress", "summer dress", "evening gown", "sundress", "cocktail dress", "long dress"),
    ("coat", "winter coat", "jacket", "parka", "overcoat", "trench coat"),
    ("sandal", "flip-flop", "strappy sandal", "summer sandal", "open-toed shoe", "high-heeled sandal"),
    ("shirt", "button-up shirt", "blouse", "collared shirt", "flannel shirt", "dress shirt"),
    ("sneaker", "trainer", "running shoe", "canvas sneaker", "athletic shoe", "low-top sneaker"),
    ("bag", "handbag", "purse", "tote bag", "shoulder bag", "backpack"),
    ("ankle boot", "boot", "leather boot", "chelsea boot", "heeled boot", "winter boot"),
)
ADJECTIVES = ("", "black ", "white ", "grey ", "dark ", "light ", "plain ", "patterned ", "leather ", "cotton ",
              "striped ", "simple ")
# What the garment is for, or a feature it has: "a {adjective}{noun} {use}". Written to teach use and context
# without reusing the held-out prompts' wording (tests/test_captions.py checks that no held-out prompt or its
# distinctive phrase appears in a training caption).
USES: tuple[tuple[str, ...], ...] = (
    ("for everyday wear", "for a sunny afternoon", "to wear in warm weather", "with a round neck",
     "for lounging at home", "to wear under a jacket"),
    ("with a belt and pockets", "for hiking", "with long straight legs", "to wear with a shirt",
     "for a walk in the park", "with a zip and a button"),
    ("to keep warm", "for chilly weather", "with long sleeves and a round neck", "made of wool",
     "for winter mornings", "to layer over a shirt"),
    ("for a wedding", "for a summer evening", "for a night out", "for a dance", "with a flared hem",
     "that reaches the knees"),
    ("for cold weather", "with a hood", "to wear outdoors in the snow", "for a windy day", "with a warm lining",
     "for wet weather"),
    ("for hot weather", "with thin straps", "for the pool", "for walking on holiday", "with an open toe",
     "for a summer stroll"),
    ("with a collar and cuffs", "for a business meeting", "with buttons down the front", "tucked into trousers",
     "for a formal dinner", "with a chest pocket"),
    ("for jogging", "for sport", "with laces and a rubber sole", "for the tennis court", "for walking all day",
     "for training"),
    ("for shopping", "to carry books", "for travel", "with a long strap", "for a laptop",
     "to hold keys and a wallet"),
    ("for winter", "with a zip on the side", "for muddy paths", "with a thick sole", "for rainy days",
     "for walking in the snow"),
)
# More nouns and more uses, written with none of the held-out prompts' content words (a test checks), and
# "something {use}" captions that name no garment at all: they teach the model to read a description.
MORE_NOUNS: tuple[tuple[str, ...], ...] = (
    ("jersey tee", "sleeveless vest"), ("pair of bottoms", "full-length legwear"),
    ("woolly jumper", "cable-knit jumper"), ("frock", "gown"), ("anorak", "peacoat"), ("slider", "jelly sandal"),
    ("oxford shirt", "linen shirt"), ("plimsoll", "sports shoe"), ("satchel", "holdall"),
    ("walking boot", "desert boot"),
)
MORE_USES: tuple[tuple[str, ...], ...] = (
    ("for a heatwave", "for relaxing outdoors", "for a picnic", "for the weekend"),
    ("with pleats at the front", "for cycling", "with side pockets", "for a stroll"),
    ("for frosty mornings", "with a ribbed hem", "for snug nights indoors", "for a frosty walk"),
    ("for a gala", "for a ball", "for a celebration", "with a fitted waist"),
    ("for stormy weather", "for freezing temperatures", "with a fur-trimmed hood", "for a blizzard"),
    ("for the seaside", "with a buckle strap", "for the poolside", "for a tropical trip"),
    ("for a job interview", "with cuffs and a yoke", "for smart occasions", "with a breast pocket"),
    ("for a marathon", "for the track", "for workouts", "for aerobics"),
    ("for a market trip", "to hold a purse and phone", "for a weekend trip", "with a pair of handles"),
    ("for frosty trails", "for slushy streets", "with a lug sole", "for the hills"),
)
TEMPLATES = ("a photo of a {a}{n}", "a {a}{n}", "an image of a {a}{n}", "a picture of a {a}{n}",
             "a grayscale photo of a {a}{n}", "a product shot of a {a}{n}", "a small {a}{n}", "the {a}{n}")

# Held out: never used for training; each names a use or situation rather than the class noun.
HELD_OUT: tuple[tuple[str, ...], ...] = (
    ("something casual to wear on a hot day", "a basic top with short sleeves"),
    ("something to cover your legs", "clothing with two legs for the lower body"),
    ("something warm and knitted to pull over your head", "a cosy top for a cold evening"),
    ("something elegant to wear to a party", "a one-piece garment with a skirt"),
    ("outerwear for the rain and cold", "something to wear over everything in winter"),
    ("open footwear for the beach", "shoes that leave your toes free in summer"),
    ("a top with buttons and a collar for the office", "something with buttons to wear to work"),
    ("something to wear on a run", "sporty shoes for the gym"),
    ("a bag for the groceries", "something to carry your things in"),
    ("footwear that covers the ankle", "sturdy shoes for autumn"),
)

# A second held-out set, written after caption anchoring's settings (K = 8, λ = 0) had been chosen on HELD_OUT,
# to check them on prompts they were not tuned on. Never used for training or for choosing settings.
VALIDATION: tuple[tuple[str, ...], ...] = (
    ("a simple tee for the weekend", "a light top for summer afternoons"),
    ("long pants for the office", "something to wear on your legs for hiking"),
    ("a thick woolly jumper for winter", "a knit to keep you warm by the fire"),
    ("a summer frock", "an outfit for a wedding guest"),
    ("a long jacket for a chilly walk", "something to keep you dry and warm outdoors"),
    ("flip flops for the pool", "strappy footwear for a warm holiday"),
    ("a formal top with a collar", "a button-down for a meeting"),
    ("trainers for everyday wear", "comfortable shoes for walking around town"),
    ("a tote for the beach", "something to hold your laptop and keys"),
    ("short boots for winter", "chunky boots with a heel"),
)


def check_round(caption_round: int) -> int:
    """``caption_round`` as an int, or a one-line error naming the rounds there are."""
    if isinstance(caption_round, bool) or caption_round not in ROUNDS:
        raise GenlensError(f"caption round {caption_round!r} is unknown; use one of "
                           f"{', '.join(map(str, ROUNDS))} (1 = what the shipped fmnist-ddpm-text was trained on)")
    return int(caption_round)


def class_captions(label: int, caption_round: int = LATEST_ROUND) -> list[str]:
    """All training captions of one class in caption round ``caption_round`` (deterministic order)."""
    caption_round = check_round(caption_round)
    out = []
    for noun in NOUNS[label]:
        for adj in ADJECTIVES:
            for t in TEMPLATES:
                text = t.format(a=adj, n=noun)
                out.append(text)
        for adj in ADJECTIVES:
            for use in USES[label]:
                out.append(f"a {adj}{noun} {use}")
    if caption_round >= 2:
        for noun in NOUNS[label][:3] + MORE_NOUNS[label]:
            for adj in ADJECTIVES[:6]:
                out.append(f"a {adj}{noun}")
                for use in MORE_USES[label]:
                    out.append(f"a {adj}{noun} {use}")
        for use in USES[label] + MORE_USES[label]:
            out.append(f"something {use}")
    return sorted({_article(t) for t in out})


def _article(text: str) -> str:
    return ("an " + text[2:]) if text.startswith("a ") and text[2] in "aeiou" else text


def all_captions(caption_round: int = LATEST_ROUND) -> tuple[list[str], list[int]]:
    """Every training caption of round ``caption_round`` and its class, class by class."""
    texts, labels = [], []
    for label in range(len(NOUNS)):
        caps = class_captions(label, caption_round)
        texts += caps
        labels += [label] * len(caps)
    return texts, labels


def sample_captions(labels: list[int], *, rng: random.Random, caption_round: int = LATEST_ROUND) -> list[str]:
    return [rng.choice(class_captions(y, caption_round)) for y in labels]


def held_out_prompts(which: str = "held_out") -> tuple[list[str], list[int]]:
    """Prompts never used in training and their classes: ``"held_out"`` (the evaluation set) or
    ``"validation"`` (the second set, see ``VALIDATION``)."""
    sets = {"held_out": HELD_OUT, "validation": VALIDATION}
    if which not in sets:
        raise GenlensError(f"prompt set '{which}' is unknown; use held_out or validation")
    texts, labels = [], []
    for label, prompts in enumerate(sets[which]):
        texts += list(prompts)
        labels += [label] * len(prompts)
    return texts, labels
