"""Read and write static ELF64 EM_ALPHA executables.

Small on purpose: the loader needs PT_LOAD segments, the entry point and the
symbol table (for disassembly labels); the assembler needs to write the same.
Every malformation is an ``ElfError`` whose message says what and where.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from machine.alpha.constants import KSEG_BASE, KSEG_SIZE, USER_LIMIT
from machine.hostfile import ELF_MAX, HostFileError, read_bytes, size_text

EM_ALPHA = 0x9026
ET_EXEC = 2
PT_LOAD = 1
PF_X, PF_W, PF_R = 1, 2, 4
SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_NOBITS = 1, 2, 3, 8
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION = 0, 1, 2, 3
STB_LOCAL, STB_GLOBAL = 0, 1

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")


class ElfError(Exception):
    """The file is not a loadable static Alpha ELF executable."""


@dataclass
class Segment:
    vaddr: int
    memsz: int
    flags: int
    data: bytes  # filesz bytes; the rest up to memsz is zero


@dataclass
class Section:
    name: str
    addr: int
    size: int
    flags: int
    kind: int
    data: bytes = b""


@dataclass
class Symbol:
    name: str
    value: int
    size: int = 0
    kind: int = STT_NOTYPE
    bind: int = STB_LOCAL
    section: str = ""


@dataclass
class ElfImage:
    entry: int
    segments: list[Segment]
    sections: list[Section] = field(default_factory=list)
    symbols: list[Symbol] = field(default_factory=list)
    phdr_vaddr: int = 0
    phnum: int = 0
    space: str = "user"  # "user": below 2^42; "kernel": linked in KSEG (a bare-metal kernel)

    def check_user(self, name: str) -> None:
        """ElfError unless this is a user program (a KSEG kernel cannot run as a process)."""
        if self.space != "user":
            raise ElfError(f"{name}: a kernel image linked in KSEG, not a user program")

    def text_sections(self) -> list[Section]:
        return [s for s in self.sections if s.flags & SHF_EXECINSTR and s.kind == SHT_PROGBITS]

    def labels(self) -> dict[int, str]:
        """Address -> name for function and untyped global/local labels."""
        out: dict[int, str] = {}
        for s in sorted(self.symbols, key=lambda s: (s.kind != STT_FUNC, s.bind != STB_GLOBAL, s.name)):
            if s.kind in (STT_FUNC, STT_NOTYPE, STT_OBJECT) and s.name and not s.name.startswith("$"):
                out.setdefault(s.value, s.name)
        return out


def read_elf(path: str | Path) -> ElfImage:
    """The executable at ``path``, read at most ELF_MAX bytes (a device or
    FIFO named by mistake cannot hang the reader or fill memory)."""
    try:
        data = read_bytes(path, ELF_MAX, "an ELF file")
    except HostFileError as e:
        raise ElfError(str(e)) from None
    return parse_elf(data, str(path))


def read_program(path: str | Path) -> ElfImage:
    """A user program: read_elf, refusing a kernel image linked in KSEG."""
    img = read_elf(path)
    img.check_user(str(path))
    return img


def _space(vaddr: int, memsz: int) -> str | None:
    """Which address space [vaddr, vaddr + memsz) lies wholly in, if any."""
    if vaddr + memsz <= USER_LIMIT:
        return "user"
    if KSEG_BASE <= vaddr and vaddr + memsz <= KSEG_BASE + KSEG_SIZE:
        return "kernel"
    return None


def parse_elf(data: bytes, name: str = "<elf>") -> ElfImage:
    """Every field that gives a size, an offset or an address is checked
    against the file and the machine before it is used."""
    if len(data) < 4 or data[:4] != b"\x7fELF":
        raise ElfError(f"{name}: not an ELF file (bad magic {data[:4].hex() or 'empty'})")
    if len(data) < _EHDR.size:
        raise ElfError(f"{name}: truncated ELF header ({len(data)} bytes, need {_EHDR.size})")
    (ident, etype, machine, _ver, entry, phoff, shoff, _flags, _ehsize, phentsize, phnum,
     shentsize, shnum, shstrndx) = _EHDR.unpack_from(data)  # fmt: skip
    if ident[4] != 2:
        raise ElfError(f"{name}: 32-bit ELF; Alpha executables are ELF64")
    if ident[5] != 1:
        raise ElfError(f"{name}: big-endian ELF; Alpha is little-endian")
    if machine != EM_ALPHA:
        raise ElfError(f"{name}: ELF for machine {machine:#x}, not Alpha (EM_ALPHA {EM_ALPHA:#x})")
    if etype != ET_EXEC:
        what = {1: "a relocatable object (.o)", 3: "a shared object or PIE"}.get(etype, f"type {etype}")
        raise ElfError(f"{name}: {what}; only static executables (ET_EXEC) can be loaded")
    if phentsize != _PHDR.size or phoff + phnum * _PHDR.size > len(data):
        raise ElfError(f"{name}: truncated or malformed program headers")
    segments = []
    phdr_vaddr = 0
    spaces: set[str] = set()
    total = 0
    for i in range(phnum):
        ptype, flags, off, vaddr, _paddr, filesz, memsz, _align = _PHDR.unpack_from(data, phoff + i * _PHDR.size)
        if ptype == 6:  # PT_PHDR
            phdr_vaddr = vaddr
        if ptype != PT_LOAD:
            continue
        if off + filesz > len(data):
            raise ElfError(f"{name}: segment {i} at {vaddr:#x} extends past end of file (truncated?)")
        if filesz > memsz:
            raise ElfError(f"{name}: segment {i} has filesz {filesz:#x} > memsz {memsz:#x}")
        space = _space(vaddr, memsz)
        if space is None:
            raise ElfError(f"{name}: segment {i} at {vaddr:#x} (+{memsz:#x}) is outside user space "
                           f"(below {USER_LIMIT:#x}) and outside KSEG")  # fmt: skip
        spaces.add(space)
        total += memsz
        if total > ELF_MAX:
            raise ElfError(f"{name}: the segments need more than {size_text(ELF_MAX)} of memory (segment {i} "
                           f"is {memsz:#x} bytes), more than the workstation has")  # fmt: skip
        if off <= phoff < off + filesz and not phdr_vaddr:
            phdr_vaddr = vaddr + phoff - off
        segments.append(Segment(vaddr, memsz, flags, data[off : off + filesz]))
    if not segments:
        raise ElfError(f"{name}: no PT_LOAD segments; nothing to load")
    if len(spaces) > 1:
        raise ElfError(f"{name}: some segments are in user space and some in KSEG; a program is one or the other")
    img = ElfImage(entry, segments, phdr_vaddr=phdr_vaddr, phnum=phnum, space=spaces.pop())
    if shnum:
        if shentsize != _SHDR.size or shoff + shnum * _SHDR.size > len(data):
            raise ElfError(f"{name}: section headers ({shnum} at offset {shoff:#x}) extend past the end of the file "
                           "or are malformed")  # fmt: skip
        _read_sections(img, data, shoff, shnum, shstrndx, name)
    return img


def _cstr(table: bytes, off: int) -> str:
    """The NUL-terminated name at ``off`` in a string table (to its end if unterminated)."""
    end = table.find(b"\0", off)
    return table[off : end if end >= 0 else len(table)].decode("latin-1")


def _read_sections(img: ElfImage, data: bytes, shoff: int, shnum: int, shstrndx: int, name: str) -> None:
    raw = [_SHDR.unpack_from(data, shoff + i * _SHDR.size) for i in range(shnum)]
    for i, sh in enumerate(raw):
        kind, off, size = sh[1], sh[4], sh[5]
        if kind != SHT_NOBITS and off + size > len(data):
            raise ElfError(f"{name}: section {i} (offset {off:#x}, {size:#x} bytes) extends past the end of the file "
                           f"({len(data):#x} bytes)")  # fmt: skip
    if shstrndx >= shnum:
        raise ElfError(f"{name}: section-name table index {shstrndx} is not one of the {shnum} sections")
    shstr = b"" if shstrndx == 0 else data[raw[shstrndx][4] : raw[shstrndx][4] + raw[shstrndx][5]]
    names = []
    for sh in raw:
        nm, kind, flags, addr, off, size = sh[0], sh[1], sh[2], sh[3], sh[4], sh[5]
        sec_name = _cstr(shstr, nm) if nm < len(shstr) else "?"
        names.append(sec_name)
        body = data[off : off + size] if kind != SHT_NOBITS else b""
        img.sections.append(Section(sec_name, addr, size, flags, kind, body))
    for i, sh in enumerate(raw):
        if sh[1] != SHT_SYMTAB:
            continue
        if sh[9] != _SYM.size:
            raise ElfError(f"{name}: symbol table (section {i}) has entries of {sh[9]} bytes, not {_SYM.size}")
        link = sh[6]
        if not 0 < link < len(raw) or raw[link][1] != SHT_STRTAB:
            raise ElfError(f"{name}: symbol table (section {i}) links to section {link}, which is not a string table")
        strtab = data[raw[link][4] : raw[link][4] + raw[link][5]]
        for j in range(1, sh[5] // _SYM.size):
            nm, info, _other, shndx, value, size = _SYM.unpack_from(data, sh[4] + j * _SYM.size)
            if nm >= len(strtab):
                continue
            sec = names[shndx] if 0 < shndx < len(names) else ""
            img.symbols.append(Symbol(_cstr(strtab, nm), value, size, info & 15, info >> 4, sec))


def build_elf(entry: int, sections: list[Section], symbols: list[Symbol]) -> bytes:
    alloc = [s for s in sections if s.flags & SHF_ALLOC and (s.size or s.data)]
    phnum = len(alloc)
    out = bytearray(_EHDR.size + phnum * _PHDR.size)
    offsets: dict[str, int] = {}
    phdrs: list[bytes] = []
    header = len(out)
    for s in alloc:
        if s.kind != SHT_NOBITS:
            # file offset congruent to vaddr modulo the 64 KiB alignment, as ld does
            pad = (s.addr - len(out)) % 0x10000
            out += bytes(pad)
            offsets[s.name] = len(out)
            out += s.data
        else:
            offsets[s.name] = len(out)
        flags = PF_R | (PF_W if s.flags & SHF_WRITE else 0) | (PF_X if s.flags & SHF_EXECINSTR else 0)
        filesz = 0 if s.kind == SHT_NOBITS else len(s.data)
        off, vaddr, memsz = offsets[s.name], s.addr, s.size
        if not phdrs and s.kind != SHT_NOBITS and off < 0x10000 and off >= header:
            # Like GNU ld, the first segment also maps the ELF and program
            # headers from file offset 0 (loaders such as QEMU expect it).
            vaddr, filesz, memsz = s.addr - off, filesz + off, memsz + off
            off = 0
        phdrs.append(_PHDR.pack(PT_LOAD, flags, off, vaddr, vaddr, filesz, memsz, 0x10000))
    # string tables and symbols
    shstr = bytearray(b"\0")
    strtab = bytearray(b"\0")

    def add(tab: bytearray, name: str) -> int:
        off = len(tab)
        tab += name.encode() + b"\0"
        return off

    all_secs = [*alloc]
    sec_index = {s.name: i + 1 for i, s in enumerate(all_secs)}
    syms = bytearray(_SYM.size)
    ordered = sorted(symbols, key=lambda s: s.bind != STB_LOCAL)
    nlocal = 1 + sum(1 for s in ordered if s.bind == STB_LOCAL)
    for sym in ordered:
        syms += _SYM.pack(
            add(strtab, sym.name),
            (sym.bind << 4) | sym.kind,
            0,
            sec_index.get(sym.section, 0xFFF1),
            sym.value,
            sym.size,
        )
    while len(out) % 8:
        out.append(0)
    symoff = len(out)
    out += syms
    stroff = len(out)
    out += strtab
    shdrs = [bytes(_SHDR.size)]
    for s in all_secs:
        shdrs.append(_SHDR.pack(add(shstr, s.name), s.kind, s.flags, s.addr, offsets[s.name],
                                s.size, 0, 0, 8 if s.flags & SHF_EXECINSTR == 0 else 16, 0))  # fmt: skip
    nsec = len(all_secs)
    shdrs.append(_SHDR.pack(add(shstr, ".symtab"), SHT_SYMTAB, 0, 0, symoff, len(syms), nsec + 2, nlocal, 8, _SYM.size))
    shdrs.append(_SHDR.pack(add(shstr, ".strtab"), SHT_STRTAB, 0, 0, stroff, len(strtab), 0, 0, 1, 0))
    shstr_name = add(shstr, ".shstrtab")
    shstroff = len(out)
    out += shstr
    shdrs.append(_SHDR.pack(shstr_name, SHT_STRTAB, 0, 0, shstroff, len(shstr), 0, 0, 1, 0))
    while len(out) % 8:
        out.append(0)
    shoff = len(out)
    for h in shdrs:
        out += h
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    _EHDR.pack_into(out, 0, ident, ET_EXEC, EM_ALPHA, 1, entry, _EHDR.size, shoff, 0, _EHDR.size,
                    _PHDR.size, phnum, _SHDR.size, len(shdrs), len(shdrs) - 1)  # fmt: skip
    for i, p in enumerate(phdrs):
        out[_EHDR.size + i * _PHDR.size : _EHDR.size + (i + 1) * _PHDR.size] = p
    return bytes(out)
