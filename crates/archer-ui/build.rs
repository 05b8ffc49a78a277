//! With the `train` feature, libtorch's folder (from archer-train) becomes the run-time
//! search path of this crate's binaries and tests: no LD_LIBRARY_PATH needed.
fn main() {
    if let Ok(lib) = std::env::var("DEP_ARCHER_TORCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}
