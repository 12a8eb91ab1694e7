//! Device register frames reached with volatile loads and stores (`MmioFrame`): the
//! real `kernel::gic::Mmio` accessor the GIC, the console UARTs and PCI config space use.
//! Owns no device; what a frame holds is its driver's business.

use kernel::gic::Mmio;

/// A register frame at a fixed address, reached with volatile loads and stores. Plain
/// address inside, so it can live in a static shared by every core (whoever shares one
/// says why no two cores race on a read-modify-write).
pub struct MmioFrame {
    base: usize,
    size: usize,
}

impl MmioFrame {
    /// # Safety
    /// `base..base + size` must be a device's register frame, mapped as device memory
    /// for the kernel's lifetime and accessed through nothing else.
    pub unsafe fn new(base: u64, size: u64) -> Self {
        Self {
            base: base as usize,
            size: size as usize,
        }
    }

    /// The register of type `T` at `offset`, checked to lie in the frame, aligned.
    fn register<T>(&self, offset: usize) -> *mut T {
        assert!(
            offset + size_of::<T>() <= self.size && offset.is_multiple_of(align_of::<T>()),
            "register {offset:#x} outside its {:#x}-byte frame",
            self.size
        );
        (self.base + offset) as *mut T
    }
}

/// Each access is one volatile load or store of the register's width, as device
/// registers (the GIC's, a 16550's) require.
impl Mmio for MmioFrame {
    fn read_u8(&self, offset: usize) -> u8 {
        // SAFETY: `register` keeps the access in the frame and aligned; `new`'s caller
        // vouched for the frame being mapped device memory only its driver touches.
        unsafe { self.register::<u8>(offset).read_volatile() }
    }

    fn read_u32(&self, offset: usize) -> u32 {
        // SAFETY: `register` keeps the access in the frame and aligned; `new`'s caller
        // vouched for the frame being mapped device memory only its driver touches.
        unsafe { self.register::<u32>(offset).read_volatile() }
    }

    fn read_u64(&self, offset: usize) -> u64 {
        // SAFETY: `register` keeps the access in the frame and aligned; `new`'s caller
        // vouched for the frame being mapped device memory only its driver touches.
        unsafe { self.register::<u64>(offset).read_volatile() }
    }

    fn write_u8(&self, offset: usize, value: u8) {
        // SAFETY: `register` keeps the access in the frame and aligned; `new`'s caller
        // vouched for the frame being mapped device memory only its driver touches.
        unsafe { self.register::<u8>(offset).write_volatile(value) }
    }

    fn write_u32(&self, offset: usize, value: u32) {
        // SAFETY: `register` keeps the access in the frame and aligned; `new`'s caller
        // vouched for the frame being mapped device memory only its driver touches.
        unsafe { self.register::<u32>(offset).write_volatile(value) }
    }

    fn write_u64(&self, offset: usize, value: u64) {
        // SAFETY: `register` keeps the access in the frame and aligned; `new`'s caller
        // vouched for the frame being mapped device memory only its driver touches.
        unsafe { self.register::<u64>(offset).write_volatile(value) }
    }
}
