//! The [`Engine`] on QEMU for a model of any input and output width, fed f32 vectors: the
//! device side of the non-image example (a 13-feature wine classifier imported from ONNX; see
//! the README's "Bring your own model"). The model and the rows come from `build.rs`:
//! `FMLP_MODEL` and `FMLP_INPUTS` (little-endian f32, one row of the model's input width after
//! another), on the machines of `src/bin/qemu.rs`:
//!
//! ```text
//! FMLP_MODEL=$PWD/wine.fmlp FMLP_INPUTS=$PWD/tests/fixtures/import/torch_wine.in.f32 \
//!     cargo run --release -p firmware --features board --target thumbv7em-none-eabihf \
//!     --bin qemu-vector
//! ```
//!
//! Output, one record per line:
//!
//! ```text
//! engine <variant> inputs <N> outputs <M> kind <values|probabilities> rows <R> scratch <bytes>
//! row <index> raw <M × f32::to_bits, 8 hex digits> out <M × bits> class <argmax> ticks <t>
//! mem static_ram <B> stack <B>
//! error <why the model or a row was refused>
//! ```
//!
//! `raw` is [`Engine::run_f32`] (the last layer's values), `out` [`Engine::outputs_from`] them
//! (the model's outputs as its last activation defines them, what [`Engine::predict_f32`]
//! gives). Exit status 0 when every row ran.
#![no_std]
#![no_main]

use core::fmt::Write;

use cortex_m_rt::entry;
use cortex_m_semihosting::hio;
use firmware::app::Timer;
use firmware::softmax::argmax;
use firmware::timer::SysTick;
use firmware::{Engine, Outputs, Scratch};
use heapless::String;
use panic_semihosting as _;

/// The model and the build's constants.
#[path = "common/embedded.rs"]
mod embedded;
use embedded::{Aligned, CORE_CLOCK_HZ, MODEL, VECTOR_CAP, VECTOR_IN, VECTOR_OUT, VECTOR_ROWS};

/// `VECTOR_ROWS` rows of `VECTOR_IN` little-endian f32; the type checks the file length.
static INPUTS: &Aligned<[u8; VECTOR_ROWS * VECTOR_IN * 4]> =
    &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/inputs.bin")));

type Line = String<512>;

#[entry]
fn main() -> ! {
    semihosting::exit(start())
}

fn start() -> Result<(), ()> {
    let mut out = hio::hstdout()?;
    let mut timer = SysTick::<CORE_CLOCK_HZ>::start(cortex_m::Peripherals::take().ok_or(())?.SYST);
    let mut line = Line::new();
    let engine = match Engine::<VECTOR_IN, VECTOR_OUT, VECTOR_CAP>::new(&MODEL.0) {
        Ok(engine) => engine,
        Err(e) => {
            let _ = writeln!(line, "error {e}");
            out.write_all(line.as_bytes())?;
            return Err(());
        }
    };
    let kind = match engine.outputs() {
        Outputs::Values => "values",
        Outputs::Probabilities => "probabilities",
    };
    let mut scratch = Scratch::<VECTOR_CAP>::new();
    writeln!(
        line,
        "engine {} inputs {VECTOR_IN} outputs {VECTOR_OUT} kind {kind} rows {VECTOR_ROWS} scratch {}",
        engine.model().variant(),
        size_of::<Scratch<VECTOR_CAP>>()
    )
    .map_err(drop)?;
    out.write_all(line.as_bytes())?;
    // Aligned to 4 and a whole number of f32 (the type says so): the cast cannot fail.
    let words: &[f32] = bytemuck::try_cast_slice(&INPUTS.0).map_err(drop)?;
    for (index, row) in words.as_chunks::<VECTOR_IN>().0.iter().enumerate() {
        line.clear();
        let start = timer.now();
        let ran = engine
            .run_f32(row, &mut scratch)
            .map(|raw| (raw, engine.outputs_from(raw)));
        let ticks = timer.since(start);
        match ran {
            Ok((raw, values)) => {
                write!(line, "row {index} raw").map_err(drop)?;
                for v in raw {
                    write!(line, " {:08x}", v.to_bits()).map_err(drop)?;
                }
                line.push_str(" out").map_err(drop)?;
                for v in values {
                    write!(line, " {:08x}", v.to_bits()).map_err(drop)?;
                }
                writeln!(line, " class {} ticks {ticks}", argmax(&raw)).map_err(drop)?;
                out.write_all(line.as_bytes())?;
            }
            Err(e) => {
                writeln!(line, "error row {index}: {e}").map_err(drop)?;
                out.write_all(line.as_bytes())?;
                return Err(());
            }
        }
    }
    line.clear();
    let s = rt::sections();
    writeln!(
        line,
        "mem static_ram {} stack {}",
        s.static_ram,
        rt::stack_high_water()
    )
    .map_err(drop)?;
    out.write_all(line.as_bytes())
}

/// The program's raw memory access (linker symbols, the stack scan), shared with the board
/// crates.
#[path = "../../boards/common/src/rt.rs"]
#[allow(dead_code)]
mod rt;

/// Exit status and the HardFault handler, shared by the QEMU programs.
#[path = "common/semihosting.rs"]
mod semihosting;
