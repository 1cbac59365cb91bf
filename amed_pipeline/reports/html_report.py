"""A self-contained HTML report that mirrors the evaluation's own pages, for the programme manager.

Headline figures, training types, role groups, delivery by month, ratings, conversations by
setting and a per-partnership comparison, each with a chart drawn as inline SVG: no script, no
font or stylesheet from the network, so the file opens anywhere, offline. Every figure comes
from `metric_values_published` (disclosure-controlled); each carries `data-metric`,
`data-partnership` and `data-dimension-value` attributes so a browser test can check it against
the table.
"""

from __future__ import annotations

from typing import Sequence

import datetime as dt
import html

import pandas as pd

from amed_pipeline.metrics.disclosure import FLAG_LEGEND, SUPPRESSED

PALETTE = ("#00558c", "#e07a10", "#2a9d8f", "#8e5ea2", "#c0392b", "#7f8c8d")
TRAINING_TYPE_ORDER = (
    "helping_people_become_more_active",
    "physical_activity_in_clinical_care",
    "motivational_interviewing",
    "bespoke_iapt",
    "children_and_young_people",
    "other",
)
SETTING_LABELS = {
    "gp_practice": "GP practices",
    "hospital": "Hospitals",
    "charity_voluntary": "Charities and voluntary sector",
    "local_authority": "Local authority",
    "community_health": "Community health services",
    "other": "Other",
    "unknown": "Not stated",
}


def format_value(value, unit: str, status: str) -> str:
    if status == SUPPRESSED or value is None or pd.isna(value):
        return SUPPRESSED
    if unit == "share":
        text = f"{100 * float(value):.0f}%"
    elif unit == "mean_0_10":
        text = f"{float(value):.1f}"
    else:
        text = f"{float(value):,.0f}"
    return f"{text} {status}".strip()


class _Figures:
    """Lookup of published rows, rendering each as a tagged `<span>`."""

    def __init__(self, published: pd.DataFrame):
        self.frame = published

    def rows(self, metric_id: str, partnership: str = "all", dimension: str = "") -> pd.DataFrame:
        f = self.frame
        return f[(f["metric_id"] == metric_id) & (f["partnership_id"] == partnership) & (f["dimension"] == dimension)]

    def row(self, metric_id: str, partnership: str = "all", dimension: str = "", value: str = ""):
        rows = self.rows(metric_id, partnership, dimension)
        rows = rows[rows["dimension_value"] == value]
        return None if rows.empty else rows.iloc[0]

    def span(self, metric_id: str, partnership: str = "all", dimension: str = "", value: str = "") -> str:
        row = self.row(metric_id, partnership, dimension, value)
        if row is None:
            return '<span class="figure missing">–</span>'
        text = format_value(row["value"], row["unit"], row["observation_status"])
        return (
            f'<span class="figure" data-metric="{html.escape(metric_id)}" data-partnership="{html.escape(partnership)}" '
            f'data-dimension-value="{html.escape(value)}">{html.escape(text)}</span>'
        )


