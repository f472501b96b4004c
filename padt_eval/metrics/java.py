"""The Java runtime the caption tools need (the PTB tokenizer and METEOR are Java jars
shipped with pycocoevalcap): found and checked once, with the install command in the
message when it is missing or broken."""

from __future__ import annotations

import shutil

from padt_eval.core.errors import PadtEvalError

JAVA_INSTALL = "apt-get install -y default-jre-headless"


class JavaMissingError(PadtEvalError):
    """The caption metrics need a Java runtime."""


class JavaFailedError(JavaMissingError):
    """The Java runtime on PATH does not run, or a caption tool in it failed."""


_working_java: set[str] = set()  # java binaries that answered `-version` in this process


def require_java() -> str:
    """The `java` on PATH, checked once to run: pycocoevalcap reads no exit status, so a
    broken Java otherwise surfaces later as an unrelated error (an empty sequence, a
    float('') ...)."""
    java = shutil.which("java")
    if java is None:
        raise JavaMissingError(
            "the caption metrics (PTB tokenizer, METEOR) need Java, and no `java` is on PATH. "
            f"Install it with `{JAVA_INSTALL}` (Debian/Ubuntu; `make install` does this), then run again."
        )
    if java not in _working_java:
        import subprocess

        try:
            done = subprocess.run([java, "-version"], capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise JavaFailedError(f"the caption metrics need a working Java, and `{java} -version` fails: {exc}") from None
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip()[-300:]
            raise JavaFailedError(
                f"the caption metrics need a working Java, and `{java} -version` exits with code {done.returncode}"
                + (f": {tail}" if tail else "")
                + f". Fix or remove that java (or put a working one first on PATH; `{JAVA_INSTALL}`), then run again."
            )
        _working_java.add(java)
    return java


def java_tool_failed(tool: str, exc: BaseException) -> JavaFailedError:
    return JavaFailedError(f"the {tool} (Java, `{shutil.which('java')}`) failed: {type(exc).__name__}: {exc}")
