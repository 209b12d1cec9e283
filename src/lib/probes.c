/*
 * probes.c - reading USDT notes with libelf (see probes.h).
 *
 * A stapsdt note (type 3, owner "stapsdt") holds three addresses (site,
 * .stapsdt.base, semaphore) then "provider\0name\0args\0". If the file was
 * prelinked, the addresses are off by the difference between the recorded
 * base and the .stapsdt.base section's address; we correct for it. The
 * semaphore's file offset comes from the PT_LOAD segment holding it, which is
 * what /proc/PID/maps needs to find it in a live process.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "probes.h"

#define NT_STAPSDT 3

static unsigned long long vaddr_to_offset(Elf *e, unsigned long long va)
{
	size_t n;
	GElf_Phdr ph;

	if (elf_getphdrnum(e, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (va >= ph.p_vaddr && va < ph.p_vaddr + ph.p_filesz)
			return va - ph.p_vaddr + ph.p_offset;
	}
	return 0;
}

static int notes_read(Elf *e, struct probe_note *out, int max)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	unsigned long long base_addr = 0;
	int n = 0;

	if (elf_getshdrstrndx(e, &shstrndx))
		return -1;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (gelf_getshdr(scn, &sh) && (name = elf_strptr(e, shstrndx, sh.sh_name)) &&
		    strcmp(name, ".stapsdt.base") == 0)
			base_addr = sh.sh_addr;
	}
	while ((scn = elf_nextscn(e, scn)) && n < max) {
		GElf_Shdr sh;
		GElf_Nhdr nh;
		Elf_Data *d;
		size_t off = 0, name_off, desc_off;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE || !(d = elf_getdata(scn, NULL)))
			continue;
		while (n < max && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
			const char *desc = (const char *)d->d_buf + desc_off;
			unsigned long long a[3];
			struct probe_note *p = &out[n];
			const char *prov, *pname;

			if (nh.n_type != NT_STAPSDT || nh.n_namesz != 8 ||
			    memcmp((const char *)d->d_buf + name_off, "stapsdt", 8) != 0 ||
			    nh.n_descsz < sizeof(a) + 2)
				continue;
			memcpy(a, desc, sizeof(a));
			prov = desc + sizeof(a);
			pname = memchr(prov, '\0', nh.n_descsz - sizeof(a));
			if (!pname++ || !memchr(pname, '\0', nh.n_descsz - (pname - desc)))
				continue;
			if (base_addr && a[1]) { /* prelink moved the file */
				a[0] += base_addr - a[1];
				if (a[2])
					a[2] += base_addr - a[1];
			}
			snprintf(p->provider, sizeof(p->provider), "%s", prov);
			snprintf(p->name, sizeof(p->name), "%s", pname);
			p->pc = a[0];
			p->sem = a[2];
			p->sem_off = a[2] ? vaddr_to_offset(e, a[2]) : 0;
			n++;
		}
	}
	return n;
}

int probes_read(const char *path, struct probe_note *out, int max)
{
	int fd, n = -1;
	Elf *e;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (e && elf_kind(e) == ELF_K_ELF)
		n = notes_read(e, out, max);
	else
		errno = ENOEXEC;
	if (e)
		elf_end(e);
	close(fd);
	return n;
}

int probes_has(const struct probe_note *notes, int n, const char *provider, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(notes[i].provider, provider) && !strcmp(notes[i].name, name))
			return 1;
	return 0;
}

int probes_count(const struct probe_note *notes, int n, const char *provider)
{
	int count = 0;

	for (int i = 0; i < n; i++) {
		if (strcmp(notes[i].provider, provider))
			continue;
		/* count a name at its first note only */
		if (!probes_has(notes, i, provider, notes[i].name))
			count++;
	}
	return count;
}
