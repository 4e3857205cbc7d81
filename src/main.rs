fn main() {
    kpsa::interrupt::install();
    std::process::exit(kpsa::cli::run(std::env::args()));
}
