"""Vendor the browser IDEs' JavaScript into ``kg/web/vendor/`` from the npm registry (``npm pack``).

    python tools/vendor_web.py          # fetch the pinned releases below, write the files and VENDORED.json

The files are copied byte for byte from the packages' tarballs; VENDORED.json records, for each, the npm
package and version, the tarball's integrity (as npm reports it), the file's SHA-256 and the licence.
``tests/test_web.py`` checks the files against it.  To upgrade, change a version here and run the script.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

DEST = Path(__file__).resolve().parents[1] / "kg" / "web" / "vendor"

#: name → (npm package, version, {file in the tarball: file written}, licence file in the tarball or None,
#: licence, homepage)
PINNED = {
    "react": ("react", "18.3.1", {"package/umd/react.production.min.js": "react-18.3.1.min.js"},
              "package/LICENSE", "MIT", "https://react.dev"),
    "react-dom": ("react-dom", "18.3.1", {"package/umd/react-dom.production.min.js": "react-dom-18.3.1.min.js"},
                  "package/LICENSE", "MIT", "https://react.dev"),
    "graphiql": ("graphiql", "4.1.2", {"package/graphiql.min.js": "graphiql-4.1.2.min.js",
                                       "package/graphiql.min.css": "graphiql-4.1.2.min.css"},
                 "package/LICENSE", "MIT", "https://github.com/graphql/graphiql"),
    "yasgui": ("@zazuko/yasgui", "4.6.2", {"package/build/yasgui.min.js": "yasgui-4.6.2.min.js",
                                            "package/build/yasgui.min.css": "yasgui-4.6.2.min.css"},
               None, "MIT", "https://github.com/rdfjs/Yasgui"),
}

# @zazuko/yasgui's tarball has no licence file; its package.json says MIT and its README says so in words
YASGUI_LICENCE = """The npm package @zazuko/yasgui ships no licence file. Its package.json gives "license": "MIT",
"author": "Triply <info@triply.cc>" and the contributor "Zazuko GmbH"; its repository's README says: "This is
a fork from Zazuko from software written by Triply. This code is released under the MIT license."

MIT License

Copyright (c) Triply and Zazuko GmbH

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and
to permit persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of
the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO
THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF
CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS
IN THE SOFTWARE.
"""


def npm_pack(spec: str, workdir: Path) -> tuple[Path, str]:
    """``npm pack`` one package into ``workdir``: the tarball and npm's integrity string."""
    out = subprocess.run(["npm", "pack", spec, "--json"], cwd=workdir, check=True, capture_output=True, text=True)
    info = json.loads(out.stdout)[0]
    return workdir / info["filename"], info["integrity"]


def main() -> int:
    DEST.mkdir(parents=True, exist_ok=True)
    libraries = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (package, version, files, licence_member, licence, homepage) in PINNED.items():
            tarball, integrity = npm_pack(f"{package}@{version}", Path(tmp))
            written = {}
            with tarfile.open(tarball) as tar:
                for member, target in files.items():
                    data = tar.extractfile(member).read()
                    (DEST / target).write_bytes(data)
                    written[target] = {"from": member.removeprefix("package/"),
                                       "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                licence_file = f"LICENSE.{name}"
                text = tar.extractfile(licence_member).read() if licence_member else YASGUI_LICENCE.encode()
                (DEST / licence_file).write_bytes(text)
            libraries[name] = {"npm": f"{package}@{version}", "version": version, "npm_integrity": integrity,
                               "files": written, "license": licence, "license_file": licence_file,
                               "homepage": homepage}
            print(f"{package}@{version}: {', '.join(written)}", file=sys.stderr)
    meta = {"how": "python tools/vendor_web.py (npm pack from the npm registry; files copied byte for byte)",
            "libraries": libraries}
    (DEST / "VENDORED.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