def bar_chart(items: list[tuple[str, float | None, str]], title: str, percent: bool = True, horizontal: bool = True) -> str:
    """Items are (label, value, shown text); None values are drawn as an empty, labelled bar."""
    if not items:
        return '<p class="empty">No data.</p>'
    top = max((v for _, v, _ in items if v is not None), default=1) or 1
    if horizontal:
        row_height, label_width, bar_width = 34, 280, 360
        height = row_height * len(items) + 10
        parts = [f'<svg class="chart" role="img" aria-label="{html.escape(title)}" width="{label_width + bar_width + 90}" height="{height}" viewBox="0 0 {label_width + bar_width + 90} {height}">']
        for i, (label, value, shown) in enumerate(items):
            y = 5 + i * row_height
            width = 0 if value is None else max(2, bar_width * value / top)
            parts.append(f'<text x="{label_width - 8}" y="{y + 21}" text-anchor="end" class="label">{html.escape(label)}</text>')
            parts.append(f'<rect class="bar" x="{label_width}" y="{y + 4}" width="{width:.1f}" height="{row_height - 10}" fill="{PALETTE[i % len(PALETTE)]}"></rect>')
            parts.append(f'<text x="{label_width + width + 6:.1f}" y="{y + 21}" class="value">{html.escape(shown)}</text>')
        parts.append("</svg>")
        return "".join(parts)
    column_width, chart_height = 46, 200
    width = column_width * len(items) + 40
    parts = [f'<svg class="chart" role="img" aria-label="{html.escape(title)}" width="{width}" height="{chart_height + 60}" viewBox="0 0 {width} {chart_height + 60}">']
    for i, (label, value, shown) in enumerate(items):
        x = 20 + i * column_width
        bar_height = 0 if value is None else max(2, chart_height * value / top)
        parts.append(f'<rect class="bar" x="{x}" y="{chart_height - bar_height + 20:.1f}" width="{column_width - 10}" height="{bar_height:.1f}" fill="{PALETTE[0]}"></rect>')
        parts.append(f'<text x="{x + (column_width - 10) / 2}" y="{chart_height - bar_height + 14:.1f}" text-anchor="middle" class="value">{html.escape(shown)}</text>')
        parts.append(f'<text x="{x + (column_width - 10) / 2}" y="{chart_height + 36}" text-anchor="middle" class="label small">{html.escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _chart_items(rows: pd.DataFrame, labels: dict[str, str], order=None) -> list[tuple[str, float | None, str]]:
    if order:
        rows = rows.assign(_o=rows["dimension_value"].map({k: i for i, k in enumerate(order)}).fillna(99)).sort_values(["_o", "dimension_value"])
    else:
        rows = rows.sort_values("value", ascending=False, na_position="last")
    items = []
    for _, r in rows.iterrows():
        hidden = r["observation_status"] == SUPPRESSED or r["value"] is None or pd.isna(r["value"])
        items.append((labels.get(r["dimension_value"], r["dimension_value"]), None if hidden else float(r["value"]), format_value(r["value"], r["unit"], r["observation_status"])))
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
"""


def render_report(
    published: pd.DataFrame,
    definitions: pd.DataFrame,
    labels: dict[str, dict[str, str]],
    partnerships: dict[str, str],
    programme_name: str,
    run_id: str,
    generated_at: dt.datetime | None = None,
    warnings: Sequence[str] = (),
) -> str:
    """The report as one HTML string. `labels` maps dimension → {value: label}; `warnings`: what is
    not published and why (e.g. a partnership blocked by an unreadable file), shown first."""
    figures = _Figures(published)
    generated_at = generated_at or dt.datetime.now()
    period_row = figures.row("people_trained")
    period = (
        f"{pd.Timestamp(period_row['period_start']):%B %Y} to {pd.Timestamp(period_row['period_end']):%B %Y}"
        if period_row is not None else "no sessions delivered yet"
    )
    tiles = [
        ("people_trained", "people trained"),
        ("sessions_delivered", "training sessions"),
        ("delivery_months", "months of delivery"),
        ("feedback_response_rate", "answered the end-of-session feedback"),
        ("followup_response_rate", "answered the follow-up survey"),
        ("usefulness_end_mean", "usefulness at the end of a session (out of 10)"),
        ("usefulness_followup_mean", "usefulness one to four months later (out of 10)"),
        ("more_conversations_share", "having more conversations about physical activity"),
    ]
    tile_html = "".join(
        f'<div class="tile">{figures.span(m)}<span class="caption">{html.escape(c)}</span></div>' for m, c in tiles
    )
    training = _chart_items(figures.rows("training_type_share", dimension="training_type"), labels.get("training_type", {}), TRAINING_TYPE_ORDER)
    roles = _chart_items(figures.rows("role_group_share", dimension="role_group"), labels.get("role_group", {}))
    monthly = figures.rows("attendances", dimension="month").sort_values("dimension_value")
    month_items = [
        (pd.Timestamp(r["dimension_value"] + "-01").strftime("%b %y"),
         None if r["observation_status"] == SUPPRESSED or pd.isna(r["value"]) else float(r["value"]),
         format_value(r["value"], r["unit"], r["observation_status"]))
        for _, r in monthly.iterrows()
    ]
    ratings = [
        (label, None if (row := figures.row(metric)) is None or pd.isna(row["value"]) else float(row["value"]),
         "–" if row is None else format_value(row["value"], row["unit"], row["observation_status"]))
        for metric, label in (
            ("usefulness_end_mean", "Usefulness, end of session"),
            ("usefulness_followup_mean", "Usefulness, follow-up"),
            ("knowledge_mean", "Importance of conversations (knowledge)"),
            ("confidence_mean", "Confidence"),
        )
    ]
    settings = _chart_items(figures.rows("more_conversations_share", dimension="setting"), SETTING_LABELS)
    physio_value = "physical_activity_in_clinical_care|physiotherapist"
    physio_row = figures.row("profession_share", dimension="training_type|profession", value=physio_value)
    physio_text = ""
    if physio_row is not None:
        physio_text = (
            f"<p>Physiotherapists: {figures.span('profession_share', 'all', 'training_type|profession', physio_value)} "
            f"of attendances at the clinical-care workshop "
            f"(<span class=\"count\">{format_value(physio_row['numerator'], 'count', physio_row['observation_status'])}</span> attendances).</p>"
        )
    comparison_metrics = [
        ("people_trained", "People trained"), ("attendances", "Attendances"), ("sessions_delivered", "Sessions"),
        ("feedback_response_rate", "Feedback response rate"), ("followup_response_rate", "Follow-up response rate"),
        ("usefulness_end_mean", "Usefulness (end)"), ("more_conversations_share", "More conversations"),
    ]
    scopes = [p for p in partnerships] + ["all"]
    header_cells = "".join(f"<th>{html.escape(partnerships.get(s, 'All partnerships'))}</th>" for s in scopes)
    body_rows = "".join(
        f"<tr><td>{html.escape(label)}</td>" + "".join(f"<td>{figures.span(metric, s)}</td>" for s in scopes) + "</tr>"
        for metric, label in comparison_metrics
    )
    legend = "".join(f"<li><b>{html.escape(k)}</b> {html.escape(v)}</li>" for k, v in FLAG_LEGEND.items())
    definition_items = "".join(
        f"<li><b>{html.escape(r['label'])}</b> (<code>{html.escape(r['metric_id'])}</code>): {html.escape(r['definition'])}</li>"
        for _, r in definitions.iterrows()
    )
    withheld_html = (
        '<section id="withheld" class="note"><h2>Not published</h2><ul>'
        + "".join(f"<li>{html.escape(w)}</li>" for w in warnings) + "</ul></section>\n"
    ) if warnings else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(programme_name)}: evaluation report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body>
<header><h1>{html.escape(programme_name)}</h1><div>Evaluation of training delivered {html.escape(period)}</div></header>
<main>
{withheld_html}<section id="headline"><h2>Headline figures</h2><div class="tiles">{tile_html}</div>
<p class="note">Knowledge {figures.span('knowledge_mean')} and confidence {figures.span('confidence_mean')} out of 10 at the end of a session;
{figures.span('online_workshop_share')} of attendances were at the one-hour online workshops.</p></section>
<section id="training-types"><h2>Training types</h2><p>Share of attendances by type of training.</p>{bar_chart(training, "Training types")}{physio_text}</section>
<section id="role-groups"><h2>Who was trained</h2><p>Share of people trained by role group (their most recent role).</p>{bar_chart(roles, "Role groups")}</section>
<section id="delivery"><h2>Delivery by month</h2><p>Attendances per month.</p>{bar_chart(month_items, "Attendances by month", percent=False, horizontal=False)}</section>
<section id="ratings"><h2>Ratings</h2><p>Mean ratings out of 10.</p>{bar_chart(ratings, "Ratings", percent=False)}</section>
<section id="conversations"><h2>Conversations about physical activity</h2>
<p>Follow-up respondents having more conversations since the training: {figures.span('more_conversations_share')} overall, by where they work:</p>{bar_chart(settings, "More conversations by setting")}</section>
<section id="partnerships"><h2>Partnerships compared</h2><table><thead><tr><th></th>{header_cells}</tr></thead><tbody>{body_rows}</tbody></table></section>
<section id="notes"><h2>Notes</h2><ul>{legend}</ul><p class="note">Counts are rounded to the nearest 5 and counts of 1 to 7 suppressed.</p>
<details><summary>Definitions</summary><ul>{definition_items}</ul></details></section>
<footer>Produced {generated_at:%d %B %Y %H:%M} by the amed_pipeline (Dagster run {html.escape(run_id)}).</footer>
</main></body></html>
"""
