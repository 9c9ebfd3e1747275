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
}
