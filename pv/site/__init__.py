"""``pv report``: a self-contained static site (HTML or Markdown) showing where a project's contracts stand.

Data flows one way: ``model.build_project`` gathers contracts, ledger verdicts, tests and evidence
into plain data; ``render.write_site`` lays it out with jinja2 templates and matplotlib plots.
"""

from pv.site.model import Project, State, build_project
from pv.site.render import FORMATS, OutputError, Site, write_site

__all__ = ["FORMATS", "OutputError", "Project", "Site", "State", "build_project", "write_site"]
