//! Print the BPF program hezi compiles for a `linux.seccomp` JSON file.
//!
//! `cargo run -p hezi-seccomp --example dump -- profile.json`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: dump PROFILE.json")?;
    let profile = hezi_seccomp::parse_profile(&std::fs::read(&path)?)?;
    let filter = hezi_seccomp::compile(&profile)?;
    print!("{}", hezi_seccomp::bpf::disassemble(filter.instructions()));
    eprintln!(
        "{} instructions, flags {:#x}",
        filter.instructions().len(),
        filter.flags()
    );
    Ok(())
}
