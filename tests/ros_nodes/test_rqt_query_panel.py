"""The rqt plugin: plugin.xml is exported and names an importable class, and the class builds the
panel on rqt's node (a stand-in for rqt's PluginContext) and removes its entities at shutdown."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import importlib  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import rclpy  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.node import Node  # noqa: E402

pytest.importorskip("pytestqt", reason="pytest-qt is pinned in requirements.txt")

REPO = Path(__file__).resolve().parents[2]


def test_package_xml_exports_the_plugin_description() -> None:
    export = ET.parse(REPO / "package.xml").getroot().find("export")
    assert export.find("build_type").text == "ament_python"  # the existing export stays
    assert export.find("rqt_gui").get("plugin") == "${prefix}/plugin.xml"


def test_plugin_xml_names_an_importable_rqt_plugin_class() -> None:
    cls = ET.parse(REPO / "plugin.xml").getroot().find("class")
    assert cls.get("base_class_type") == "rqt_gui_py::Plugin" and cls.get("name") == "anima/GoalQueryPanel"
    module, _, name = cls.get("type").rpartition(".")
    assert hasattr(importlib.import_module(module), name)


class FakePluginContext:
    """What rqt_gui_py hands a plugin: its node, the plugin arguments, a serial number, add_widget."""

    def __init__(self, node: Node, argv: list[str]) -> None:
        self.node, self._argv, self.widgets = node, argv, []

    def argv(self) -> list[str]:
        return self._argv

    def serial_number(self) -> int:
        return 1

    def add_widget(self, widget) -> None:
        self.widgets.append(widget)


def test_plugin_builds_the_panel_for_the_namespace_and_cleans_up(qtbot, ros_env: dict[str, str]) -> None:
    from anima.ros_nodes._rqt_query_panel import QueryPanelPlugin

    ctx = Context()
    rclpy.init(context=ctx, domain_id=int(ros_env["ROS_DOMAIN_ID"]))
    node = Node("rqt_gui_py_node", context=ctx)
    try:
        context = FakePluginContext(node, ["--namespace", "/arm_a"])
        plugin = QueryPanelPlugin(context)
        qtbot.addWidget(plugin.widget)
        assert context.widgets == [plugin.widget]
        topics = {name for name, _types in node.get_publisher_names_and_types_by_node(node.get_name(), "/")}
        assert "/arm_a/goal_query/viewing" in topics
        assert "/arm_a/goal_query/answer" in {n for n, _ in node.get_client_names_and_types_by_node(node.get_name(), "/")}
        plugin.shutdown_plugin()
        left = [n for n, _ in node.get_client_names_and_types_by_node(node.get_name(), "/") if n.startswith("/arm_a/")]
        assert not left, f"the plugin left clients on rqt's node: {left}"
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
