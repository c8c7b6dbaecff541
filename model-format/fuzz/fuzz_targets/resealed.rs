//! Mutated files with their length, padding and CRC-32 made right again
//! (`model_format_fuzz::reseal_file`), so every mutation reaches the header decoder and the
//! semantic checks behind it. Best started from the seed corpus (`model-format/fuzz/seeds`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let file = model_format_fuzz::reseal_file(data);
    model_format_fuzz::check(&file, &model_format_fuzz::images(data));
});
