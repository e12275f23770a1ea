package import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Tells ThreadSanitizer about the hand-offs between threads that it cannot see by itself, when
/// the process runs under it (`scripts/test --tsan`); otherwise each call is a load and a
/// branch.
///
/// Why: under Swift 6.3 on Linux, TSan reports two kinds of hand-off as data races although they
/// order the threads' accesses, and the package makes both on every query:
/// - `Synchronization.Mutex` waits on a bare `futex`, which TSan does not intercept, so a value
///   put into a mutex on one thread and taken out on another looks unsynchronized;
/// - a continuation resumed on a thread of our own (the pool's I/O thread): what that thread
///   wrote before `resume` looks unsynchronized with what the resumed task reads.
/// Both reproduce in programs of twenty lines without any race (Swift 6.3.1, 2026-12-03).
/// With the hand-offs announced through `__tsan_release` and `__tsan_acquire`, which the TSan
/// runtime exports, what TSan still reports is worth reading. One hand-off happens inside the
/// standard library, where no announcement of ours can reach: the awaiting task reusing the
/// frame memory that the resumer's `resume` read. `scripts/tsan-suppressions.txt` names it.
package enum ThreadSanitizer {
    private typealias Hook = @convention(c) (UnsafeRawPointer?) -> Void

    private struct Hooks {
        let acquire: Hook
        let release: Hook
    }

    /// The TSan runtime's entry points, or `nil` when the process does not run under TSan.
    private static let hooks: Hooks? = {
        // A nil handle is RTLD_DEFAULT: the executable and every library loaded.
        guard let acquire = dlsym(nil, "__tsan_acquire"), let release = dlsym(nil, "__tsan_release") else { return nil }
        return Hooks(acquire: unsafeBitCast(acquire, to: Hook.self), release: unsafeBitCast(release, to: Hook.self))
    }()

    /// What this thread wrote so far happens before whatever a thread does after it calls
    /// ``acquire(_:)`` with the same object.
    @inline(__always)
    package static func release(_ object: AnyObject) {
        if let hooks { hooks.release(UnsafeRawPointer(Unmanaged.passUnretained(object).toOpaque())) }
    }

    /// The counterpart of ``release(_:)``.
    @inline(__always)
    package static func acquire(_ object: AnyObject) {
        if let hooks { hooks.acquire(UnsafeRawPointer(Unmanaged.passUnretained(object).toOpaque())) }
    }
}

extension Mutex where Value: ~Copyable {
    /// `withLock`, announced to ThreadSanitizer under `owner` (the object that holds the mutex).
    @inline(__always)
    package borrowing func withLock<Result: ~Copyable, E: Error>(
        announcingTo owner: AnyObject, _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        try withLock { (value: inout sending Value) throws(E) -> sending Result in
            ThreadSanitizer.acquire(owner)
            defer { ThreadSanitizer.release(owner) }
            return try body(&value)
        }
    }
}
