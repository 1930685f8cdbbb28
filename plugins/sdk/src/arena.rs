//! The SDK's allocator on wasm: a bump arena in the plugin's initial memory.
//!
//! The gateway runs every call on a fresh instance and throws it away after,
//! so nothing needs freeing within a call. Allocating from a static arena is
//! a pointer bump, and (more to the point) never grows linear memory: each
//! `memory.grow` costs the host two `mprotect` calls, one to grow and one to
//! reset the slot for the next call. What does not fit in the arena comes
//! from the standard allocator, which grows memory as usual, so a plugin is
//! limited by its memory limit, not by the arena.
//!
//! The arena lives in `.bss`: it makes the module's initial memory larger
//! but adds nothing to the file. Plugins that want their own allocator turn
//! off the SDK's default `arena` feature.

#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
compile_error!("the SDK's arena allocator is for single-threaded wasm; turn off the `arena` feature");

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::alloc::System;

/// Bytes in the arena: enough for a few large resources per call.
const SIZE: usize = 4 << 20;

#[repr(C, align(16))]
struct Arena(UnsafeCell<[u8; SIZE]>);

// SAFETY: plugins are single-threaded wasm (a threaded target is refused
// above) or, natively, the one test that touches the arena; it is only
// reached through `Bump`, which hands out disjoint ranges.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([0; SIZE]));
/// Offset of the first free byte; allocations below it are live or dead,
/// never reused except by growing the last one in place.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The global allocator of plugins built with the SDK on wasm.
pub struct Bump;

impl Bump {
    fn base() -> usize {
        ARENA.0.get() as usize
    }

    /// The arena's pointer `offset` bytes in (keeping its provenance).
    fn at(offset: usize) -> *mut u8 {
        ARENA.0.get().cast::<u8>().wrapping_add(offset)
    }

    fn owns(ptr: *mut u8) -> bool {
        let p = ptr as usize;
        p >= Self::base() && p < Self::base() + SIZE
    }

    /// A range of `layout` in the arena, if it fits.
    fn bump(layout: Layout) -> Option<*mut u8> {
        let next = NEXT.load(Ordering::Relaxed);
        // An alignment is a power of two: rounding up is a mask (no division).
        let mask = layout.align() - 1;
        let start = (Self::base() + next).checked_add(mask)? & !mask;
        let end = start.checked_add(layout.size())?;
        if end > Self::base() + SIZE {
            return None;
        }
        NEXT.store(end - Self::base(), Ordering::Relaxed);
        Some(Self::at(start - Self::base()))
    }

    /// Whether `ptr` (of `size` bytes) is the arena's last allocation.
    fn is_last(ptr: *mut u8, size: usize) -> bool {
        ptr as usize + size == Self::base() + NEXT.load(Ordering::Relaxed)
    }
}

// SAFETY: every pointer returned is either a range of the arena no other
// live allocation overlaps (bumped past, and only ever extended in place
// when it is the last one) or comes from `System`; `dealloc` and `realloc`
// tell the two apart by address and send `System`'s back to it.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout goes to System unchanged.
        Self::bump(layout).unwrap_or_else(|| unsafe { System.alloc(layout) })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if Self::owns(ptr) {
            // The last allocation gives its bytes back; others stay until
            // the instance is dropped.
            if Self::is_last(ptr, layout.size()) {
                NEXT.store(ptr as usize - Self::base(), Ordering::Relaxed);
            }
            return;
        }
        // SAFETY: not the arena's, so System's, with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if Self::owns(ptr) && Self::is_last(ptr, layout.size()) {
            let end = (ptr as usize).saturating_add(new_size);
            if end <= Self::base() + SIZE {
                NEXT.store(end - Self::base(), Ordering::Relaxed);
                return ptr;
            }
        }
        if !Self::owns(ptr) {
            // SAFETY: System's allocation, with its layout.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: `new_size` is valid for `layout.align()` (GlobalAlloc's
        // contract); the old range stays readable while it is copied.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let new = self.alloc(new_layout);
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            }
            new
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the arena is a static, and tests run in parallel.
    #[test]
    fn bumps_aligns_grows_in_place_and_falls_back() {
        let a = Bump;
        // SAFETY: layouts are valid and every pointer goes back with its own.
        unsafe {
            let l8 = Layout::from_size_align(10, 8).unwrap();
            let p1 = a.alloc(l8);
            let p2 = a.alloc(Layout::from_size_align(3, 1).unwrap());
            let p3 = a.alloc(Layout::from_size_align(32, 16).unwrap());
            assert!(Bump::owns(p1) && Bump::owns(p2) && Bump::owns(p3));
            assert_eq!(p1 as usize % 8, 0);
            assert_eq!(p3 as usize % 16, 0);
            assert!(p2 as usize >= p1 as usize + 10 && p3 as usize >= p2 as usize + 3, "disjoint");

            // The last allocation grows in place; others move, contents kept.
            let l16 = Layout::from_size_align(32, 16).unwrap();
            assert_eq!(a.realloc(p3, l16, 64), p3);
            p1.write_bytes(7, 10);
            let moved = a.realloc(p1, l8, 20);
            assert_ne!(moved, p1);
            assert_eq!(std::slice::from_raw_parts(moved, 10), [7u8; 10]);

            // Freeing the last allocation gives its bytes back; freeing
            // another keeps them (no reuse, so no overlap).
            let l20 = Layout::from_size_align(20, 8).unwrap();
            a.dealloc(moved, l20);
            assert_eq!(a.alloc(l20), moved);
            a.dealloc(p2, Layout::from_size_align(3, 1).unwrap());
            let next = a.alloc(Layout::from_size_align(3, 1).unwrap());
            assert!(next as usize >= moved as usize + 20, "a freed middle range is not handed out again");

            // Shrinking the last allocation in place frees its tail.
            let l64 = Layout::from_size_align(64, 8).unwrap();
            let s = a.alloc(l64);
            assert_eq!(a.realloc(s, l64, 8), s);
            let after = a.alloc(Layout::from_size_align(1, 1).unwrap());
            assert_eq!(after as usize, s as usize + 8);

            // What does not fit comes from the system allocator.
            let big = Layout::from_size_align(SIZE + 1, 8).unwrap();
            let p = a.alloc(big);
            assert!(!p.is_null() && !Bump::owns(p));
            let p = a.realloc(p, big, SIZE + 100);
            assert!(!Bump::owns(p));
            a.dealloc(p, Layout::from_size_align(SIZE + 100, 8).unwrap());
        }
    }
}
