//! What every QEMU program of this crate shares (`qemu`, `qemu-vector`): ending the emulation
//! with a status, and a HardFault handler that reports and ends it too (the default handler
//! would spin forever and hang the QEMU run). Included by path, `#[path =
//! "common/semihosting.rs"] mod semihosting;`.

use cortex_m_semihosting::debug;

/// Ends the emulation: exit status 0 for `Ok`, 1 otherwise.
pub fn exit(result: Result<(), ()>) -> ! {
    debug::exit(match result {
        Ok(()) => debug::EXIT_SUCCESS,
        Err(()) => debug::EXIT_FAILURE,
    });
    loop {
        cortex_m::asm::wfi();
    }
}

/// The HardFault handler.
#[allow(unsafe_code)]
mod fault {
    use cortex_m_rt::{ExceptionFrame, exception};
    use cortex_m_semihosting::{debug, hprintln};

    // SAFETY: cortex-m-rt requires a HardFault handler to be an `unsafe fn`; this one only
    // reports the faulting address through semihosting and exits.
    #[exception]
    unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
        hprintln!("hardfault pc {:#010x}", frame.pc());
        debug::exit(debug::EXIT_FAILURE);
        loop {
            cortex_m::asm::wfi();
        }
    }
}
