"""The patient's plan on paper: plain text, or a printable HTML page (every text escaped). Pure.

``cds-service plan REQUEST.json`` prints one or the other; both come from the same ``PatientPlan``
that the cards' suggestions carry.
"""

from __future__ import annotations

from html import escape

from cds_service.render.patient import PatientPlan

_STYLE = (
    "body{font-family:Georgia,serif;font-size:14pt;line-height:1.5;max-width:40em;margin:2em auto;}"
    "h1{font-size:18pt}h2{font-size:15pt;margin-top:1.5em}"
    "@media print{body{margin:0}}"
)


def plan_text(plan: PatientPlan) -> str:
    """The whole plan as plain text (what a CommunicationRequest carries)."""
    return plan.text()


def plan_html(plan: PatientPlan, language: str = "en") -> str:
    """A printable page: the title, each session with its paragraphs, what always applies."""
    body = [f"<h1>{escape(plan.title)}</h1>"]
    blocks = plan.blocks()
    for line, paragraphs in blocks:
        body.append(f"<h2>{escape(line)}</h2>")
        body.extend(f"<p>{escape(paragraph)}</p>" for paragraph in paragraphs)
    if not blocks:
        body.append(f"<p>{escape(plan.no_changes)}</p>")
    body.append(f"<p><strong>{escape(plan.general)}</strong></p>")
    if plan.zone and blocks:
        body.append(f"<p>{escape(plan.zone)}</p>")
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(language)}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(plan.title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
