import Logging
import PGClient

extension SessionStore {
    /// Deletes expired rows every `interval` until the calling task is cancelled or the store's
    /// pool is closed; for task groups and services. Other failures are logged and the loop goes
    /// on.
    ///
    /// - Parameter interval: the pause between runs.
    public nonisolated func runCleanup(interval: Duration) async {
        while !Task.isCancelled {
            do {
                let deleted = try await deleteExpired()
                await logCleanup(deleted: deleted, error: nil)
            } catch is CancellationError {
                return
            } catch let error as PGError where error.code == .poolClosed {
                // A closed pool never opens again: retrying would log a failure every interval,
                // and keep the store alive, until someone cancelled the cleanup.
                await logCleanupEnd()
                return
            } catch {
                await logCleanup(deleted: 0, error: error)
            }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }

    /// Starts ``runCleanup(interval:)`` in a task of its own and returns its handle; cancel the
    /// handle (or call ``CleanupTask/stop()``) to stop it. It also stops by itself once the
    /// store's pool is closed (``close()``).
    ///
    /// - Parameter interval: the pause between runs.
    /// - Returns: the handle of the running cleanup.
    public nonisolated func startCleanup(interval: Duration) -> CleanupTask {
        CleanupTask(task: Task { await self.runCleanup(interval: interval) })
    }

    private func logCleanupEnd() {
        cleanupLogger.debug("session cleanup stops: the connection pool is closed")
    }

    private func logCleanup(deleted: Int, error: (any Error)?) {
        if let error {
            cleanupLogger.error("session cleanup failed; will retry", metadata: ["error": "\(error)"])
        } else if deleted > 0 {
            cleanupLogger.debug("deleted expired sessions", metadata: ["count": "\(deleted)"])
        }
    }
}

/// The handle of a cleanup started with ``SessionStore/startCleanup(interval:)``.
public struct CleanupTask: Sendable {
    let task: Task<Void, Never>

    /// Asks the cleanup to stop; it stops at its next pause or between two batches.
    public func cancel() { task.cancel() }

    /// Stops the cleanup and waits until it has stopped.
    public func stop() async {
        task.cancel()
        await task.value
    }

    /// Waits until the cleanup has stopped (after ``cancel()``).
    public var value: Void { get async { await task.value } }

    /// Whether ``cancel()`` was called.
    public var isCancelled: Bool { task.isCancelled }
}
