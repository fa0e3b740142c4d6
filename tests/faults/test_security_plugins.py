"""SROS2 with the pinned wheels (issue 20, item 2): measured, not assumed.

Builds a complete SROS2 enclave with openssl (CA, enclave certificate and key, governance and
permissions signed by the CA, the files ``ros2 security create_enclave`` writes) and starts a real
node with ``ROS_SECURITY_ENABLE=true`` / ``Enforce``. The pinned Fast DDS / rmw_fastrtps wheels are
built without the security plugins, so node creation fails with rmw's "doesn't have the security
libraries" error; the README says so. If a future pin carries the plugins, this test fails and the
README's "Security on a robot" section must be revised (and this test turned into a positive one).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.ros

_GOVERNANCE = """<?xml version="1.0" encoding="UTF-8"?>
<dds><domain_access_rules><domain_rule><domains><id_range><min>0</min><max>230</max></id_range></domains>
<allow_unauthenticated_participants>false</allow_unauthenticated_participants>
<enable_join_access_control>true</enable_join_access_control>
<discovery_protection_kind>ENCRYPT</discovery_protection_kind><liveliness_protection_kind>ENCRYPT</liveliness_protection_kind>
<rtps_protection_kind>SIGN</rtps_protection_kind>
<topic_access_rules><topic_rule><topic_expression>*</topic_expression>
<enable_discovery_protection>true</enable_discovery_protection><enable_liveliness_protection>true</enable_liveliness_protection>
<enable_read_access_control>true</enable_read_access_control><enable_write_access_control>true</enable_write_access_control>
<metadata_protection_kind>ENCRYPT</metadata_protection_kind><data_protection_kind>ENCRYPT</data_protection_kind>
</topic_rule></topic_access_rules></domain_rule></domain_access_rules></dds>
"""
_PERMISSIONS = """<?xml version="1.0" encoding="UTF-8"?>
<dds><permissions><grant name="/anima/pd_controller"><subject_name>CN=/anima/pd_controller</subject_name>
<validity><not_before>2020-01-01T00:00:00</not_before><not_after>2040-01-01T00:00:00</not_after></validity>
<allow_rule><domains><id_range><min>0</min><max>230</max></id_range></domains>
<publish><topics><topic>*</topic></topics></publish><subscribe><topics><topic>*</topic></topics></subscribe></allow_rule>
<default>DENY</default></grant></permissions></dds>
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _keystore(root: Path) -> Path:
    """``<root>/enclaves/anima/pd_controller`` with the six files rmw_fastrtps looks for."""
    enclave = root / "enclaves" / "anima" / "pd_controller"
    enclave.mkdir(parents=True)
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key.pem", cwd=root)
    _openssl("req", "-new", "-x509", "-sha256", "-days", "3650", "-key", "ca.key.pem", "-subj", "/CN=anima_ca",
             "-out", "ca.cert.pem", cwd=root)
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(enclave / "key.pem"), cwd=root)
    _openssl("req", "-new", "-key", str(enclave / "key.pem"), "-subj", "/CN=\\/anima\\/pd_controller", "-out", "req.csr", cwd=root)
    _openssl("x509", "-req", "-in", "req.csr", "-CA", "ca.cert.pem", "-CAkey", "ca.key.pem", "-CAcreateserial",
             "-days", "365", "-sha256", "-out", str(enclave / "cert.pem"), cwd=root)
    for name in ("identity_ca.cert.pem", "permissions_ca.cert.pem"):
        shutil.copy(root / "ca.cert.pem", enclave / name)
    for name, text in (("governance", _GOVERNANCE), ("permissions", _PERMISSIONS)):
        (root / f"{name}.xml").write_text(text)
        _openssl("smime", "-sign", "-in", f"{name}.xml", "-text", "-out", str(enclave / f"{name}.p7s"),
                 "-signer", "ca.cert.pem", "-inkey", "ca.key.pem", cwd=root)
    _openssl("verify", "-CAfile", "ca.cert.pem", str(enclave / "cert.pem"), cwd=root)
    return root


def test_pinned_fast_dds_wheels_lack_the_security_plugins(ros_env: dict[str, str], tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl to build the keystore")
    keystore = _keystore(tmp_path / "keystore")
    env = {**ros_env, "ROS_SECURITY_ENABLE": "true", "ROS_SECURITY_STRATEGY": "Enforce",
           "ROS_SECURITY_KEYSTORE": str(keystore)}
    node = Path(sys.executable).parent / "pd_controller"
    out = subprocess.run([str(node), "--ros-args", "--enclave", "/anima/pd_controller"], env=env,
                         capture_output=True, text=True, timeout=60)
    text = out.stdout + out.stderr
    assert out.returncode != 0, f"the node started with security enforced: the wheels have the plugins now\n{text[-2000:]}"
    assert "doesn't have the security libraries" in text, text[-2000:]
