"""The rqt plugin (``plugin.xml``: ``anima/GoalQueryPanel``) around :class:`QueryPanelWidget`.

rqt gives the plugin its node (``context.node``, spun by rqt); the panel's entities live on it and
are removed at shutdown. Plugin arguments: ``--namespace NS`` (the learner's namespace), e.g.
``rqt --standalone anima/GoalQueryPanel --args --namespace /arm_a``. ``rqt_gui_py`` is imported only
here and only if present: on a machine without rqt ``anima query-panel`` runs the same widget.
"""

from __future__ import annotations

import argparse

from anima.ros_nodes._goal_query_client import GoalQueryClient
from anima.ros_nodes._query_panel import QueryPanelWidget

try:
    from rqt_gui_py.plugin import Plugin  # type: ignore[import-not-found]

    HAVE_RQT = True
except ImportError:  # no rqt here: the class still exists for tests and documentation
    Plugin = object
    HAVE_RQT = False

__all__ = ["HAVE_RQT", "QueryPanelPlugin"]


def _namespace(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(prog="anima/GoalQueryPanel", add_help=False)
    parser.add_argument("--namespace", default="", help="the learner's namespace")
    args, _unknown = parser.parse_known_args(argv)
    return args.namespace


class QueryPanelPlugin(Plugin):
    """rqt_gui_py plugin: one goal-query panel per instance."""

    def __init__(self, context) -> None:
        if HAVE_RQT:
            super().__init__(context)
            self.setObjectName("GoalQueryPanel")
        self._client = GoalQueryClient(context.node, _namespace(list(context.argv())))
        self._widget = QueryPanelWidget(self._client)
        if context.serial_number() > 1:
            self._widget.setWindowTitle(f"{self._widget.windowTitle()} ({context.serial_number()})")
        context.add_widget(self._widget)

    @property
    def widget(self) -> QueryPanelWidget:
        return self._widget

    def shutdown_plugin(self) -> None:
        self._widget._timer.stop()
        self._client.destroy()

    def save_settings(self, plugin_settings, instance_settings) -> None:  # noqa: D102 - rqt hook
        pass

    def restore_settings(self, plugin_settings, instance_settings) -> None:  # noqa: D102 - rqt hook
        pass
