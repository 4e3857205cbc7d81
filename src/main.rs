fn main() {
    kpsa::interrupt::install();
    let code = kpsa::cli::run(std::env::args());
    kpsa::interrupt::check();
    std::process::exit(code);
}
