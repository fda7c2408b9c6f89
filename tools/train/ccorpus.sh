#!/usr/bin/env bash
# ccorpus.sh - build the source corpus of the embedded model's and the encoder's training (runs HERE, not on
# the device machine).
#
# The device machine has no network, and its own disk holds almost only C++ (Boost, torch headers), so
# the model saw little real C. This script fetches the Debian source packages of permissively licensed C
# libraries (`apt-get source`, deb-src enabled), keeps their upstream library code (.c/.h), and packs it
# into .gpu/ccorpus.tar.xz, which is carried to the device with .gpu; run.sh unpacks it and passes it to
# prep.py --c-corpus (tools/encoder/run.sh to mine.py). The same archive holds permissively licensed
# Python projects that the device's disk lacks (django, sqlalchemy, twisted...: their .py files), since
# the retrieval encoder's Python pairs are what limits it (models/README.md, octet-embed).
#
#   bash tools/train/ccorpus.sh            (~2 min; needs dpkg-dev for dpkg-source)
#   CCORPUS_BUILD=DIR ...                  scratch folder (default /tmp/ccorpus-build; kept, so a rerun
#                                          reuses the downloads)
#   CCORPUS_MAX_MIB=N ...                  largest accepted .xz (default 10: the whole device carry is 64 MiB)
#
# The archive holds ccorpus/<project>/<path>.c|.h, each project's license file as ccorpus/<project>/LICENSE,
# and ccorpus/MANIFEST.tsv (project, Debian package and version, license, license file and its first line,
# files, bytes). Per project: the license file must say what the table below claims, or the project is left
# out; only the listed upstream folders are taken, never debian/, tests, fuzzers or vendored third-party
# code; per file, tools/train/data.py's own checks drop any file whose notice names the GPL family, the MPL,
# a proprietary license or "All rights reserved" with no grant (data.file_license), and any file data.py
# would not train on anyway (generated, not UTF-8, over 400 KB, lines over 1000 characters: data._clean);
# exact duplicates are kept once.
#
# Never in it: SQLite (its src is octet's held-out C benchmark repository) and expat (a held-out header),
# git/libgit2, ncurses, anything of shared/ or of octet itself. zstd is left out: each of its files offers
# "BSD or GPLv2", which data.py's notice filter drops (rightly cautious); lmdb is left out: the OpenLDAP
# Public License is BSD-like but not one of the licenses data.py accepts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
build=${CCORPUS_BUILD:-/tmp/ccorpus-build}
max_mib=${CCORPUS_MAX_MIB:-10}
command -v dpkg-source >/dev/null || { echo "ccorpus: dpkg-source is missing: apt-get install dpkg-dev" >&2; exit 2; }
mkdir -p "$build/dl" "$build/src"

