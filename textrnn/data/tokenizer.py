"""Word- and character-level vocabularies, trained with Hugging Face `tokenizers`.

This replaces torchtext's `build_vocab_from_iterator` (torchtext stopped at 0.18): a `WordLevel` model
whose whole state (normalizer, pre-tokenizer, vocabulary, truncation) serialises to one JSON string, so
it travels inside a Lightning checkpoint and a checkpoint alone can turn raw text into ids.

- ``level="word"``: NFKC, then BERT's normalizer (clean control characters, put spaces around every
  CJK character, optional lowercasing; accents kept), then BERT's pre-tokenizer (split on whitespace
  and on each punctuation mark), with each emoji a token of its own. Chinese therefore needs no word
  segmenter: one character, one token.
- ``level="char"``: NFKC, optional lowercasing, whitespace runs collapsed to one space, then every
  character (the space included) is its own token.

Ids 0 and 1 are always ``[PAD]`` and ``[UNK]``.
"""

from collections.abc import Iterable
from typing import Literal, get_args

from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from tokenizers.trainers import WordLevelTrainer

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN)  # ids 0 and 1, in this order
Level = Literal["word", "char"]  # a typed choice, like the models' cell and pooling
LEVELS: tuple[str, ...] = get_args(Level)
# Pictographs, symbols and dingbats (the emoji blocks), each with an optional variation selector.
EMOJI = "[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF]\uFE0F?"


def _check(name: str, value: int, minimum: int) -> None:
    if not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _pipeline(level: str, lowercase: bool) -> tuple[normalizers.Normalizer, pre_tokenizers.PreTokenizer]:
    """The normalizer and pre-tokenizer for one tokenization level."""
    if level == "word":
        normalizer = normalizers.Sequence(
            [
                normalizers.NFKC(),
                normalizers.BertNormalizer(
                    clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=lowercase
                ),
            ]
        )
        # Emoji are words of their own ("goal⚽" is "goal" and "⚽"), as BERT makes punctuation.
        emoji = pre_tokenizers.Split(Regex(EMOJI), behavior="isolated")
        return normalizer, pre_tokenizers.Sequence([emoji, pre_tokenizers.BertPreTokenizer()])
    if level == "char":
        steps = [normalizers.NFKC()]
        if lowercase:
            steps.append(normalizers.Lowercase())
        steps += [normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip()]
        # Whitespace is already collapsed to single spaces, so "." (which skips newlines) sees every character.
        return normalizers.Sequence(steps), pre_tokenizers.Split(Regex("."), behavior="isolated")
    raise ValueError(f"unknown tokenization level {level!r}; valid levels: {', '.join(map(repr, LEVELS))}")


def build_tokenizer(
    texts: Iterable[str],
    level: str = "word",
    lowercase: bool = True,
    vocab_size: int = 30000,
    min_frequency: int = 1,
    max_length: int = 400,
) -> Tokenizer:
    """Train a word- or character-level vocabulary on ``texts``.

    Args:
        texts: the training texts (never validation or test: the vocabulary is part of the model).
        level: ``"word"`` or ``"char"``.
        lowercase: lowercase before splitting.
        vocab_size: the most tokens in the vocabulary, ``[PAD]`` and ``[UNK]`` included; the most
            frequent tokens are kept.
        min_frequency: drop tokens seen fewer times than this in ``texts``.
        max_length: encodings are truncated to this many tokens.

    Returns:
        A trained `tokenizers.Tokenizer` with truncation to ``max_length`` enabled and no padding
        (batches are padded by `textrnn.data.batching.pad_sequences`).
    """
    normalizer, pre_tokenizer = _pipeline(level, lowercase)
    _check("vocab_size", vocab_size, len(SPECIAL_TOKENS) + 1)
    _check("min_frequency", min_frequency, 1)
    _check("max_length", max_length, 1)
    tokenizer = Tokenizer(WordLevel(unk_token=UNK_TOKEN))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    trainer = WordLevelTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.enable_truncation(max_length)
    return tokenizer


def encode_batch(tokenizer: Tokenizer, texts: Iterable[str]) -> list[list[int]]:
    """Token ids of each text, truncated by the tokenizer's own setting.

    A text that yields no token at all (empty, or only whitespace) becomes ``[unk_id]``, so every
    sequence has length >= 1: recurrent encoders and max-pooling need at least one real step.
    """
    unk_id = tokenizer.token_to_id(UNK_TOKEN)
    if unk_id is None:
        raise ValueError(f"the tokenizer has no {UNK_TOKEN} token; build it with build_tokenizer()")
    texts = list(texts)
    # encode_batch_fast (tokenizers >= 0.20) skips the character offsets, which we never use.
    encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)
    try:
        encodings = encode(texts, add_special_tokens=False)
    except TypeError:  # tokenizers' only words for a text that is not valid Unicode
        _check_unicode(texts)
        raise
    return [encoding.ids or [unk_id] for encoding in encodings]


def _check_unicode(texts: list[str]) -> None:
    """Name the first text that is not a string or holds a lone surrogate (JSON allows "\\ud800")."""
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text {i} is a {type(text).__name__} ({text!r}), not a string")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError(
                f"text {i} is not valid Unicode: {text[err.start]!r} at character {err.start} is a lone "
                "surrogate; remove it or decode the source with errors='replace'"
            ) from None
