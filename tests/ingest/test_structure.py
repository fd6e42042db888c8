"""Structure: headings, FAQ sections, questions and answers found in small inline texts."""

import pytest

from ingest.structure import Faq, Paragraph, is_heading_line, outline, parse_question


def parts(text: str, plain: bool = False) -> list[tuple]:
    """Each part as (kind, path, text), after checking that its offsets slice `text`."""
    found = []
    for part in outline(text, plain=plain):
        if isinstance(part, Faq):
            question = text[part.question[0] : part.question[1]]
            answer = [text[s:e] for s, e in part.answer]
            assert text[part.start : part.end].startswith(text[part.start : part.question[0]])
            assert part.start <= part.question[0] < part.question[1] <= part.answer[0][0]
            found.append(("faq", part.path, question, answer, part.number))
        else:
            assert isinstance(part, Paragraph)
            found.append(("text", part.path, text[part.start : part.end]))
    return found


@pytest.mark.parametrize(
    ("line", "heading"),
    [
        ("Medication and Therapy Together", True),
        ("Is Medication or Therapy Better?", True),
        ("Frequently Asked Questions", True),
        ("Here are key advantages:", False),  # introduces what follows
        ("Regular bedtimes help.", False),
        ("Sleep, mood,", False),
        ("Not a heading; a clause", True),  # only the final character counts
        ("lower case words", False),
        ("- Weekly sessions", False),
        ("## Markdown heading", False),  # Markdown headings are found as such
        ("12", False),  # a page number
        ("One two three four five six seven eight nine ten eleven twelve thirteen", False),
        ("A" * 81, False),
        ('He said "stop."', False),
    ],
)
def test_a_heading_line_is_short_and_has_no_final_sentence_punctuation(line, heading):
    assert is_heading_line(line) is heading


def test_plain_text_headings_open_sections_and_the_rest_is_text():
    text = (
        "Opening paragraph, before any heading.\n\n"
        "Medication and Therapy Together\n\n"
        "Medication often provides quick stabilization.\n\n"
        "Here are key advantages:\n\n"
        "Lower Relapse Risk: combined treatment halves recurrence.\n\n"
        "Is Medication or Therapy Better?\n\n"
        "Neither claims universal superiority.\n"
        "A second line of the same paragraph\n\n"
        "- a list item\n\n"
        "Short Line Inside\na paragraph of two lines."
    )
    assert parts(text, plain=True) == [
        ("text", (), "Opening paragraph, before any heading."),
        (
            "text",
            ("Medication and Therapy Together",),
            "Medication often provides quick stabilization.",
        ),
        ("text", ("Medication and Therapy Together",), "Here are key advantages:"),
        (
            "text",
            ("Medication and Therapy Together",),
            "Lower Relapse Risk: combined treatment halves recurrence.",
        ),
        (
            "text",
            ("Is Medication or Therapy Better?",),
            "Neither claims universal superiority.\nA second line of the same paragraph",
        ),
        ("text", ("Is Medication or Therapy Better?",), "- a list item"),
        (
            "text",
            ("Is Medication or Therapy Better?",),
            "Short Line Inside\na paragraph of two lines.",
        ),
    ]


def test_markdown_short_lines_are_not_headings():
    text = "## Real heading\n\nShort Line\n\nBody text."
    assert parts(text) == [
        ("text", ("Real heading",), "Short Line"),
        ("text", ("Real heading",), "Body text."),
    ]


