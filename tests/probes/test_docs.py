"""docs/probes.md is the contract: its tables must say what the provider and
the header say. Every probe of module/httpd_provider.d has a `### name`
section whose table lists its arguments in order with their 0-based and
SystemTap indexes, C types and names; the info struct table has the header's
fields, sizes and offsets."""
import os
import re

from harness.httpd import REPO

PROVIDER = os.path.join(REPO, "module", "httpd_provider.d")
HEADER = os.path.join(REPO, "module", "mod_dtprovider.h")
PROBES_MD = os.path.join(REPO, "docs", "probes.md")

C_SIZES = {"unsigned int": 4, "int": 4, "unsigned short": 2, "unsigned long long": 8}


def read(path):
    with open(path) as f:
        return f.read()


def provider_args():
    """{dtrace name: [(C type, name)]}, the native argument lists."""
    text = re.sub(r"/\*.*?\*/", "", read(PROVIDER), flags=re.S)
    out = {}
    for m in re.finditer(r"probe\s+(\w+)\s*\(([^)]*)\)", text):
        args = []
        for a in m.group(2).split(","):
            t, n = re.match(r"\s*(.*?)\s*(\w+)\s*$", a).groups()
            args.append((" ".join(t.replace("*", " *").split()), n))
        out[m.group(1).replace("__", "-")] = args
    return out


def section(text, title):
    m = re.search(r"^### %s\n(.*?)(?=^##)" % re.escape(title), text, re.S | re.M)
    assert m, "docs/probes.md has no section ### %s" % title
    return m.group(1)


def table_rows(text):
    """Rows of the first markdown table in `text`, cells stripped of
    backquotes."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|"):
            if rows:
                break
            continue
        if not re.match(r"^\|[-| ]+\|$", line):
            rows.append([c.strip().strip("`") for c in line.strip("|").split("|")])
    return rows


def test_every_probe_documented_with_its_arguments():
    doc = read(PROBES_MD)
    for probe, args in provider_args().items():
        rows = table_rows(section(doc, probe))
        assert rows[0][:4] == ["arg", "SystemTap", "C type", "name"], probe
        got = [tuple(r[:4]) for r in rows[1:]]
        want = [(str(i), "$arg%d" % (i + 1), t, n) for i, (t, n) in enumerate(args)]
        assert got == want, probe


def header_fields():
    """[(field, size)] of struct httpd_request_info in mod_dtprovider.h."""
    body = re.search(r"struct httpd_request_info \{(.*?)\};", read(HEADER), re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    out = []
    for decl in body.split(";"):
        words = decl.split()
        if words:
            out.append((words[-1], C_SIZES[" ".join(words[:-1])]))
    return out


def test_info_struct_table_matches_header():
    doc = read(PROBES_MD)
    m = re.search(r"^## struct httpd_request_info.*?\n(.*?)(?=^\*\*Versioning)", doc, re.S | re.M)
    rows = table_rows(m.group(1))
    assert rows[0][:3] == ["offset", "size", "field"]
    offset, want = 0, []
    for name, size in header_fields():
        want.append((str(offset), str(size), name))
        offset += size
    assert [tuple(r[:3]) for r in rows[1:]] == want
    assert offset == 144


def test_docs_offsets_in_one_liners_match_the_struct():
    """`arg5 + N` in a one-liner reads the field its comment names."""
    offsets, off = {}, 0
    for name, size in header_fields():
        offsets[name] = off
        off += size
    text = read(PROBES_MD)
    pairs = re.findall(r"\(info->(\w+), offset (\d+)\)\n.*arg5 \+ (\d+)", text)
    assert len(pairs) >= 2
    for field, said, used in pairs:
        assert offsets[field] == int(said) == int(used), field
