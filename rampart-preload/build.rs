//! Compiles the C shim (the variadic entry points) into the library and
//! limits the exported symbols to the hooks with a version script.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=src/shim.c");
    println!("cargo:rerun-if-changed=src/exports.map");
    cc::Build::new()
        .file("src/shim.c")
        .flag("-fvisibility=hidden")
        .flag("-fno-stack-protector")
        .warnings(true)
        .extra_warnings(true)
        // Nothing in Rust refers to the shim: keep every hook it defines.
        .link_lib_modifier("+whole-archive")
        .compile("rampart_preload_shim");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/src/exports.map");
    link_unwinder_statically();
    // Loaded into every process at every exec: bind our imports lazily
    // (most are never called) and pack relative relocations (DT_RELR).
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,lazy");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,pack-relative-relocs");
}

/// std's panic runtime needs an unwinder; taking it from libgcc_eh.a
/// (hidden symbols, linked in) spares every watched process from loading
/// libgcc_s.so.1 at each exec (the linker's --as-needed then drops it).
fn link_unwinder_statically() {
    let compiler = cc::Build::new().get_compiler();
    let Ok(out) = std::process::Command::new(compiler.path())
        .arg("-print-file-name=libgcc_eh.a")
        .output()
    else {
        return;
    };
    let path = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if let (true, Some(dir)) = (path.is_absolute() && path.exists(), path.parent()) {
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-lib=static:+whole-archive=gcc_eh");
    }
}
