/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
 * WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 */

/*
 * sdt_nop5.h: put USDT probe sites on the kernel's fast uprobe path.
 *
 * Include it after the provider header made by `dtrace -h` (which includes
 * <sys/sdt.h>). Every probe macro expanded after this point gets a 5-byte
 * nop as its site instead of sys/sdt.h's 1-byte `nop`; the ELF note still
 * records the address of the nop, so bpftrace, libbpf, perf and SystemTap
 * read and attach to it exactly as before.
 *
 * Why. A uprobe on a 1-byte nop traps (int3) on every hit. Since Linux 6.18,
 * x86-64 optimizes a uprobe whose original instruction is exactly the 5-byte
 * nop `0f 1f 44 00 00` (the kernel compares the site with x86_nops[5] in
 * can_optimize(), arch/x86/kernel/uprobes.c) and that does not cross a page
 * boundary: after the first hit it rewrites the site into a call to a
 * trampoline that enters the kernel by the uprobe syscall, about twice as
 * fast as the trap (bench/RESULTS.md has this machine's figures). Any other
 * 5-byte nop encoding (`66 0f 1f 40 00`, five `90`s) is not optimized.
 * Kernels without the optimization still handle the site (older ones
 * single-step it out of line, somewhat slower than a 1-byte nop); build with
 * -DDTP_SDT_NOP1 to keep sys/sdt.h's site.
 *
 * How. sys/sdt.h writes each site as "990: _SDT_NOP" and its note refers to
 * the label as 990b, expanding _SDT_NOP only where a probe is used, so
 * redefining it here is enough. The bytes are spelled out because the
 * assembler's choice of nop is not ours to rely on, and without commas
 * because the text passes through sys/sdt.h's one-argument macros.
 * `.balign 8` keeps the 5 bytes inside one page; label 990 is then defined
 * again after the padding so the note points at the nop itself (a numeric
 * label may be redefined; 990b is the nearest definition before the note).
 * The padding is executed only when the probe's code runs, which is after
 * its is-enabled test, so an idle module never executes it.
 *
 * The optimized site is entered by a `call`, which writes 8 bytes below the
 * stack pointer; the Makefile builds code holding these sites with
 * -mno-red-zone on x86-64 so that no compiler-kept data lives there.
 *
 * Other architectures (and 32-bit x86) keep sys/sdt.h's default.
 */
#ifndef DTP_SDT_NOP5_H
#define DTP_SDT_NOP5_H

#if !defined(_SDT_ASM_BODY)
#error "include sdt_nop5.h after the provider header (sys/sdt.h)"
#endif

#if defined(__x86_64__) && !defined(DTP_SDT_NOP1)
#undef _SDT_NOP
#define _SDT_NOP .balign 8; 990: .byte 0x0f; .byte 0x1f; .byte 0x44; \
    .byte 0x00; .byte 0x00
#define DTP_SDT_SITE_BYTES 5
#else
#define DTP_SDT_SITE_BYTES 1
#endif

#endif /* DTP_SDT_NOP5_H */
