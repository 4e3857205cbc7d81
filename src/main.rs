fn main() {
    kpsa::interrupt::install();
    kpsa::interrupt::remove_stale();
    let code = kpsa::cli::run(std::env::args());
    kpsa::interrupt::check();
    std::process::exit(code);
}
