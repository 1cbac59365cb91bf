"""A self-contained HTML report that mirrors the evaluation's own pages, for the programme manager.

Headline figures, training types, role groups, delivery by month, ratings, conversations by
setting and a per-partnership comparison, each with a chart drawn as inline SVG: no script, no
font or stylesheet from the network, so the file opens anywhere, offline. Every figure comes
from `metric_values_published` (disclosure-controlled); each carries `data-metric`,
`data-partnership` and `data-dimension-value` attributes so a browser test can check it against
the table.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Sequence

import pandas as pd

from amed_pipeline.metrics.catalogue import ALL_PARTNERSHIPS
from amed_pipeline.metrics.disclosure import SUPPRESSED
from amed_pipeline.reports import presentation as pres
from amed_pipeline.reports.presentation import BASE_UNITS, SETTING_LABELS

PALETTE = ("#00558c", "#e07a10", "#2a9d8f", "#8e5ea2", "#c0392b", "#7f8c8d")
TRAINING_TYPE_ORDER = (
    "helping_people_become_more_active",
    "physical_activity_in_clinical_care",
    "motivational_interviewing",
    "bespoke_iapt",
    "children_and_young_people",
    "other",
)


def format_value(value, unit: str, status: str) -> str:
    """A published figure as the report shows it; a figure without a value shows its flag(s), else [x]."""
    flags = pres.flags_of(status)
    if value is None or pd.isna(value) or SUPPRESSED in flags or pres.NOT_APPLICABLE in flags:
        return " ".join(flags) or pres.NOT_AVAILABLE
    if unit == "share":
        text = f"{100 * float(value):.0f}%"
    elif unit == "mean_0_10":
        text = f"{float(value):.1f}"
    else:
        text = f"{float(value):,.0f}"
    return " ".join([text, *flags])


def format_base(base_n, unit: str, status: str) -> str:
    """The base (n) shown beside a share or mean: 'n = 1,385', or the flag when the figure is hidden."""
    if unit not in BASE_UNITS:
        return ""
    flags = pres.flags_of(status)
    if base_n is None or pd.isna(base_n) or SUPPRESSED in flags or pres.NOT_APPLICABLE in flags:
        return "n = " + (" ".join(flags) or pres.NOT_AVAILABLE)
    return f"n = {float(base_n):,.0f}"


class _Figures:
    """Lookup of published rows, rendering each as a tagged `<span>` (with its base for shares and means).

    Remembers every shorthand it rendered, and whether it drew a dash, for the legend.
    """

    def __init__(self, published: pd.DataFrame, not_applicable: set[tuple[str, str]] = frozenset()):
        self.frame = published
        self.not_applicable = not_applicable
        self.symbols: set[str] = set()
        self.dash = False
        # Where each figure's first row is, so that a cell is a dict lookup, not a scan of the frame
        # (a report renders ~300 cells).
        self._first: dict[tuple, int] = {}
        keys = zip(
            published["metric_id"], published["partnership_id"], published["dimension"], published["dimension_value"]
        )
        for position, key in enumerate(keys):
            self._first.setdefault(key, position)

    def rows(self, metric_id: str, partnership: str = ALL_PARTNERSHIPS, dimension: str = "") -> pd.DataFrame:
        f = self.frame
        return f[(f["metric_id"] == metric_id) & (f["partnership_id"] == partnership) & (f["dimension"] == dimension)]

    def row(self, metric_id: str, partnership: str = ALL_PARTNERSHIPS, dimension: str = "", value: str = ""):
        """The first published row of the figure (as `rows(...)` filtered on the value would give), or None."""
        position = self._first.get((metric_id, partnership, dimension, value))
        return None if position is None else self.frame.iloc[position]

    def shown(self, row) -> str:
        text = format_value(row["value"], row["unit"], row["observation_status"])
        self.symbols.update(pres.flags_of(text))
        return text

    def span(
        self,
        metric_id: str,
        partnership: str = ALL_PARTNERSHIPS,
        dimension: str = "",
        value: str = "",
        base: bool = True,
    ) -> str:
        row = self.row(metric_id, partnership, dimension, value)
        attributes = (
            f'data-metric="{html.escape(metric_id)}" data-partnership="{html.escape(partnership)}" '
            f'data-dimension="{html.escape(dimension)}" data-dimension-value="{html.escape(value)}"'
        )
        if row is None:
            if (metric_id, partnership) in self.not_applicable:
                self.symbols.add(pres.NOT_APPLICABLE)
                return f'<span class="figure not-applicable" data-not-applicable="{html.escape(metric_id)}" data-partnership="{html.escape(partnership)}">{pres.NOT_APPLICABLE}</span>'
            self.dash = True
            return '<span class="figure missing">–</span>'
        text = self.shown(row)
        figure = f'<span class="figure" {attributes}>{html.escape(text)}</span>'
        if base and row["unit"] in BASE_UNITS:
            base_text = format_base(row["base_n"], row["unit"], row["observation_status"])
            self.symbols.update(pres.flags_of(base_text))
            figure += f' <span class="base" {attributes.replace("data-metric=", "data-base-of=")}>({html.escape(base_text)})</span>'
        return figure


def bar_chart(items: list[tuple[str, float | None, str]], title: str, horizontal: bool = True) -> str:
    """Items are (label, value, shown text); None values are drawn as an empty, labelled bar."""
    if not items:
        return '<p class="empty">No data.</p>'
    top = max((v for _, v, _ in items if v is not None), default=1) or 1
    if horizontal:
        row_height, label_width, bar_width = 34, 280, 360
        height = row_height * len(items) + 10
        # Room on the right for the value with its base ("48% (n = 1,070)").
        parts = [
            f'<svg class="chart" role="img" aria-label="{html.escape(title)}" width="{label_width + bar_width + 170}" height="{height}" viewBox="0 0 {label_width + bar_width + 170} {height}">'
        ]
        for i, (label, value, shown) in enumerate(items):
            y = 5 + i * row_height
            width = 0 if value is None else max(2, bar_width * value / top)
            parts.append(
                f'<text x="{label_width - 8}" y="{y + 21}" text-anchor="end" class="label">{html.escape(label)}</text>'
            )
            parts.append(
                f'<rect class="bar" x="{label_width}" y="{y + 4}" width="{width:.1f}" height="{row_height - 10}" fill="{PALETTE[i % len(PALETTE)]}"></rect>'
            )
            parts.append(
                f'<text x="{label_width + width + 6:.1f}" y="{y + 21}" class="value">{html.escape(shown)}</text>'
            )
        parts.append("</svg>")
        return "".join(parts)
    column_width, chart_height = 46, 200
    width = column_width * len(items) + 40
    parts = [
        f'<svg class="chart" role="img" aria-label="{html.escape(title)}" width="{width}" height="{chart_height + 60}" viewBox="0 0 {width} {chart_height + 60}">'
    ]
    for i, (label, value, shown) in enumerate(items):
        x = 20 + i * column_width
        bar_height = 0 if value is None else max(2, chart_height * value / top)
        parts.append(
            f'<rect class="bar" x="{x}" y="{chart_height - bar_height + 20:.1f}" width="{column_width - 10}" height="{bar_height:.1f}" fill="{PALETTE[0]}"></rect>'
        )
        parts.append(
            f'<text x="{x + (column_width - 10) / 2}" y="{chart_height - bar_height + 14:.1f}" text-anchor="middle" class="value">{html.escape(shown)}</text>'
        )
        parts.append(
            f'<text x="{x + (column_width - 10) / 2}" y="{chart_height + 36}" text-anchor="middle" class="label small">{html.escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _chart_items(
    rows: pd.DataFrame, labels: dict[str, str], order=None, figures: _Figures | None = None
) -> list[tuple[str, float | None, str]]:
    if order:
        rows = rows.assign(_o=rows["dimension_value"].map({k: i for i, k in enumerate(order)}).fillna(99)).sort_values(
            ["_o", "dimension_value"]
        )
    else:
        rows = rows.sort_values("value", ascending=False, na_position="last")
    items = []
    for _, r in rows.iterrows():
        text = figures.shown(r) if figures is not None else format_value(r["value"], r["unit"], r["observation_status"])
        hidden = not pres.is_shown(r["value"], r["observation_status"])
        base = format_base(r["base_n"], r["unit"], r["observation_status"])
        if figures is not None:
            figures.symbols.update(pres.flags_of(base))
        items.append(
            (
                labels.get(r["dimension_value"], r["dimension_value"]),
                None if hidden else float(r["value"]),
                f"{text} ({base})" if base else text,
            )
        )
    return items


CSS = """
body { font-family: Arial, Helvetica, sans-serif; margin: 0; color: #1d1d1b; background: #f4f6f8; }
header { background: #00558c; color: white; padding: 28px 40px; }
header h1 { margin: 0 0 6px 0; font-size: 30px; }
main { max-width: 1080px; margin: 0 auto; padding: 20px 40px 60px; }
section { background: white; border-radius: 6px; padding: 20px 28px; margin: 22px 0; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
h2 { color: #00558c; margin-top: 0; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 14px; }
.tile { background: #e8f1f8; border-left: 6px solid #00558c; padding: 14px 16px; }
.tile .figure { display: block; font-size: 34px; font-weight: bold; color: #00558c; }
.tile .caption { font-size: 14px; }
svg.chart text.label { font-size: 13px; fill: #1d1d1b; }
svg.chart text.small { font-size: 11px; }
svg.chart text.value { font-size: 13px; font-weight: bold; fill: #1d1d1b; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { border-bottom: 1px solid #d0d7de; padding: 6px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
footer, .note { font-size: 13px; color: #4a4a4a; }
.base { font-size: 13px; font-weight: normal; color: #4a4a4a; }
.tile .base { display: block; }
"""


def _breakdown_table(
    figures: _Figures, metrics: list[tuple[str, str]], dimension: str, labels: dict[str, str], heading: str
) -> str:
    """Categories as rows, one column per measure (figure with its base); empty when nothing is published."""
    values = sorted(
        set(
            figures.frame.loc[
                (figures.frame["dimension"] == dimension)
                & (figures.frame["partnership_id"] == ALL_PARTNERSHIPS)
                & figures.frame["metric_id"].isin([m for m, _ in metrics]),
                "dimension_value",
            ]
        )
    )
    if not values:
        return ""
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in metrics)
    body = "".join(
        f"<tr><td>{html.escape(labels.get(v) or v.replace('_', ' ').capitalize())}</td>"
        + "".join(f"<td>{figures.span(m, ALL_PARTNERSHIPS, dimension, v)}</td>" for m, _ in metrics)
        + "</tr>"
        for v in values
    )
    return f"<table><thead><tr><th>{html.escape(heading)}</th>{head}</tr></thead><tbody>{body}</tbody></table>"


RATING_LABELS = {
    "usefulness_end_mean": "Usefulness, end of session",
    "usefulness_followup_mean": "Usefulness, follow-up",
    "knowledge_mean": "Importance of conversations",
    "confidence_mean": "Confidence",
}


def _period(figures: _Figures) -> str:
    """The delivery period the header names, from the people-trained figure's dates."""
    period_row = figures.row("people_trained")
    return (
        f"{pd.Timestamp(period_row['period_start']):%B %Y} to {pd.Timestamp(period_row['period_end']):%B %Y}"
        if period_row is not None
        else "no sessions delivered yet"
    )


def _withheld_section(warnings: Sequence[str]) -> str:
    """The 'Not published' section listing what is withheld and why; empty without warnings."""
    if not warnings:
        return ""
    return (
        '<section id="withheld" class="note"><h2>Not published</h2><ul>'
        + "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
        + "</ul></section>\n"
    )


def _headline_section(figures: _Figures) -> str:
    """Headline figures as tiles, with the knowledge, confidence and online-workshop sentence."""
    question = pres.QUESTIONS
    tiles = [
        ("people_trained", "people trained"),
        ("sessions_delivered", "training sessions"),
        ("delivery_months", "months of delivery"),
        ("feedback_response_rate", "of attendances answered the end-of-session feedback"),
        ("followup_response_rate", "of attendances answered the follow-up survey"),
        ("usefulness_end_mean", question["usefulness_end_mean"]),
        ("usefulness_followup_mean", question["usefulness_followup_mean"]),
        ("more_conversations_share", question["more_conversations_share"]),
    ]
    tile_html = "".join(
        f'<div class="tile">{figures.span(m)}<span class="caption">{html.escape(c)}</span></div>' for m, c in tiles
    )
    headline_note = (
        f'<p class="note">{html.escape(question["knowledge_mean"])}: {figures.span("knowledge_mean")}. '
        f"{html.escape(question['confidence_mean'])}: {figures.span('confidence_mean')}. "
        f"{figures.span('online_workshop_share')} of attendances were at the one-hour online workshops.</p>"
    )
    return f'<section id="headline"><h2>Headline figures</h2><div class="tiles">{tile_html}</div>\n{headline_note}</section>'


def _physiotherapists_note(figures: _Figures) -> str:
    """The physiotherapists' share of the clinical-care workshop; empty when not published."""
    physio_value = "physical_activity_in_clinical_care|physiotherapist"
    physio_row = figures.row("profession_share", dimension="training_type|profession", value=physio_value)
    if physio_row is None:
        return ""
    return (
        f"<p>Physiotherapists: {figures.span('profession_share', ALL_PARTNERSHIPS, 'training_type|profession', physio_value)} "
        f"of attendances at the clinical-care workshop "
        f'(<span class="count">{format_value(physio_row["numerator"], "count", physio_row["observation_status"])}</span> attendances).</p>'
    )


def _training_types_section(figures: _Figures, labels: dict[str, dict[str, str]]) -> str:
    """Share of attendances by training type (in the evaluation's order), with the physiotherapists' note."""
    training = _chart_items(
        figures.rows("training_type_share", dimension="training_type"),
        labels.get("training_type", {}),
        TRAINING_TYPE_ORDER,
        figures,
    )
    return (
        '<section id="training-types"><h2>Training types</h2><p>Share of attendances by type of training.</p>'
        f"{bar_chart(training, 'Training types')}{_physiotherapists_note(figures)}</section>"
    )


def _role_groups_section(figures: _Figures, labels: dict[str, dict[str, str]]) -> str:
    """Share of people trained by role group, largest first."""
    roles = _chart_items(
        figures.rows("role_group_share", dimension="role_group"), labels.get("role_group", {}), figures=figures
    )
    return (
        '<section id="role-groups"><h2>Who was trained</h2><p>Share of people trained by role group (their most '
        f"recent role).</p>{bar_chart(roles, 'Role groups')}</section>"
    )


def _delivery_section(figures: _Figures) -> str:
    """Attendances per month as a column chart."""
    monthly = figures.rows("attendances", dimension="month").sort_values("dimension_value")
    month_items = [
        (
            pd.Timestamp(r["dimension_value"] + "-01").strftime("%b %y"),
            None if not pres.is_shown(r["value"], r["observation_status"]) else float(r["value"]),
            figures.shown(r),
        )
        for _, r in monthly.iterrows()
    ]
    return (
        '<section id="delivery"><h2>Delivery by month</h2><p>Attendances per month.</p>'
        f"{bar_chart(month_items, 'Attendances by month', horizontal=False)}</section>"
    )


def _ratings_section(figures: _Figures) -> str:
    """The four mean ratings out of 10 (each with its base), and the questions asked."""
    ratings = []
    for metric, label in RATING_LABELS.items():
        row = figures.row(metric)
        if row is None:
            figures.dash = True
            ratings.append((label, None, "–"))
            continue
        base = format_base(row["base_n"], row["unit"], row["observation_status"])
        figures.symbols.update(pres.flags_of(base))
        ratings.append(
            (
                label,
                float(row["value"]) if pres.is_shown(row["value"], row["observation_status"]) else None,
                f"{figures.shown(row)} ({base})",
            )
        )
    questions_asked = "".join(
        f"<li><b>{html.escape(label)}</b>: “{html.escape(pres.QUESTIONS[m])}”</li>"
        for m, label in RATING_LABELS.items()
    )
    return (
        '<section id="ratings"><h2>Ratings</h2><p>Mean ratings out of 10.</p>'
        f'{bar_chart(ratings, "Ratings")}<p>The questions asked:</p><ul class="questions">{questions_asked}</ul></section>'
    )


def _conversations_section(figures: _Figures) -> str:
    """The share having more conversations about physical activity, overall and by setting."""
    settings = _chart_items(
        figures.rows("more_conversations_share", dimension="setting"), SETTING_LABELS, figures=figures
    )
    conversations = figures.span("more_conversations_share")
    return (
        '<section id="conversations"><h2>Conversations about physical activity</h2>\n'
        f"<p>{html.escape(pres.QUESTIONS['more_conversations_share'])}: {conversations} overall, by where they work:</p>"
        f"{bar_chart(settings, 'More conversations by setting')}</section>"
    )


def _breakdowns_section(figures: _Figures, labels: dict[str, dict[str, str]]) -> str:
    """Ratings by profession and role group, survey figures by training type; empty when none is published."""
    question = pres.QUESTIONS
    rating_metrics = [
        (m, question[m].split(" (")[0]) for m in ("usefulness_end_mean", "knowledge_mean", "confidence_mean")
    ]
    profession_labels = labels.get("profession", {})
    by_profession = _breakdown_table(figures, rating_metrics, "profession", profession_labels, "Profession")
    by_role = _breakdown_table(figures, rating_metrics, "role_group", labels.get("role_group", {}), "Role group")
    survey_metrics = [
        ("feedback_response_rate", "End-of-session feedback response rate"),
        ("usefulness_end_mean", question["usefulness_end_mean"].split(" (")[0] + " (end of session)"),
        ("followup_response_rate", "Follow-up response rate"),
        ("usefulness_followup_mean", question["usefulness_followup_mean"].split(" (")[0] + " (follow-up)"),
    ]
    by_type = _breakdown_table(
        figures, survey_metrics, "training_type", labels.get("training_type", {}), "Training type"
    )
    if not (by_profession or by_role or by_type):
        return ""
    return (
        '<section id="breakdowns"><h2>Ratings by profession, role group and training type</h2>'
        "<p>End-of-session ratings (means out of 10) by the respondent's profession and role group: their role where the "
        "response links to a person trained, else the job title the survey asked for.</p>"
        f"{by_profession}{by_role}<p>Responses by the training type of the session they link to (the latest session the "
        f"respondent attended before answering).</p>{by_type}</section>"
    )


def _partnerships_section(figures: _Figures, partnerships: dict[str, str]) -> str:
    """A table comparing the main figures across partnerships, with the programme total last."""
    question = pres.QUESTIONS
    comparison_metrics = [
        ("people_trained", "People trained"),
        ("attendances", "Attendances"),
        ("sessions_delivered", "Sessions"),
        ("feedback_response_rate", "Feedback response rate"),
        ("followup_response_rate", "Follow-up response rate"),
        ("usefulness_end_mean", question["usefulness_end_mean"]),
        ("more_conversations_share", question["more_conversations_share"]),
    ]
    scopes = [p for p in partnerships] + [ALL_PARTNERSHIPS]
    header_cells = "".join(f"<th>{html.escape(partnerships.get(s, pres.ALL_LABEL))}</th>" for s in scopes)
    body_rows = "".join(
        f"<tr><td>{html.escape(label)}</td>" + "".join(f"<td>{figures.span(metric, s)}</td>" for s in scopes) + "</tr>"
        for metric, label in comparison_metrics
    )
    return (
        '<section id="partnerships"><h2>Partnerships compared</h2><table><thead><tr><th></th>'
        f"{header_cells}</tr></thead><tbody>{body_rows}</tbody></table></section>"
    )


def _notes_section(figures: _Figures, notes: list[str] | None, definitions: pd.DataFrame) -> str:
    """The legend of the symbols used so far, the rounding and disclosure notes, and the definitions.

    Call it last: the legend lists only the shorthands (and the dash) the other sections drew.
    """
    key = pres.symbol_key()
    legend_items = [(s, key[s]) for s in sorted(figures.symbols) if s in key]
    if figures.dash:
        legend_items.append(("–", pres.DASH_MEANING))
    legend_items.append(
        (
            "n",
            "The base: how many people, attendances or responses a share or mean rests on (rounded as the notes say).",
        )
    )
    legend = "".join(f"<li><b>{html.escape(k)}</b> {html.escape(v)}</li>" for k, v in legend_items)
    note_items = "".join(f"<li>{html.escape(n)}</li>" for n in (notes or []))
    definition_items = "".join(
        f"<li><b>{html.escape(r['label'])}</b> (<code>{html.escape(r['metric_id'])}</code>): {html.escape(r['definition'])}</li>"
        for _, r in definitions.iterrows()
    )
    return (
        f'<section id="notes"><h2>Notes</h2><h3>Symbols</h3><ul class="legend">{legend}</ul>'
        f'<h3>Rounding and disclosure</h3><ul class="notes">{note_items}</ul>\n'
        f"<details><summary>Definitions</summary><ul>{definition_items}</ul></details></section>"
    )


def render_report(
    published: pd.DataFrame,
    definitions: pd.DataFrame,
    labels: dict[str, dict[str, str]],
    partnerships: dict[str, str],
    programme_name: str,
    run_id: str,
    generated_at: dt.datetime | None = None,
    notes: list[str] | None = None,
    not_applicable: dict[str, set[str]] | None = None,
    footer: str | None = None,
    warnings: Sequence[str] = (),
) -> str:
    """The report as one HTML string. `labels` maps dimension → {value: label}.

    `notes`: the rounding and disclosure notes (from the rules in force); `not_applicable`:
    {"followup"|"feedback": partnerships without that survey}, shown as [z]; `footer`: replaces
    the produced-at line (releases pass a fixed one, so the file is byte-identical); `warnings`:
    what is not published and why (e.g. a partnership blocked by an unreadable file), shown first.
    """
    not_applicable = not_applicable or {}
    published = pres.mark_not_applicable(published, not_applicable)
    na_pairs = {(m, p) for survey, ps in not_applicable.items() for m in pres.SURVEY_METRICS[survey] for p in ps}
    figures = _Figures(published, na_pairs)
    generated_at = generated_at or dt.datetime.now()
    sections = [
        _headline_section(figures),
        _training_types_section(figures, labels),
        _role_groups_section(figures, labels),
        _delivery_section(figures),
        _ratings_section(figures),
        _conversations_section(figures),
        _breakdowns_section(figures, labels),
        _partnerships_section(figures, partnerships),
    ]
    sections.append(_notes_section(figures, notes, definitions))  # last: its legend lists what the others drew
    footer = footer or f"Produced {generated_at:%d %B %Y %H:%M} by the amed_pipeline (Dagster run {run_id})."
    body = "\n".join(sections)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(programme_name)}: evaluation report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body>
<header><h1>{html.escape(programme_name)}</h1><div>Evaluation of training delivered {html.escape(_period(figures))}</div></header>
<main>
{_withheld_section(warnings)}{body}
<footer>{html.escape(footer)}</footer>
</main></body></html>
"""
