"""Read mod_dtprovider's USDT semaphores out of live processes.

A semaphore is an unsigned short the kernel raises in every process that maps
the module while a tracer has a probe attached, and drops back to 0 on detach.
`readelf -n` gives each probe's `Semaphore:` as a link-time virtual address of
the .so (its first PT_LOAD is at 0). In a process the loader maps each PT_LOAD
at load_bias + p_vaddr, rounded down to a page, from file offset p_offset
rounded down the same way. The load bias is the start of the mapping of file
offset 0 minus the first PT_LOAD's (rounded) p_vaddr. So

    address = load_bias + semaphore

and, as a check, the mapping that holds that address must be the module's
file, writable, with   map.offset + (address - map.start)
                     == semaphore - p_vaddr + p_offset   (of the PT_LOAD
that holds the semaphore). The check matters: the read-only segment before
.data often maps the same file page, so looking a file offset up in
/proc/PID/maps alone is ambiguous.
"""
import os
import re
import struct
import subprocess

PAGE = os.sysconf("SC_PAGE_SIZE")
PT_LOAD = 1


def semaphores(so):
    """{probe name: semaphore address (link-time)} from `readelf -n`."""
    out = subprocess.run(["readelf", "-n", so], capture_output=True, text=True,
                         check=True).stdout
    sems = {}
    for m in re.finditer(r"Name: (\S+)\s+Location: \S+, Base: \S+, Semaphore: (0x[0-9a-f]+)",
                         out):
        sems[m.group(1)] = int(m.group(2), 16)
    return sems


def sites(so):
    """{probe name: number of probe sites (ELF notes)} from `readelf -n`:
    a tracer attaches one uprobe per site."""
    out = subprocess.run(["readelf", "-n", so], capture_output=True, text=True,
                         check=True).stdout
    counts = {}
    for m in re.finditer(r"Name: (\S+)\s+Location: ", out):
        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


def load_segments(so):
    """[(p_offset, p_vaddr, p_filesz, p_memsz)] of the PT_LOAD headers of an
    ELF64 little-endian file."""
    with open(so, "rb") as f:
        ehdr = f.read(64)
        assert ehdr[:4] == b"\x7fELF" and ehdr[4] == 2 and ehdr[5] == 1, so
        e_phoff, = struct.unpack_from("<Q", ehdr, 32)
        e_phentsize, e_phnum = struct.unpack_from("<HH", ehdr, 54)
        segs = []
        for i in range(e_phnum):
            f.seek(e_phoff + i * e_phentsize)
            p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz, p_memsz = \
                struct.unpack("<IIQQQQQ", f.read(48))
            if p_type == PT_LOAD:
                segs.append((p_offset, p_vaddr, p_filesz, p_memsz))
    return segs


def module_maps(pid, so):
    """The lines of /proc/PID/maps that map the file `so` (same device and
    inode), as (start, end, perms, offset)."""
    st = os.stat(so)
    out = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 6:
                continue
            major, minor = (int(x, 16) for x in parts[3].split(":"))
            if int(parts[4]) != st.st_ino or os.makedev(major, minor) != st.st_dev:
                continue
            start, end = (int(x, 16) for x in parts[0].split("-"))
            out.append((start, end, parts[1], int(parts[2], 16)))
    return out


def addresses(pid, so):
    """{probe: address of its semaphore in process pid}; {} when pid does not
    map the module."""
    maps = module_maps(pid, so)
    if not maps:
        return {}
    segs = load_segments(so)
    first = min(segs, key=lambda s: s[1])
    base_map = [m for m in maps if m[3] == 0]
    assert len(base_map) == 1, "pid %d maps %s's offset 0 %d times" % (pid, so, len(base_map))
    bias = base_map[0][0] - (first[1] & ~(PAGE - 1))
    out = {}
    for name, sem in semaphores(so).items():
        seg = [s for s in segs if s[1] <= sem < s[1] + s[2]]
        assert len(seg) == 1, "semaphore %s at %#x is not file-backed" % (name, sem)
        p_offset, p_vaddr = seg[0][0], seg[0][1]
        addr = bias + sem
        holder = [m for m in maps if m[0] <= addr < m[1]]
        assert len(holder) == 1, "pid %d: %s's semaphore %#x is not mapped" % (pid, name, addr)
        start, _end, perms, offset = holder[0]
        assert "w" in perms, "pid %d: %s's semaphore in a %s mapping" % (pid, name, perms)
        assert offset + (addr - start) == sem - p_vaddr + p_offset
        out[name] = addr
    return out


def values(pid, so):
    """{probe: current semaphore value} in process pid; {} if it has no
    mapping of the module, None if it is gone."""
    try:
        addrs = addresses(pid, so)
        with open("/proc/%d/mem" % pid, "rb") as mem:
            out = {}
            for name, addr in addrs.items():
                mem.seek(addr)
                out[name], = struct.unpack("<H", mem.read(2))
            return out
    except (FileNotFoundError, ProcessLookupError):
        return None
