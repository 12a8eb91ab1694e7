//! Atomics and cells for code shared between cores: `loom`'s model-checked versions
//! under `cfg(loom)`, `core`'s otherwise, so `RUSTFLAGS="--cfg loom"` checks the real
//! code. Cross-core protocols (the ring, the page-state hand-off) import from here;
//! this module holds no protocol of its own.

#[cfg(loom)]
pub use loom::sync::atomic::{
    AtomicBool, AtomicU8, AtomicU16, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};

#[cfg(not(loom))]
pub use core::sync::atomic::{
    AtomicBool, AtomicU8, AtomicU16, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};

/// Interior-mutable cell for data handed between cores by an atomic protocol. Under
/// loom every access is checked for data races, which is what catches a missing
/// Acquire/Release; otherwise it is `core::cell::UnsafeCell` with loom's API.
#[cfg(loom)]
pub use loom::cell::UnsafeCell;

/// Interior-mutable cell for data handed between cores by an atomic protocol
/// (`core::cell::UnsafeCell` behind loom's closure-based API).
#[cfg(not(loom))]
#[derive(Debug)]
pub struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    /// A cell holding `value`.
    pub const fn new(value: T) -> Self {
        Self(core::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a pointer for reading the contents.
    #[inline(always)]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a pointer for writing the contents.
    #[inline(always)]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Declares a function `const` except under loom, whose atomics are built at run time.
/// Statics in the kernel need the `const` version.
macro_rules! const_fn_unless_loom {
    ($(#[$attr:meta])* $vis:vis fn $($rest:tt)*) => {
        #[cfg(not(loom))]
        $(#[$attr])*
        $vis const fn $($rest)*

        #[cfg(loom)]
        $(#[$attr])*
        $vis fn $($rest)*
    };
}
pub(crate) use const_fn_unless_loom;

/// `[expr; N]` for a non-`Copy` `expr`, in const context except under loom.
#[cfg(not(loom))]
macro_rules! array_of {
    ($e:expr; $n:expr) => {
        [const { $e }; $n]
    };
}
#[cfg(loom)]
macro_rules! array_of {
    ($e:expr; $n:expr) => {
        core::array::from_fn(|_| $e)
    };
}
pub(crate) use array_of;
