"""The product's fixed replies: crisis resources by tier, boundary replies, notices."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.safety import Verdict

RESOURCES_PATH = Path(__file__).resolve().parent / "data" / "crisis_resources.yaml"


@dataclass(frozen=True)
class Resource:
    region: str
    name: str
    contact: str  # e.g. "call or text 988"
    line: str  # the exact display line
    number: str = ""  # the number as written in `line` ("" when there is none)


@functools.lru_cache(maxsize=1)
def _resource_data() -> dict:
    return yaml.safe_load(RESOURCES_PATH.read_text(encoding="utf-8"))


@functools.cache
def load_resources(kind: str = "crisis") -> tuple[Resource, ...]:
    """The 'crisis', 'abuse' or 'poison' resources from bot/data/crisis_resources.yaml, in
    display order."""
    fields = ("region", "name", "contact", "line", "number")
    return tuple(
        Resource(**{f: str(e.get(f) or "") for f in fields}) for e in _resource_data()[kind]
    )


def resource_lines(kind: str) -> tuple[Resource, ...]:
    """The lines for a kind of risk, the emergency number last. Abuse: the safeguarding lines,
    then the crisis lines too, since a message gets one kind and someone who tells of abuse
    may also be thinking of ending their life ("my stepdad hits me and i want to die").

    >>> [r.name for r in resource_lines("abuse")][-3:]
    ['988 Suicide & Crisis Lifeline', 'Samaritans', 'Emergency services']
    """
    crisis = load_resources("crisis")
    if kind != "abuse":
        return crisis
    abuse = load_resources("abuse")
    emergency = tuple(r for r in abuse if r.name == "Emergency services")
    return tuple(dict.fromkeys(r for r in abuse + crisis if r not in emergency)) + emergency


def resources_for(tier: str, kind: str, overdose: bool = False) -> tuple[Resource, ...]:
    """What a risk reply lists, in order. Urgent: the emergency number first, then poison help
    after an overdose, then the lines for its kind (`resource_lines`). Concern: those lines."""
    lines = resource_lines(kind)
    if tier != "urgent":
        return lines
    emergency = tuple(r for r in lines if r.name == "Emergency services")
    poison = load_resources("poison") if overdose else ()
    rest = tuple(r for r in lines if r not in emergency)
    return emergency + poison + rest


_OPENINGS = {
    ("concern", "self"): (
        "I'm really sorry you're going through this, and I'm glad you reached out. You don't "
        "have to face it alone: people are ready to listen and help right now."
    ),
    ("concern", "other"): (
        "It sounds like you're worried about someone, and it's good that you reached out. These "
        "services can help them, and can help you work out what to do next."
    ),
    ("concern", "abuse"): (
        "Thank you for telling me. What is happening is not your fault, and you deserve to be "
        "safe: these people can help, and you don't have to deal with this alone."
    ),
    ("urgent", "self"): (
        "Please get help right now: call your local emergency number or go to the nearest "
        "emergency department. You don't have to wait until it feels worse."
    ),
    ("urgent", "other"): (
        "If they are in danger right now, call your local emergency number, and stay with them "
        "if it is safe to."
    ),
    ("urgent", "abuse"): (
        "If you are in danger right now, call your local emergency number. If you can, get to "
        "somewhere safe, or to someone you trust."
    ),
}
_OVERDOSE_NOTE = (
    " If something has been taken, call now even if you feel fine: some overdoses do their harm "
    "hours later."
)


def crisis_reply(tier: str = "concern", kind: str = "self", overdose: bool = False) -> str:
    """A short opening, then the resources as a bulleted Markdown list (`resources_for`).
    Urgent replies open with what to do now; concern replies with warm words. Never includes
    any method information, quantities or drug names.

    >>> crisis_reply("urgent", "self", overdose=True).splitlines()[2]
    '- Anyone in immediate danger: call the local emergency number (911, 999, 112)'
    """
    tier = "urgent" if tier == "urgent" else "concern"
    kind = kind if kind in ("other", "abuse") else "self"
    opening = _OPENINGS[tier, kind] + (_OVERDOSE_NOTE if tier == "urgent" and overdose else "")
    bullets = "\n".join(f"- {r.line}" for r in resources_for(tier, kind, overdose))
    return f"{opening}\n\n{bullets}"


def resources_reminder(kind: str = "crisis") -> str:
    """A compact one-paragraph reminder of the resources, appended to later replies in a
    conversation that was flagged (the 'stays on' behaviour)."""
    lines = "; ".join(r.line for r in resource_lines(kind))
    return f"If you need support at any point, it is there: {lines}."


_MEDICATION_REPLY = (
    "I can't give instructions about doses, missed or extra doses, mixing medicines with alcohol "
    "or other drugs, or switching medications: the article doesn't cover that, and the safe "
    "answer depends on you and your prescription. Please ask your prescriber or a pharmacist. "
    "If you have taken more than prescribed or feel unwell, contact poison control or your local "
    "emergency number straight away."
)
_STOPPING_REPLY = (
    "Please don't stop or cut down your medication on your own. Talk to your prescriber first: "
    "they can plan any change with you, usually as a gradual taper, and keep an eye on how you "
    "are doing. Here is what the article says:"
)
_DIET_REPLY = (
    "Weight loss, calories and diet plans are outside what this article covers, so I can't give "
    "numbers or a plan. A doctor or a registered dietitian can help you with an approach that is "
    "safe alongside any medication you take."
)
_PURGING_NOTE = (
    " If you have been making yourself sick, restricting food or feeling out of control around "
    "eating, you deserve support with that: a doctor or an eating-disorder support service can "
    "help, without judgement."
)


def boundary_reply(verdict: Verdict) -> str:
    """For 'medication': says the article can't give dosing/mixing/switching instructions and tells
    the person to talk to their prescriber or pharmacist (and, if they took too much, to call poison
    control/emergency — no numbers of milligrams ever). For 'stopping': says not to stop on their
    own, talk to the prescriber; the caller will append the article's FAQ 8 (tapering) as a
    citation, so the text leads into it (ending with 'Here is what the article says:'). For 'diet':
    out of scope, no numbers, suggest a doctor or dietitian (and for purging mention eating-disorder
    support gently). No digits in any boundary reply."""
    if verdict.kind == "stopping":
        return _STOPPING_REPLY
    if verdict.kind == "diet":
        return _DIET_REPLY + (_PURGING_NOTE if verdict.rule == "boundary.diet_purging" else "")
    return _MEDICATION_REPLY


def _emergency_contact() -> str:
    emergency = _resource_data()["emergency"]
    return f"{emergency['contact']} ({emergency['number']})"


NON_ENGLISH_REPLY: str = (
    "Sorry, I can only answer in English for now. Could you ask your question in English? "
    f"If you are in danger right now, please {_emergency_contact()}."
)
# While the index cannot be reached (bot.service).
UNAVAILABLE_REPLY: str = (
    "Sorry, I can't reach the articles right now, so I can't answer this yet. Please try "
    "again in a minute."
)
EMPTY_REPLY: str = (
    "Your message looks empty. What would you like to know about combining medication and therapy?"
)


def truncated_notice(max_chars: int = 2000) -> str:
    """The notice shown above an answer to a message cut to `max_chars` characters."""
    return f"Your message was long, so I only read the first {max_chars:,} characters."


TRUNCATED_NOTICE: str = truncated_notice()