def test_numbered_questions_under_a_plain_faq_heading_are_faqs_with_their_answers():
    text = (
        "Intro text here.\n\n"
        "Frequently Asked Questions\n\n"
        "1. Do medication and therapy work better together?\n\n"
        "Yes, they complement each other.\n\n"
        "2. Is medication or therapy more effective?\n\n"
        "Neither is universally better. Their combination helps.\n\n"
        "It varies by person.\n\n"
        "10) Can I stop medication once therapy starts?\n"
        "Not without guidance."
    )
    assert parts(text, plain=True) == [
        ("text", (), "Intro text here."),
        (
            "faq",
            ("Frequently Asked Questions", "1. Do medication and therapy work better together?"),
            "Do medication and therapy work better together?",
            ["Yes, they complement each other."],
            1,
        ),
        (
            "faq",
            ("Frequently Asked Questions", "2. Is medication or therapy more effective?"),
            "Is medication or therapy more effective?",
            ["Neither is universally better. Their combination helps.", "It varies by person."],
            2,
        ),
        (
            "faq",
            ("Frequently Asked Questions", "10) Can I stop medication once therapy starts?"),
            "Can I stop medication once therapy starts?",
            ["Not without guidance."],
            10,
        ),
    ]
    first = outline(text, plain=True)[1]
    assert text[first.start :].startswith("1. Do medication")


def test_in_a_plain_faq_a_short_question_line_asks_and_a_one_line_answer_answers():
    text = (
        "FAQs\n\n"
        "Can I drink coffee?\n\n"
        "Not usually\n\n"
        "Is exercise good for anxiety?\n\n"
        "Often, yes.\n\n"
        "Getting Help\n\n"
        "Talk to your doctor.\n\n"
        "Why does this matter?\n\n"
        "Outside the FAQ section a question line is a heading."
    )
    assert parts(text, plain=True) == [
        ("faq", ("FAQs", "Can I drink coffee?"), "Can I drink coffee?", ["Not usually"], None),
        (
            "faq",
            ("FAQs", "Is exercise good for anxiety?"),
            "Is exercise good for anxiety?",
            ["Often, yes."],
            None,
        ),
        ("text", ("Getting Help",), "Talk to your doctor."),
        (
            "text",
            ("Why does this matter?",),
            "Outside the FAQ section a question line is a heading.",
        ),
    ]


@pytest.mark.parametrize("plain", [True, False])
def test_q_and_a_labels_are_left_out_of_question_and_answer(plain):
    text = (
        "## FAQ\n\n"
        "Q: Is anxiety a sign of weakness?\nA: No. It is a health condition.\n\n"
        "Question: Can anxiety go away on its own?\n\nAnswer: Sometimes.\n\nOften it needs support.\n\n"
        "Q: Is it common?\n\nA:\n\nVery common."
    )
    assert parts(text, plain) == [
        (
            "faq",
            ("FAQ", "Is anxiety a sign of weakness?"),
            "Is anxiety a sign of weakness?",
            ["No. It is a health condition."],
            None,
        ),
        (
            "faq",
            ("FAQ", "Can anxiety go away on its own?"),
            "Can anxiety go away on its own?",
            ["Sometimes.", "Often it needs support."],
            None,
        ),
        ("faq", ("FAQ", "Is it common?"), "Is it common?", ["Very common."], None),
    ]
    assert all(f.answer_labelled for f in outline(text, plain=plain))


def test_a_q_and_a_pair_outside_an_faq_section_is_an_faq_that_ends_with_its_answer():
    text = (
        "## Sleep basics\n\n"
        "Q: How much sleep do teenagers need?\nA: Around eight to ten hours.\n\n"
        "Back to the section's own text.\n\n"
        "Q: A question with no answer label?\n\n"
        "Just text."
    )
    assert parts(text) == [
        (
            "faq",
            ("Sleep basics", "How much sleep do teenagers need?"),
            "How much sleep do teenagers need?",
            ["Around eight to ten hours."],
            None,
        ),
        ("text", ("Sleep basics",), "Back to the section's own text."),
        ("text", ("Sleep basics",), "Q: A question with no answer label?"),
        ("text", ("Sleep basics",), "Just text."),
    ]