# project | Debian source package | license (SPDX) | license file | what that file must contain |
# upstream paths taken (dir/ = the whole folder; a glob = files at that level) | paths left out (globs) |
# py for a Python project (its .py files; else .c/.h)
projects=(
    "lua|lua5.4|MIT|src/lua.h|Permission is hereby granted, free of charge|src/|"
    "zlib|zlib|Zlib|LICENSE|provided 'as-is', without any express or implied|*.c *.h|"
    "lz4|lz4|BSD-2-Clause|lib/LICENSE|Redistribution and use in source and binary forms|lib/|"
    "libuv|libuv1|MIT|LICENSE|Permission is hereby granted, free of charge|include/ src/|"
    "jansson|jansson|MIT|LICENSE|Permission is hereby granted, free of charge|src/|"
    "cjson|cjson|MIT|LICENSE|Permission is hereby granted, free of charge|cJSON.c cJSON.h cJSON_Utils.c cJSON_Utils.h|"
    "libyaml|libyaml|MIT|License|Permission is hereby granted, free of charge|include/ src/|"
    "curl|curl|curl|COPYING|Permission to use, copy, modify, and distribute this software for any purpose|include/ lib/|"
    "libevent|libevent|BSD-3-Clause|LICENSE|Redistribution and use in source and binary forms|*.c *.h include/ compat/|"
    "libsodium|libsodium|ISC|LICENSE|Permission to use, copy, modify, and/or distribute this software|src/libsodium/|"
    "tmux|tmux|ISC|COPYING|Permission to use, copy, modify, and distribute this software|*.c *.h compat/|"
    "nginx|nginx|BSD-2-Clause|LICENSE|Redistribution and use in source and binary forms|src/|"
    "pcre2|pcre2|BSD-3-Clause|LICENCE|Redistribution and use in source and binary forms|src/|src/sljit/* src/pcre2_jit_test.c src/pcre2_chartables.c*"
    "libxml2|libxml2|MIT|Copyright|Permission is hereby granted, free of charge|*.c *.h include/libxml/|test*.c run*.c"
    "libarchive|libarchive|BSD-2-Clause|COPYING|Redistribution and use in source and binary forms|libarchive/ tar/ cpio/ cat/|"
    "libpng|libpng1.6|Libpng-2.0|LICENSE|PNG Reference Library License version 2|*.c *.h arm/ intel/ mips/ powerpc/|pngtest.c"
    "libwebp|libwebp|BSD-3-Clause|COPYING|Redistribution and use in source and binary forms|src/|"
    "mbedtls|mbedtls|Apache-2.0|LICENSE|Apache License|include/ library/|"
    "redis|redis|BSD-3-Clause|COPYING|Redistribution and use in source and binary forms|src/|"
    "musl|musl|MIT|COPYRIGHT|Permission is hereby granted, free of charge|include/ src/ ldso/|"
    "django|python-django|BSD-3-Clause|LICENSE|Redistribution and use in source and binary forms|django/||py"
    "sqlalchemy|pypi:SQLAlchemy==1.4.46|MIT|LICENSE|Permission is hereby granted, free of charge|lib/sqlalchemy/||py"
    "twisted|pypi:Twisted==22.4.0|MIT|LICENSE|Permission is hereby granted, free of charge|src/twisted/||py"
    "tornado|pypi:tornado==6.2|Apache-2.0|LICENSE|Apache License|tornado/||py"
    "pygments|pypi:Pygments==2.14.0|BSD-2-Clause|LICENSE|Redistribution and use in source and binary forms|pygments/||py"
    "attrs|pypi:attrs==22.2.0|MIT|LICENSE|Permission is hereby granted, free of charge|src/||py"
    "werkzeug|pypi:Werkzeug==2.2.2|BSD-3-Clause|LICENSE.rst|Redistribution and use in source and binary forms|src/werkzeug/||py"
    "flask|pypi:Flask==2.2.2|BSD-3-Clause|LICENSE.rst|Redistribution and use in source and binary forms|src/flask/||py"
    "jinja2|jinja2|BSD-3-Clause|LICENSE.rst|Redistribution and use in source and binary forms|src/jinja2/||py"
    "babel|pypi:Babel==2.10.3|BSD-3-Clause|LICENSE|Redistribution and use in source and binary forms|babel/||py"
    "astropy|pypi:astropy==5.2.1|BSD-3-Clause|LICENSE.rst|Redistribution and use in source and binary forms|astropy/||py"
)

