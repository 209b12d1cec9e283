"""docs/probes.md is the contract: its tables must say what the provider and
the header say. Every probe of module/httpd_provider.d has a `### name`
section whose table lists its arguments in order with their 0-based and
SystemTap indexes, C types and names; the info struct table has the header's
fields, sizes and offsets.

Each probe's section also ends with an "in this repository" table, checked
against the code so it cannot drift: the files of module/ and their
functions it names are exactly those whose code fires the probe; its readers are exactly
the httpdtrace subcommands with a BPF program for the probe and the scripts
that attach to it; every test file it names exists and checks the probe,
the probe's own file first."""
import glob
import os
import re

from harness.httpd import REPO

PROVIDER = os.path.join(REPO, "module", "httpd_provider.d")
HEADER = os.path.join(REPO, "module", "mod_dtprovider.h")
PROBES_MD = os.path.join(REPO, "docs", "probes.md")
MODULE_C = sorted(glob.glob(os.path.join(REPO, "module", "**", "*.c"), recursive=True))

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


def header_fields(struct="httpd_request_info"):
    """[(field, size)] of a struct of mod_dtprovider.h."""
    body = re.search(r"struct %s \{(.*?)\};" % struct, read(HEADER), re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    out = []
    for decl in body.split(";"):
        words = decl.split()
        if words:
            out.append((words[-1], C_SIZES[" ".join(words[:-1])]))
    return out


def check_struct_table(struct, end, total):
    """The offset/size/field table of `## struct NAME` (up to the line
    starting with `end`) lists the header's fields, and they add up to
    `total` bytes."""
    doc = read(PROBES_MD)
    m = re.search(r"^## struct %s .*?\n(.*?)(?=^%s)" % (struct, re.escape(end)), doc,
                  re.S | re.M)
    rows = table_rows(m.group(1))
    assert rows[0][:3] == ["offset", "size", "field"]
    offset, want = 0, []
    for name, size in header_fields(struct):
        want.append((str(offset), str(size), name))
        offset += size
    assert [tuple(r[:3]) for r in rows[1:]] == want
    assert offset == total


def test_info_struct_table_matches_header():
    check_struct_table("httpd_request_info", "**Versioning", 160)


def test_pools_struct_table_matches_header():
    check_struct_table("httpd_request_pools", "## ", 40)


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


# ---------------------------------------------------------------------------
# Each probe's "in this repository" table against the code
# ---------------------------------------------------------------------------

def in_this_repository(doc, probe):
    """{row: [the `quoted` items of its cell]} of the probe section's table
    headed "in this repository" ("none" is no item)."""
    rows, inside = {}, False
    for line in section(doc, probe).splitlines():
        if line.startswith("| in this repository |"):
            inside = True
        elif inside and line.startswith("|"):
            if not re.match(r"^\|[-| ]+\|$", line):
                label, cell = [c.strip() for c in line.strip("|").split("|")]
                rows[label] = re.findall(r"`([^`]+)`", cell)
        elif inside:
            break
    assert rows, "docs/probes.md: ### %s has no 'in this repository' table" % probe
    assert sorted(rows) == ["fires in", "read by httpdtrace", "read by scripts", "tested by"], \
        (probe, sorted(rows))
    return rows


def strip_comments(text):
    return re.sub(r"//[^\n]*", "", re.sub(r"/\*.*?\*/", "", text, flags=re.S))


def c_functions(path):
    """{name: body} of the functions defined in a C file of httpd style
    (return type and name from column 0, braces alone on their lines)."""
    text = strip_comments(read(path))
    return {m.group(1): m.group(2) for m in re.finditer(
        r"^[A-Za-z_][^;{}()]*?\b(\w+)\([^;{}]*?\)\n\{\n(.*?)^\}", text, re.M | re.S)}


def firing_functions(probe):
    """{(file, function)} of module/'s C files holding a call site of the
    probe, the HTTPD_<PROBE>(...) of the header dtrace -h makes (not the
    HTTPD_<PROBE>_ENABLED() tests), the file relative to the repository;
    asserts none is outside a function."""
    call = re.compile(r"\bHTTPD_%s\(" % probe.upper().replace("-", "_"))
    out = set()
    for path in MODULE_C:
        funcs = c_functions(path)
        out |= {(os.path.relpath(path, REPO), name)
                for name, body in funcs.items() if call.search(body)}
        in_funcs = sum(len(call.findall(body)) for body in funcs.values())
        assert len(call.findall(strip_comments(read(path)))) == in_funcs, (probe, path)
    return out


def fires_in(items):
    """{(file, function)} of a "fires in" cell: a file, then its functions."""
    out, path = set(), None
    for item in items:
        if item.endswith(".c"):
            path = item
        else:
            assert path and item.endswith("()"), item
            out.add((path, item[:-2]))
    return out


def bpf_readers(probe):
    """The subcommands x whose x.bpf.c (src/ or src/x/) has a program for the probe,
    `SEC("usdt") int BPF_USDT(probe, ...` or `SEC("usdt") int probe(struct
    pt_regs *ctx)` (maybe with a ___suffix), in itself or in a src/lib/*.bpf.h
    it includes."""
    prog = re.compile(r'SEC\("usdt"\)\s*int\s+(?:BPF_USDT\(\s*)?%s(?:___\w+)?\s*[,()]'
                      % probe.replace("-", "__"))
    out = set()
    for path in glob.glob(os.path.join(REPO, "src", "**", "*.bpf.c"), recursive=True):
        text = read(path)
        for inc in re.findall(r'^#include "([\w/]+\.bpf\.h)"', text, re.M):
            here = os.path.join(os.path.dirname(path), inc)
            text += read(here if os.path.exists(here) else os.path.join(REPO, "src", inc))
        if prog.search(strip_comments(text)):
            out.add(os.path.basename(path)[:-len(".bpf.c")])
    return out


def script_readers(probe):
    """The scripts of scripts/bpftrace/ and scripts/dtrace/ with a probe
    clause on the probe: `usdt:PATH:httpd:request__done`,
    `httpd*:::request-done`."""
    under = probe.replace("-", "__")
    pattern = {"bpftrace": r"\busdt:[^:\s]*:httpd:%s(?!\w)" % under,
               "dtrace": r"\bhttpd[\w*]*:[^:\s]*:[^:\s]*:%s(?![\w-])" % re.escape(probe)}
    out = set()
    for kind, ext in (("bpftrace", "bt"), ("dtrace", "d")):
        for path in glob.glob(os.path.join(REPO, "scripts", kind, "*." + ext)):
            if re.search(pattern[kind], strip_comments(read(path))):
                out.add(os.path.relpath(path, REPO))
    return out


def names_probe(text, probe):
    """The text names the probe, as request-done or request__done."""
    return re.search(r"(?<![\w-])(?:%s|%s)(?![\w-])"
                     % (re.escape(probe), re.escape(probe.replace("-", "__"))), text)


def test_every_probe_says_where_it_fires():
    doc = read(PROBES_MD)
    for probe in provider_args():
        said = fires_in(in_this_repository(doc, probe)["fires in"])
        assert said == firing_functions(probe), probe


def test_every_probe_lists_exactly_its_readers():
    doc = read(PROBES_MD)
    for probe in provider_args():
        rows = in_this_repository(doc, probe)
        assert set(rows["read by httpdtrace"]) == bpf_readers(probe), probe
        assert set(rows["read by scripts"]) == script_readers(probe), probe
        for sub in rows["read by httpdtrace"]:
            assert os.path.exists(os.path.join(REPO, "tests", "tools", "test_%s.py" % sub)), sub


def test_every_probe_lists_the_tests_that_check_it():
    """Each test file named exists and names the probe, or one of the
    scripts that read it (the test runs the script); the probe's own file,
    tests/probes/test_<probe>.py, comes first."""
    doc = read(PROBES_MD)
    for probe in provider_args():
        rows = in_this_repository(doc, probe)
        tests = rows["tested by"]
        own = "tests/probes/test_%s.py" % probe.replace("-", "_")
        assert tests and tests[0] == own, (probe, tests)
        scripts = [os.path.basename(p) for p in rows["read by scripts"]]
        for path in tests:
            assert os.path.isfile(os.path.join(REPO, path)), (probe, path)
            text = read(os.path.join(REPO, path))
            assert names_probe(text, probe) or any(s in text for s in scripts), (probe, path)
