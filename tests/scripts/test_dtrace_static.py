"""What can be checked of the DTrace side without DTrace (Linux has none):
the D scripts and the docs' D one-liners use only probes the provider
declares, argument indexes it has, and translator fields that exist; the
translator's copy of struct httpd_request_info matches mod_dtprovider.h; and
every field the translator declares is assigned from a real struct field.
Nothing here runs a D program: that stays untested on this platform."""
import glob
import os
import re

from harness.httpd import REPO

PROVIDER = os.path.join(REPO, "module", "httpd_provider.d")
TRANSLATOR = os.path.join(REPO, "module", "httpd.d")
HEADER = os.path.join(REPO, "module", "mod_dtprovider.h")
D_SCRIPTS = sorted(glob.glob(os.path.join(REPO, "scripts", "dtrace", "*.d")))
PROBES_MD = os.path.join(REPO, "docs", "probes.md")


def read(path):
    with open(path) as f:
        return f.read()


def strip_comments(text):
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def provider_probes():
    """{dtrace name: [translated arg types]} from the provider file."""
    text = strip_comments(read(PROVIDER))
    out = {}
    for m in re.finditer(r"probe\s+(\w+)\s*\(([^)]*)\)\s*(?::\s*\(([^)]*)\))?\s*;", text):
        name = m.group(1).replace("__", "-")
        args = m.group(3) if m.group(3) is not None else m.group(2)
        out[name] = [" ".join(re.match(r"(.*?)\w+$", a.strip()).group(1).split())
                     for a in args.split(",") if a.strip()]
    return out


def struct_fields(text, name):
    """[(type, field)] of `struct name { ... }` (or `typedef struct name`)."""
    m = re.search(r"struct\s+%s\s*\{(.*?)\}" % name, strip_comments(text), re.S)
    assert m, "no struct %s" % name
    out = []
    for decl in m.group(1).split(";"):
        words = decl.split()
        if words:
            out.append((" ".join(words[:-1]), words[-1]))
    return out


def translator_members(type_name):
    """{member: expression} of `translator TYPE < ... > { ... };`."""
    text = strip_comments(read(TRANSLATOR))
    m = re.search(r"translator\s+%s\s*<[^>]*>\s*\{(.*?)\n\};" % type_name, text, re.S)
    assert m, "no translator for %s" % type_name
    out = {}
    for stmt in m.group(1).split(";"):
        if "=" in stmt:
            lhs, rhs = stmt.split("=", 1)
            out[lhs.strip()] = rhs
    return out


# Sizes of the C and D types both files use, to compare layouts.
SIZES = {"unsigned int": 4, "uint32_t": 4, "int": 4, "int32_t": 4,
         "unsigned short": 2, "uint16_t": 2, "unsigned long long": 8, "uint64_t": 8}


def test_translator_struct_matches_header():
    c = struct_fields(read(HEADER), "httpd_request_info")
    d = struct_fields(read(TRANSLATOR), "httpd_request_info")
    assert [f for _, f in c] == [f for _, f in d]
    assert [SIZES[t] for t, _ in c] == [SIZES[t] for t, _ in d]
    assert sum(SIZES[t] for t, _ in c) == 160


def test_translators_assign_every_member_from_real_fields():
    struct = {f for _, f in struct_fields(read(HEADER), "httpd_request_info")}
    for typedef, tname in (("httpd_reqinfo", "httpd_reqinfo_t"),):
        declared = {f for _, f in struct_fields(read(TRANSLATOR), typedef)}
        members = translator_members(tname)
        assert set(members) == declared
        for expr in members.values():
            used = set(re.findall(r"P->(\w+)", expr))
            assert used and used <= struct, expr


def test_provider_translated_types():
    probes = provider_probes()
    assert set(probes) == {"request-start", "request-done", "conn-start", "conn-done",
                           "request-phase", "internal-redirect"}
    assert probes["request-done"][5] == "httpd_reqinfo_t *"
    assert all(len(a) <= 6 for a in probes.values())


def clauses(text):
    """(probe names, body) of each httpd clause of a D program."""
    text = strip_comments(text)
    out = []
    for m in re.finditer(r"((?:httpd\*?:::[\w-]+\s*,?\s*)+)(/[^/]*/)?\s*\{", text):
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        names = re.findall(r"httpd\*?:::([\w-]+)", m.group(1))
        out.append((names, (m.group(2) or "") + text[m.end():i]))
    return out


def check_program(text):
    """Assert a D program uses only declared probes, argument indexes and
    translator fields; returns the number of httpd clauses."""
    probes = provider_probes()
    fields = {"httpd_reqinfo_t *": {f for _, f in struct_fields(read(TRANSLATOR),
                                                                "httpd_reqinfo")}}
    found = clauses(text)
    for names, body in found:
        for name in names:
            assert name in probes, "no probe %s" % name
            types = probes[name]
            for n in re.findall(r"args\[(\d+)\]", body):
                assert int(n) < len(types), "%s has no args[%s]" % (name, n)
            for n, field in re.findall(r"args\[(\d+)\]->(\w+)", body):
                assert field in fields.get(types[int(n)], ()), \
                    "%s args[%s] has no field %s" % (name, n, field)
            for n in re.findall(r"\barg(\d+)\b", body):
                assert int(n) < len(types)
    return len(found)


def test_d_scripts():
    names = sorted(os.path.basename(p) for p in D_SCRIPTS)
    assert names == ["conns.d", "latency.d", "phases.d", "requests.d"]
    for path in D_SCRIPTS:
        assert check_program(read(path)) >= 1, path


def test_docs_d_one_liners():
    lines = re.findall(r"^\s*dtrace -n '(.*)'\s*$", read(PROBES_MD), re.M)
    assert len(lines) >= 4
    for program in lines:
        assert check_program(program) == 1, program


def test_checker_catches_mistakes():
    """The checks above can fail."""
    for bad in ("httpd*:::request-finish { trace(1); }",
                "httpd*:::conn-done { trace(args[6]); }",
                "httpd*:::request-done { trace(args[5]->hri_nope); }",
                "httpd*:::request-start { trace(args[2]->hri_uri); }"):
        try:
            check_program(bad)
        except AssertionError:
            continue
        raise AssertionError("not caught: " + bad)
