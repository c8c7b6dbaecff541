//! Arbitrary bytes straight into the decoder: almost all stop at the preamble or the CRC, which
//! is what this target is for (the `resealed` target gets past them).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    model_format_fuzz::check(data, &model_format_fuzz::images(data));
});
