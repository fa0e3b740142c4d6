"""Test helper: grabs the X screen ($DISPLAY, e.g. Xvfb) with Qt's xcb platform until it shows at
least ``min_pixels`` pixels of each of two exact colours (the panel's crisp checkerboard), or until
``timeout_s``; saves the last grab as PNG and prints {"red", "blue", "size"} as JSON.
argv: out.png min_pixels timeout_s."""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from PyQt5 import QtGui, QtWidgets


def grab(app: QtWidgets.QApplication) -> tuple[QtGui.QImage, np.ndarray]:
    image = app.primaryScreen().grabWindow(0).toImage().convertToFormat(QtGui.QImage.Format_RGB888)
    w, h, bpl = image.width(), image.height(), image.bytesPerLine()
    data = np.frombuffer(image.constBits().asstring(bpl * h), np.uint8).reshape(h, bpl)[:, : 3 * w].reshape(h, w, 3)
    return image, data


def main() -> None:
    out, min_pixels, timeout_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    app = QtWidgets.QApplication(sys.argv[:1])
    deadline = time.monotonic() + timeout_s
    while True:
        image, rgb = grab(app)
        red = int(np.all(rgb == (255, 0, 0), axis=-1).sum())
        blue = int(np.all(rgb == (0, 0, 255), axis=-1).sum())
        if (red >= min_pixels and blue >= min_pixels) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    image.save(out)
    print(json.dumps({"red": red, "blue": blue, "size": [image.width(), image.height()]}), flush=True)


if __name__ == "__main__":
    main()