# the newest version of PKG whose files the mirrors still have (a security update's may be gone: 404);
# a download is complete once marked .ok: a failed one leaves a .dsc without its tarballs, removed here
fetch() {
    local pkg=$1 v
    for v in $(apt-cache showsrc "$pkg" 2>/dev/null | awk -v p="$pkg" '/^Package: /{q=$2} /^Version: /{if (q == p) print $2}' | sort -u -rV); do
        local mark=$build/dl/${pkg}_${v#*:}.ok
        if [ -f "$mark" ] || { (cd "$build/dl" && apt-get source --download-only -qq "$pkg=$v" >/dev/null 2>&1) &&
            touch "$mark"; }; then
            echo "$v"
            return 0
        fi
        rm -f "$build/dl/${pkg}_${v#*:}.dsc"
    done
    return 1
}

# Python projects whose Debian tarballs this mirror lacks: the sdist NAME==VERSION from PyPI's simple
# index (the file the index names, its sha256 checked), unpacked once; prints the unpacked folder
fetch_pypi() {
    python3 - "$build" "$1" <<'EOF'
import hashlib, os, re, sys, tarfile, urllib.request
build, spec = sys.argv[1], sys.argv[2]
name, ver = spec.split("==")
dst = os.path.join(build, "src", f"pypi_{name}-{ver}")
if not os.path.isdir(dst):
    norm = re.sub(r"[-_.]+", "-", name).lower()
    page = urllib.request.urlopen(f"https://pypi.org/simple/{norm}/", timeout=60).read().decode()
    pat = r'href="([^"#]+/(%s-%s\.tar\.gz))#sha256=([0-9a-f]{64})"' % (re.escape(name), re.escape(ver))
    m = re.search(pat, page, re.I)
    if not m:
        sys.exit(f"no {name}-{ver}.tar.gz in the index")
    url, fn, sha = m.groups()
    path = os.path.join(build, "dl", fn)
    if not os.path.isfile(path):
        data = urllib.request.urlopen(url, timeout=300).read()
        if hashlib.sha256(data).hexdigest() != sha:
            sys.exit(f"{fn}: sha256 differs from the index's")
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)
    tmp = dst + ".tmp"
    with tarfile.open(path) as t:
        for mem in t.getmembers():
            parts = mem.name.split("/")
            if mem.name.startswith("/") or ".." in parts or len(parts) < 2 or not (mem.isfile() or mem.isdir()):
                continue
            out = os.path.join(tmp, *parts[1:])
            if mem.isdir():
                os.makedirs(out, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(out, "wb") as f:
                f.write(t.extractfile(mem).read())
    os.rename(tmp, dst)
print(dst)
EOF
}

rm -rf "$build/stage" && mkdir -p "$build/stage/ccorpus"
: >"$build/stage/list.tsv"
for row in "${projects[@]}"; do
    IFS='|' read -r name pkg lic licfile licre takes skips kind <<<"$row"
    if [ "${pkg#pypi:}" != "$pkg" ]; then
        if ! dst=$(fetch_pypi "${pkg#pypi:}"); then
            echo "ccorpus: $name: no sdist of ${pkg#pypi:} could be fetched from PyPI; left out" >&2
            continue
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$pkg" "${pkg##*==}" "$lic" "$licfile" "$licre" \
            "$takes" "$skips" "${kind:-c}" >>"$build/stage/list.tsv"
        echo "$dst" >>"$build/stage/dirs"
        continue
    fi
    if ! ver=$(fetch "$pkg"); then
        echo "ccorpus: $name: no source of $pkg could be fetched (run apt-get update?); left out" >&2
        continue
    fi
    up=${ver#*:}
    up=${up%-*}
    # Redis is BSD-3-Clause up to 7.2; 7.4 moved to RSALv2/SSPLv1
    if [ "$name" = redis ] && dpkg --compare-versions "$up" ge 7.3; then
        echo "ccorpus: redis $ver is not BSD-licensed any more; left out" >&2
        continue
    fi
    dst=$build/src/${pkg}_${ver#*:}
    if [ ! -d "$dst" ]; then
        rm -rf "$dst.tmp"
        if ! dpkg-source -q -x "$build/dl/${pkg}_${ver#*:}.dsc" "$dst.tmp" >/dev/null 2>&1; then
            echo "ccorpus: $name: $pkg $ver does not unpack; left out" >&2
            rm -rf "$dst.tmp"
            continue
        fi
        mv "$dst.tmp" "$dst"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$pkg" "$ver" "$lic" "$licfile" "$licre" "$takes" "$skips" \
        "${kind:-c}" >>"$build/stage/list.tsv"
    echo "$dst" >>"$build/stage/dirs"
done

# selection, notices and the manifest: data.py's own checks, so that nothing is carried that prep.py
# would drop on the device
python3 - "$root/tools/train" "$build/stage" <<'EOF'
import fnmatch, hashlib, os, re, sys
sys.path.insert(0, sys.argv[1])
import data  # noqa: E402

stage = sys.argv[2]
out = os.path.join(stage, "ccorpus")
dirs = open(os.path.join(stage, "dirs")).read().split("\n")
# folders never taken, wherever they sit inside a taken path: tests and fuzzers (test data, generated
# cases), vendored third-party code (another license), packaging
SKIP = {"test", "tests", "testing", "unittest", "extern", "_vendor", "__pycache__", "fuzz", "fuzzing", "ossfuzz", "third_party", "thirdparty",
        "3rdparty", "deps", "vendor", "vendored", "debian", ".pc", ".git"}
NEVER = re.compile(r"sqlite|expat|libgit2|ncurses", re.I)
seen = {}
rows, total = [], [0, 0]
for line, src in zip(open(os.path.join(stage, "list.tsv")).read().strip("\n").split("\n"), dirs):
    name, pkg, ver, lic, licfile, licre, takes, skips, kind = (line.split("\t") + [""] * 9)[:9]
    exts = (".py",) if kind == "py" else (".c", ".h")
    lpath = os.path.join(src, licfile)
    ltext = open(lpath, encoding="utf-8", errors="replace").read() if os.path.isfile(lpath) else ""
    if licre not in ltext:
        print(f"ccorpus: {name}: {licfile} does not say '{licre}'; left out", file=sys.stderr)
        continue
    head = next((ln.strip(" */\t") for ln in ltext.split("\n") if ln.strip(" */\t=-")), "")
    if licfile.endswith(".h"):  # Lua's license is the last comment of lua.h
        head = "lua.h: " + ltext[ltext.find("Copyright (C)"):].split("\n")[0].strip(" *\"")
    stats = {"files": 0, "bytes": 0, "notice": 0, "unfit": 0, "dup": 0, "never": 0}
    os.makedirs(os.path.join(out, name))
    for take in takes.split():
        if take.endswith("/"):
            walk = os.walk(os.path.join(src, take))
        else:
            level = os.path.join(src, os.path.dirname(take))
            walk = [(level, [], sorted(f for f in os.listdir(level) if fnmatch.fnmatch(f, os.path.basename(take))))]
        for d, subdirs, files in walk:
            subdirs[:] = sorted(s for s in subdirs if s.lower() not in SKIP)
            for fn in sorted(files):
                p = os.path.join(d, fn)
                rel = os.path.relpath(p, src)
                if not fn.endswith(exts) or os.path.islink(p) or not os.path.isfile(p):
                    continue
                if any(fnmatch.fnmatch(rel, s) for s in skips.split()):
                    continue
                if NEVER.search(rel):
                    stats["never"] += 1
                    continue
                raw = open(p, "rb").read()
                _, bad = data.file_license(raw[:4000].decode("utf-8", "replace"))
                if bad:
                    stats["notice"] += 1
                    continue
                if data._clean(raw) is None:
                    stats["unfit"] += 1
                    continue
                h = hashlib.sha1(raw).digest()
                if h in seen:
                    stats["dup"] += 1
                    continue
                seen[h] = rel
                dst = os.path.join(out, name, rel)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                with open(dst, "wb") as f:
                    f.write(raw)
                stats["files"] += 1
                stats["bytes"] += len(raw)
    with open(os.path.join(out, name, "LICENSE"), "w") as f:
        f.write(ltext)
    rows.append((name, pkg, ver, lic, licfile, head[:120].replace("\t", " "), stats["files"], stats["bytes"]))
    total[0] += stats["files"]
    total[1] += stats["bytes"]
    print(f"ccorpus: {name:10s} {pkg} {ver} {lic:12s} {stats['files']:5d} files {stats['bytes'] / 1e6:6.2f} MB"
          f"  (dropped: {stats['notice']} notice, {stats['unfit']} generated/unfit, {stats['dup']} duplicate,"
          f" {stats['never']} never-list)", flush=True)
with open(os.path.join(out, "MANIFEST.tsv"), "w") as f:
    f.write("project\tpackage\tversion\tlicense\tlicense_file\tlicense_head\tfiles\tbytes\n")
    for r in rows:
        f.write("\t".join(str(x) for x in r) + "\n")
print(f"ccorpus: {len(rows)} projects, {total[0]} files, {total[1] / 1e6:.1f} MB of code", flush=True)
EOF

# .gpu is carried, never committed (as tools/gpu/bundle.sh does)
excl=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$excl")" .gpu
grep -qx '/.gpu/' "$excl" 2>/dev/null || echo '/.gpu/' >>"$excl"
# reproducible: the same sources give the same bytes
tar -C "$build/stage" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - ccorpus |
    xz -9 -T1 >"$root/.gpu/ccorpus.tar.xz.tmp"
mv "$root/.gpu/ccorpus.tar.xz.tmp" "$root/.gpu/ccorpus.tar.xz"
size=$(stat -c %s "$root/.gpu/ccorpus.tar.xz")
echo "ccorpus: .gpu/ccorpus.tar.xz $((size / 1024)) KiB; carry .gpu with the device call (run.sh unpacks it)"
if [ "$size" -gt $((max_mib * 1024 * 1024)) ]; then
    echo "ccorpus: over $max_mib MiB: the device carry (repository + .gpu) must stay under 64 MiB" >&2
    exit 1
fi
