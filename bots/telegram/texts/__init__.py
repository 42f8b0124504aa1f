"""Everything the Telegram bot says, in the five languages of the seeds.

The bot answers in the user's Telegram language when it is one of these (English, Spanish,
Turkish, Korean, Japanese) and in English otherwise. Every language has every key with the
same placeholders (a test checks), so a missing translation cannot surface as a crash in
the middle of a conversation. Engine error messages stay English: they are inserted as
`{reason}` into a sentence in the user's language.

Each language's table lives in its own module (`en`, `es`, `tr`, `ko`, `ja`) so that
no file grows past a readable size and a translator edits one language at a time;
this package only chooses the language and fills in the placeholders.
"""

from __future__ import annotations

from telegram import User

from bots.shared import pick_language
from bots.telegram.texts.en import EN
from bots.telegram.texts.es import ES
from bots.telegram.texts.ja import JA
from bots.telegram.texts.ko import KO
from bots.telegram.texts.tr import TR

LANGUAGES = ("en", "es", "tr", "ko", "ja")

TEXTS: dict[str, dict[str, str]] = {"en": EN, "es": ES, "tr": TR, "ko": KO, "ja": JA}


def language_of(user: User | None) -> str:
    """The language to answer this Telegram user in."""
    return pick_language(user.language_code if user else None, LANGUAGES)


def t(lang: str, key: str, **values: object) -> str:
    """The text `key` in `lang` (English if that language lacks it), filled with `values`."""
    template = TEXTS.get(lang, EN).get(key) or EN[key]
    return template.format(**values)


def stage_name(lang: str, stage: str) -> str:
    """A renderer stage ("finding faces") in the user's words; unknown stages read "Working"."""
    key = f"stage.{stage}"
    return t(lang, key if key in EN else "stage.other")
