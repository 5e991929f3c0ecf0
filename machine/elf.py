"""Read and write static ELF64 EM_ALPHA executables.

Small on purpose: the loader needs PT_LOAD segments, the entry point and the
symbol table (for disassembly labels); the assembler needs to write the same.
Every malformation is an ``ElfError`` whose message says what and where.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

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
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ElfError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ElfError(f"{path}: is a directory, not an ELF file") from None
    except OSError as e:
        raise ElfError(f"{path}: cannot read: {e.strerror}") from None
    return parse_elf(data, str(path))


def parse_elf(data: bytes, name: str = "<elf>") -> ElfImage:
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
        if off <= phoff < off + filesz and not phdr_vaddr:
            phdr_vaddr = vaddr + phoff - off
        segments.append(Segment(vaddr, memsz, flags, data[off : off + filesz]))
    if not segments:
        raise ElfError(f"{name}: no PT_LOAD segments; nothing to load")
    img = ElfImage(entry, segments, phdr_vaddr=phdr_vaddr, phnum=phnum)
    if shnum and shentsize == _SHDR.size and shoff + shnum * _SHDR.size <= len(data):
        _read_sections(img, data, shoff, shnum, shstrndx)
    return img


def _cstr(data: bytes, off: int) -> str:
    end = data.find(b"\0", off)
    return data[off : end if end >= 0 else len(data)].decode("latin-1")


def _read_sections(img: ElfImage, data: bytes, shoff: int, shnum: int, shstrndx: int) -> None:
    raw = [_SHDR.unpack_from(data, shoff + i * _SHDR.size) for i in range(shnum)]
    if not 0 <= shstrndx < shnum:
        return
    strtab_off = raw[shstrndx][4]
    names = []
    for sh in raw:
        nm, kind, flags, addr, off, size = sh[0], sh[1], sh[2], sh[3], sh[4], sh[5]
        name = _cstr(data, strtab_off + nm) if strtab_off + nm < len(data) else "?"
        names.append(name)
        body = data[off : off + size] if kind != SHT_NOBITS else b""
        img.sections.append(Section(name, addr, size, flags, kind, body))
    for sh in raw:
        if sh[1] != SHT_SYMTAB or sh[9] != _SYM.size:
            continue
        link = sh[6]
        if not 0 <= link < len(raw):
            continue
        stroff = raw[link][4]
        for j in range(sh[5] // _SYM.size):
            nm, info, _other, shndx, value, size = _SYM.unpack_from(data, sh[4] + j * _SYM.size)
            if j == 0 or stroff + nm >= len(data):
                continue
            sec = names[shndx] if 0 < shndx < len(names) else ""
            img.symbols.append(Symbol(_cstr(data, stroff + nm), value, size, info & 15, info >> 4, sec))


def write_elf(path: str | Path, entry: int, sections: list[Section], symbols: list[Symbol]) -> None:
    """Write a static executable: one PT_LOAD per allocated section, plus
    section headers and a symbol table so objdump and our disassembler label it."""
    Path(path).write_bytes(build_elf(entry, sections, symbols))


def build_elf(entry: int, sections: list[Section], symbols: list[Symbol]) -> bytes:
    alloc = [s for s in sections if s.flags & SHF_ALLOC and (s.size or s.data)]
    phnum = len(alloc)
    out = bytearray(_EHDR.size + phnum * _PHDR.size)
    offsets: dict[str, int] = {}
    phdrs = []
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
    for s in ordered:
        syms += _SYM.pack(
            add(strtab, s.name), (s.bind << 4) | s.kind, 0, sec_index.get(s.section, 0xFFF1), s.value, s.size
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
