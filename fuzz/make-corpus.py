#!/usr/bin/env python3
"""Regenerates the seed corpora under fuzz/corpus/<target>/ from tests/fixtures/real.

Seeds are small on purpose (a few KiB): heads and tails of real dumps spliced into short
complete or cut dumps, the same compressed by the real command-line tools, the real job
logs, and good and bad threshold values and command lines. Run from anywhere:
    python3 fuzz/make-corpus.py
The first byte of a decode/log/parsers seed is the target's mode byte (see the target's
header comment).
"""
import gzip
import bz2
import lzma
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL = os.path.join(ROOT, "tests", "fixtures", "real")
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def real(path):
    with open(os.path.join(REAL, path), "rb") as f:
        data = f.read()
    if path.endswith(".gz"):
        data = gzip.decompress(data)
    return data


def splice(text, head=1200, tail=700):
    """The first and last lines of a dump (cut at line ends), joined."""
    h = text[:head]
    h = h[: h.rfind(b"\n") + 1]
    t = text[-tail:]
    t = t[t.find(b"\n") + 1 :]
    return h + t


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, stdout=subprocess.PIPE, check=True).stdout


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def decode_seeds():
    texts = {
        "mysql": splice(real("mariadb/shop.sql")),
        "mysql-nodate": splice(real("mariadb/shop-skip-dump-date.sql.gz")),
        "mysql-killed": splice(real("mariadb/shop-killed.sql.gz")),
        "mysql-all": splice(real("mariadb/all-databases.sql.gz")),
        "mysql-missing-db": real("mariadb/missing-db.sql.gz"),
        "pg": splice(real("postgres/shop.sql")),
        "pg-cluster": splice(real("postgres/cluster.sql.gz"), 1500, 1500),
        "pg-terminated": splice(real("postgres/shop-terminated.sql.gz")),
    }
    hdr = lambda mode, damage=0, marker=0, at=0: bytes(
        [mode | damage << 3 | marker << 5, at & 0xFF, at >> 8]
    )
    for name, text in texts.items():
        put("decode", f"plain-{name}", hdr(0) + text)
        # Compressed here by the target (mode 1-4): the fuzzer mutates the text behind it.
        for mode, kind in [(1, "gz"), (2, "zst"), (3, "xz"), (4, "bz2")]:
            put("decode", f"{kind}-{name}", hdr(mode) + text)
    text = texts["mysql"]
    # Real compressed files (mode 0: the bytes are the file), whole, cut and with junk.
    files = {
        "gz": gzip.compress(text, 6),
        "zst": zstd(text),
        "xz": lzma.compress(text),
        "bz2": bz2.compress(text, 9),
    }
    for kind, data in files.items():
        put("decode", f"file-{kind}", hdr(0) + data)
        put("decode", f"file-{kind}-cut", hdr(0) + data[: len(data) * 2 // 3])
        put("decode", f"file-{kind}-tail-cut", hdr(0) + data[:-3])
        put("decode", f"file-{kind}-junk", hdr(0) + data + b"junk\n")
        put("decode", f"file-{kind}-two-members", hdr(0) + data + data)
    put("decode", "file-gz-truncated-real", hdr(0) + open(os.path.join(REAL, "mariadb/shop-truncated.sql.gz"), "rb").read()[:4096])
    put("decode", "file-pg-custom-head", hdr(0) + open(os.path.join(REAL, "postgres/shop.dump"), "rb").read()[:1024])
    put("decode", "damage-gz-flip", hdr(1, 2, 0, 0x2345) + text)
    put("decode", "damage-zst-cut", hdr(2, 1, 0, 0x0150) + text)
    put("decode", "regex-marker", hdr(0, 0, 7) + b"data\n-- backup done at 3am\n")
    put("decode", "empty", b"")


def encrypted_seeds():
    """The real encrypted files (tests/fixtures/regenerate-encrypted.sh), whole, cut in the
    middle and near the end, with junk appended (mode 0: the bytes are the file)."""
    hdr = bytes([0, 0, 0])
    d = os.path.join(REAL, "encrypted")
    for name in sorted(os.listdir(d)):
        if name == "VERSIONS.txt":
            continue
        with open(os.path.join(d, name), "rb") as f:
            data = f.read()
        stem = "enc-" + name.split(".")[0]
        put("decode", stem, hdr + data)
        put("decode", stem + "-cut", hdr + data[: len(data) // 2])
        put("decode", stem + "-tail-cut", hdr + data[:-5])
        put("decode", stem + "-junk", hdr + data + b"junk\n")


def log_seeds():
    for name in sorted(os.listdir(os.path.join(REAL, "logs"))):
        log = real(os.path.join("logs", name))
        put("log", name, b"\x00" + log)
        put("log", name + "-run-start", b"\x03" + log)  # run-start pattern 1
        put("log", name + "-success", b"\x18" + log)  # success + extra patterns
    runs = b"".join(
        open(os.path.join(REAL, "logs", n), "rb").read()
        for n in ["mariadb-killed.log", "mariadb-clean.log"]
    )
    put("log", "two-runs", b"\x03" + runs)
    put("log", "crlf", b"\x00" + runs.replace(b"\n", b"\r\n"))
    put(
        "log",
        "syslog-and-tools",
        b"\x11Nov 25 03:00:01 db1 backup[123]: ERROR - dump failed\n"
        b"=== backup started\n[child] mysqldump: Got error: 1045: Access denied\n"
        b"Warning: Using a password on the command line\nrsync error: some files\n"
        b"2026-11-25T03:00:01.123+01:00 [WARN] table t skipped\nexit status 0\nrc=2\n",
    )


def parser_seeds():
    values = [
        "26h", "50h", "1d12h", "90m", "0", "3600", "1.5h", "10x", "-5m", "",
        "1200K", "2GiB", "1T", "512B", "12X", "1e3",
        "10", "10:", "~:10", "10:20", "@10:20", "1h:26h", "@1G:2G", "20:10", "nan", "inf",
    ]
    for i, v in enumerate(values):
        put("parsers", f"value-{i:02}", b"\x00" + v.encode())
    argvs = [
        ["-f", "/var/backups/db.sql.gz", "-w", "26h", "-c", "2d", "-W", "1G", "-C", "@0:10"],
        ["-f", "/x", "--marker", "pg_dump", "-t", "50", "--settle", "0"],
        ["-f", "/x", "--marker-regex", "^-- done$", "--output", "json", "-v"],
        ["-l", "/var/log/backup.log", "--log-run-start", "=== run", "--log-error", "rsync error",
         "--log-warning-age", "2d", "--log-dump-slack", "1h"],
        ["-f", "/x", "--cache-dir", "/tmp/c", "--verify-only", "--unverified-state", "warning"],
        ["-f", "/x", "-w", "20h:10h"],
        ["--help"],
        ["--version"],
        ["-f", "x", "--bogus"],
    ]
    for i, argv in enumerate(argvs):
        put("parsers", f"argv-{i:02}", b"\x01" + b"\x00".join(a.encode() for a in argv))


def config_seeds():
    """Configuration files (mode byte 2): the shipped example and small good and bad ones."""
    with open(os.path.join(ROOT, "packaging", "examples", "backups.toml"), "rb") as f:
        put("parsers", "config-00", b"\x02" + f.read())
    files = [
        '[defaults]\nwarning-age = "26h"\ncritical-age = "50h"\n[set.shop]\ndump = "/var/backups/shop"\n',
        '[set.mysql]\ndump = "/b"\nper-database = "^(?:daily|weekly)/([^/]+)/"\nexpect-databases = ["shop", "crm"]\ndrill-max-age = "8d"\n',
        '[set.log]\nlog = "/var/log/backup.log"\nlog-error = ["rsync error", "FATAL"]\nlog-warning-age = "2d"\n',
        '[set.bad]\ndump = 3\nwarning-age = "10x"\n',
        '[set."a b"]\ndump = "/x"\nno-such-key = true\n[set.a b]\n',
        '[defaults]\nconfig = "/etc/x"\nhelp = true\n',
    ]
    for i, text in enumerate(files, start=1):
        put("parsers", f"config-{i:02}", b"\x02" + text.encode())


def output_seeds():
    import random

    rnd = random.Random(42)
    for i in range(12):
        put("output", f"random-{i:02}", bytes(rnd.randrange(256) for _ in range(rnd.randrange(16, 600))))
    put("output", "text", b"\x03\x01\x02" + "db|x\n\x1b[31m\u202e".encode() * 20)


if __name__ == "__main__":
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    decode_seeds()
    encrypted_seeds()
    log_seeds()
    parser_seeds()
    config_seeds()
    output_seeds()
    for t in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, t))
        size = sum(os.path.getsize(os.path.join(CORPUS, t, f)) for f in files)
        print(f"{t}: {len(files)} seeds, {size} bytes", file=sys.stderr)
