//! Small but valid PE images built in code, for tests and the start-up proof.

use super::{
    align_up, checksum, put32, COFF_HEADER_LEN, PE32, PE32_PLUS, PE_MAGIC, SECTION_HEADER_LEN,
};

/// A minimal but valid x86-64 PE32+ console executable with the given sections (name, data),
/// for tests and the start-up proof. The first section should be `.text`: the entry point is its
/// first byte. `31 c0 c3` (`xor eax, eax; ret`) makes a program that exits with status 0.
pub fn build_minimal_pe(sections: &[(&str, &[u8])]) -> Vec<u8> {
    build(sections, true)
}

/// The same as a 32-bit (i386) PE32 image, whose optional header is shorter: its Certificate
/// Table entry sits 16 bytes earlier.
pub fn build_minimal_pe32(sections: &[(&str, &[u8])]) -> Vec<u8> {
    build(sections, false)
}

fn build(sections: &[(&str, &[u8])], plus: bool) -> Vec<u8> {
    const FILE_ALIGN: usize = 0x200;
    const SECTION_ALIGN: usize = 0x1000;
    const LFANEW: usize = 0x40;
    let opt_len: usize = if plus { 240 } else { 224 };
    let opt = LFANEW + 4 + COFF_HEADER_LEN;
    let headers_len = align_up(
        opt + opt_len + SECTION_HEADER_LEN * sections.len(),
        FILE_ALIGN,
    );

    let mut layout = Vec::with_capacity(sections.len());
    let (mut raw_at, mut rva) = (headers_len, SECTION_ALIGN);
    for (_, data) in sections {
        let raw_len = align_up(data.len(), FILE_ALIGN);
        layout.push((rva, raw_at, raw_len));
        raw_at += raw_len;
        rva += align_up(data.len().max(1), SECTION_ALIGN);
    }
    let image_size = rva;
    let mut out = vec![0u8; raw_at];
    out[..2].copy_from_slice(b"MZ");
    put32(&mut out, 0x3c, LFANEW as u32);
    out[LFANEW..LFANEW + 4].copy_from_slice(PE_MAGIC);
    let coff = LFANEW + 4;
    let put16 =
        |out: &mut [u8], at: usize, v: u16| out[at..at + 2].copy_from_slice(&v.to_le_bytes());
    put16(&mut out, coff, if plus { 0x8664 } else { 0x014c }); // AMD64 or i386
    put16(&mut out, coff + 2, sections.len() as u16);
    put16(&mut out, coff + 16, opt_len as u16);
    // EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE, or EXECUTABLE_IMAGE | 32BIT_MACHINE
    put16(&mut out, coff + 18, if plus { 0x0022 } else { 0x0102 });

    put16(&mut out, opt, if plus { PE32_PLUS } else { PE32 });
    out[opt + 2] = 14; // linker version
    let code: usize = layout.first().map_or(0, |(_, _, len)| *len);
    put32(&mut out, opt + 4, code as u32);
    put32(&mut out, opt + 8, (raw_at - headers_len - code) as u32);
    put32(&mut out, opt + 16, SECTION_ALIGN as u32); // entry point: the first section
    put32(&mut out, opt + 20, SECTION_ALIGN as u32); // base of code
    if plus {
        out[opt + 24..opt + 32].copy_from_slice(&0x1_4000_0000u64.to_le_bytes());
    } else {
        put32(&mut out, opt + 28, 0x40_0000); // image base (BaseOfData at +24 stays 0)
    }
    put32(&mut out, opt + 32, SECTION_ALIGN as u32);
    put32(&mut out, opt + 36, FILE_ALIGN as u32);
    put16(&mut out, opt + 40, 6); // OS version 6.0
    put16(&mut out, opt + 48, 6); // subsystem version 6.0
    put32(&mut out, opt + 56, image_size as u32);
    put32(&mut out, opt + 60, headers_len as u32);
    put16(&mut out, opt + 68, 3); // console
                                  // (high-entropy VA,) dynamic base, NX, terminal-server aware
    put16(&mut out, opt + 70, if plus { 0x8160 } else { 0x8140 });
    // Stack and heap reserve / commit: u64 fields in PE32+, u32 in PE32.
    let width = if plus { 8 } else { 4 };
    for (i, v) in [0x10_0000u64, 0x1000, 0x10_0000, 0x1000]
        .into_iter()
        .enumerate()
    {
        let at = opt + 72 + width * i;
        out[at..at + width].copy_from_slice(&v.to_le_bytes()[..width]);
    }
    put32(&mut out, opt + if plus { 108 } else { 92 }, 16);

    for (i, ((name, data), (rva, raw_at, raw_len))) in sections.iter().zip(&layout).enumerate() {
        let h = opt + opt_len + SECTION_HEADER_LEN * i;
        let name = name.as_bytes();
        out[h..h + name.len().min(8)].copy_from_slice(&name[..name.len().min(8)]);
        put32(&mut out, h + 8, data.len() as u32);
        put32(&mut out, h + 12, *rva as u32);
        put32(&mut out, h + 16, *raw_len as u32);
        put32(&mut out, h + 20, *raw_at as u32);
        let flags: u32 = if i == 0 { 0x6000_0020 } else { 0x4000_0040 };
        put32(&mut out, h + 36, flags);
        out[*raw_at..*raw_at + data.len()].copy_from_slice(data);
    }
    let sum = checksum(&out, opt + 64);
    put32(&mut out, opt + 64, sum);
    out
}
