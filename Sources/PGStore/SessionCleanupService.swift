public import ServiceLifecycle

/// Runs a store's cleanup as a swift-service-lifecycle `Service`, so it starts and stops with the
/// rest of the application inside a `ServiceGroup` (and stops on graceful shutdown).
public struct SessionCleanupService: Service {
    private let store: SessionStore
    private let interval: Duration

    /// - Parameters:
    ///   - store: the store whose expired rows are deleted.
    ///   - interval: the pause between runs. Default 5 minutes.
    public init(store: SessionStore, interval: Duration = .seconds(300)) {
        self.store = store
        self.interval = interval
    }

    /// Deletes expired rows every `interval` until graceful shutdown or cancellation. Should the
    /// store's pool be closed first, the deleting stops and the service waits for the shutdown.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await store.runCleanup(interval: interval)
        }
        // The cleanup also ends when the pool was closed under it. A service that returns makes
        // its ServiceGroup cancel every other service (by default), so it waits for the group's
        // shutdown instead of ending the application. After a shutdown or a cancellation this
        // returns at once.
        try? await gracefulShutdown()
    }
}