def test_bold_questions_under_an_faq_heading_leave_out_their_marks():
    text = (
        "## FAQs\n\n"
        "**1. Can I catch up on sleep at weekends?**\n\nA little.\n\n"
        "**Q: Do screens keep me awake?**\nThey can.\n\n"
        "**Q:** Should I nap?\n\n**A:** Short naps are fine.\n\n"
        "__Is melatonin safe?__\n\nAsk a pharmacist.\n\n"
        "2. **Does caffeine matter?**\n\nYes.\n\n"
        "## After\n\n"
        "**Is this a question?**\n\nNo: outside an FAQ section bold is only bold."
    )
    assert parts(text) == [
        (
            "faq",
            ("FAQs", "1. Can I catch up on sleep at weekends?"),
            "Can I catch up on sleep at weekends?",
            ["A little."],
            1,
        ),
        (
            "faq",
            ("FAQs", "Do screens keep me awake?"),
            "Do screens keep me awake?",
            ["They can."],
            None,
        ),
        ("faq", ("FAQs", "Should I nap?"), "Should I nap?", ["Short naps are fine."], None),
        ("faq", ("FAQs", "Is melatonin safe?"), "Is melatonin safe?", ["Ask a pharmacist."], None),
        ("faq", ("FAQs", "2. Does caffeine matter?"), "Does caffeine matter?", ["Yes."], 2),
        ("text", ("After",), "**Is this a question?**"),
        ("text", ("After",), "No: outside an FAQ section bold is only bold."),
    ]
    assert [text[f.start : f.start + 3] for f in outline(text) if isinstance(f, Faq)] == [
        "**1",
        "**Q",
        "**Q",
        "__I",
        "2. ",
    ]


def test_question_headings_drop_labels_and_an_answered_one_leaves_the_path():
    text = (
        "## FAQ\n\n"
        "### Q: Is it safe?\n\nA: Yes, mostly.\n\n"
        "Q: Is it quick?\n\nA: It takes weeks.\n\n"
        "### Side effects\n\n"
        "**Q: Are they common?**\n\nSome are.\n\n"
        "**Q: Do they pass?**\n\nMost do."
    )
    assert parts(text) == [
        ("faq", ("FAQ", "Is it safe?"), "Is it safe?", ["Yes, mostly."], None),
        ("faq", ("FAQ", "Is it quick?"), "Is it quick?", ["It takes weeks."], None),
        # "Side effects" has no answer of its own: it groups the questions under it
        (
            "faq",
            ("FAQ", "Side effects", "Are they common?"),
            "Are they common?",
            ["Some are."],
            None,
        ),
        ("faq", ("FAQ", "Side effects", "Do they pass?"), "Do they pass?", ["Most do."], None),
    ]


def test_a_question_line_with_no_answer_is_kept_as_text():
    text = "FAQ\n\n1. First question?\n\n2. Second question?\n\nIts answer."
    assert parts(text, plain=True) == [
        ("text", ("FAQ",), "1. First question?"),
        ("faq", ("FAQ", "2. Second question?"), "Second question?", ["Its answer."], 2),
    ]


def test_a_markdown_heading_in_plain_text_is_a_heading_too():
    text = "# Guide\n\nIntro.\n\nPart A\n\nText A."
    assert parts(text, plain=True) == [
        ("text", ("Guide",), "Intro."),
        ("text", ("Guide", "Part A"), "Text A."),
    ]


def test_parse_question_reads_marks_labels_and_numbers_with_offsets():
    line = "**Q: 3. Can I stop?**"
    q = parse_question(line, 0, len(line))
    assert (q.label, line[q.start : q.end], q.number, q.mark, q.asks) == (
        "3. Can I stop?",
        "Can I stop?",
        3,
        "q",
        True,
    )
    plain = parse_question("  Sleep matters  ", 0, 17)
    assert (plain.label, plain.start, plain.end, plain.mark, plain.asks) == (
        "Sleep matters",
        2,
        15,
        "",
        False,
    )
    assert parse_question("**", 0, 2).mark == ""  # too short to be bold: read as it is
    assert parse_question("   ", 0, 3) is None


def test_windows_line_endings_stay_out_of_heading_titles():
    text = "## Title\r\n\r\nText.\r\n\r\n## FAQ\r\n\r\n### Why?\r\n\r\nBecause.\r\n"
    assert parts(text) == [
        ("text", ("Title",), "Text."),
        ("faq", ("FAQ", "Why?"), "Why?", ["Because."], None),
    ]
