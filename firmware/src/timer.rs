//! The Cortex-M timers a board can give the application ([`crate::app::Timer`]): the DWT cycle
//! counter (Cortex-M3, M4, M7, M33) and SysTick (every core, the only one on an M0/M0+).
//!
//! Built with the `cortex-m` feature only. QEMU models no DWT cycle counter (it reads 0), so the
//! emulated boards time with SysTick; under `-icount shift=0` its ticks convert exactly to
//! instructions.

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
#[cfg(not(fmlp_armv6m))]
use cortex_m::peripheral::{DCB, DWT};

use crate::app::Timer;

/// DWT CYCCNT: counts core cycles up, wrapping at 2^32 (26 s at 168 MHz). Not on the
/// Cortex-M0/M0+ (Armv6-M has no cycle counter).
#[cfg(not(fmlp_armv6m))]
#[derive(Debug)]
pub struct DwtCycles<const HZ: u32>(());

#[cfg(not(fmlp_armv6m))]
impl<const HZ: u32> DwtCycles<HZ> {
    /// Enables tracing and starts the cycle counter; `HZ` is the core clock.
    pub fn start(dcb: &mut DCB, dwt: &mut DWT) -> Self {
        dcb.enable_trace();
        DWT::unlock();
        dwt.set_cycle_count(0);
        dwt.enable_cycle_counter();
        DwtCycles(())
    }
}

#[cfg(not(fmlp_armv6m))]
impl<const HZ: u32> Timer for DwtCycles<HZ> {
    const NAME: &'static str = "dwt_cycles";
    const HZ: u32 = HZ;
    fn now(&mut self) -> u32 {
        DWT::cycle_count()
    }
    fn since(&mut self, start: u32) -> u32 {
        DWT::cycle_count().wrapping_sub(start)
    }
}

/// SysTick on the core clock, counting down from 2^24 − 1 and wrapping; `HZ` is the core clock.
/// Owns the peripheral, so nothing else reprograms it.
pub struct SysTick<const HZ: u32>(#[allow(dead_code)] SYST);

impl<const HZ: u32> core::fmt::Debug for SysTick<HZ> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SysTick")
    }
}

/// SysTick's reload value: the full 24 bits, far more ticks than one classification takes.
const SYSTICK_RELOAD: u32 = 0x00FF_FFFF;

impl<const HZ: u32> SysTick<HZ> {
    /// Starts SysTick free-running on the core clock.
    pub fn start(mut syst: SYST) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(SYSTICK_RELOAD);
        syst.clear_current();
        syst.enable_counter();
        SysTick(syst)
    }
}

impl<const HZ: u32> Timer for SysTick<HZ> {
    const NAME: &'static str = "systick";
    const HZ: u32 = HZ;
    fn now(&mut self) -> u32 {
        SYST::get_current()
    }
    fn since(&mut self, start: u32) -> u32 {
        // Counts down; one call takes far fewer than 2^24 ticks, so one wrap at most.
        start.wrapping_sub(SYST::get_current()) & SYSTICK_RELOAD
    }
}
