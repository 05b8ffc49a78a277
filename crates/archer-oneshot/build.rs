//! libtorch's folder (reported by torch-sys) becomes the run-time search path of this crate's
//! tests, and is passed on (`links` metadata) to dependent crates' build scripts.
fn main() {
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        return;
    };
    let lib = std::fs::canonicalize(&lib).unwrap_or_else(|_| lib.into());
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    println!("cargo:libtorch_lib={}", lib.display());
}
