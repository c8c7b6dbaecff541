//! Models drawn from an `arbitrary` description (`model_format_fuzz::generate::Desc`): written
//! by the host encoder and by the independent writer of `model_format_fuzz::wire`, which must
//! agree byte for byte (or both be refused), then edited as a hostile file would be (32-bit
//! size overflows, bad tags, counts, offsets, quantizations, data words) and resealed. Every
//! file goes through `model_format_fuzz::check`, which classifies each accepted model.
#![no_main]

use firmware::model_format::{AlignedBytes, Model};
use libfuzzer_sys::fuzz_target;
use model_format_fuzz::generate::{Desc, apply};

fuzz_target!(|desc: Desc| {
    let built = desc.build();
    let images = desc.pixels();
    let (header, data) = built.write();
    let written = model_format_fuzz::wire::file(header.version, &header.encode(), &data);
    match built.encode() {
        Ok(encoded) => assert_eq!(encoded, written, "the two writers disagree"),
        Err(e) => {
            let ours = AlignedBytes::from_slice(&written);
            assert!(
                Model::from_bytes(&ours).is_err(),
                "encode refused ({e}) what the reader accepts"
            );
        }
    }
    model_format_fuzz::check(&written, &images);
    if desc.edits.is_empty() {
        return;
    }
    let (edited, flipped) = apply(&desc.edits, header, data);
    if flipped {
        let decoded = AlignedBytes::from_slice(&edited);
        assert!(
            Model::from_bytes(&decoded).is_err(),
            "a flipped bit was accepted"
        );
    }
    model_format_fuzz::check(&edited, &images);
});
