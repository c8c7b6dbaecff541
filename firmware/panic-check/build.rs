//! Links with cortex-m-rt's `link.x` and the firmware's memory map for the target (the
//! mps2-an386 map for thumbv7em, the microbit's for thumbv6m).

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    let memory = if target.starts_with("thumbv6m-") {
        "../memory-microbit.x"
    } else {
        "../memory.x"
    };
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::copy(memory, out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed={memory}");
    println!("cargo:rerun-if-changed=build.rs");
}
