"""Qt for the operator panel: through ``python_qt_binding`` (what rqt uses) when it is importable,
PyQt5 otherwise (pip installs, machines without rqt). ``Signal`` is the binding's signal class."""

from __future__ import annotations

try:
    from python_qt_binding import QtCore, QtGui, QtWidgets  # type: ignore[import-not-found]

    Signal = QtCore.Signal
    BINDING = "python_qt_binding"
except ImportError:
    from PyQt5 import QtCore, QtGui, QtWidgets

    Signal = QtCore.pyqtSignal
    BINDING = "PyQt5"

__all__ = ["BINDING", "QtCore", "QtGui", "QtWidgets", "Signal"]
